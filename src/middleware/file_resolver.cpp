#include "middleware/file_resolver.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

namespace harrier::detail {
namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_inside(const std::string& root, const std::string& candidate) {
  if (candidate.size() < root.size() || candidate.compare(0, root.size(), root) != 0) return false;
  return candidate.size() == root.size() || root.back() == '/' || candidate[root.size()] == '/';
}

std::optional<resolved_file> regular_file(const std::string& root, const std::string& path) {
  char real[PATH_MAX];
  if (::realpath(path.c_str(), real) == nullptr) return std::nullopt;
  const std::string real_path(real);
  if (!is_inside(root, real_path)) return std::nullopt;  // a symlink that leads out of the root
  struct stat st {};
  if (::stat(real, &st) != 0) return std::nullopt;
  if (S_ISDIR(st.st_mode)) return std::nullopt;
  if (!S_ISREG(st.st_mode)) return std::nullopt;
  return resolved_file{
      real_path, static_cast<std::uint64_t>(st.st_size),
      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = hex_value(text[i + 1]);
    const int lo = hex_value(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::optional<resolved_file> resolve_static_file(const std::filesystem::path& root,
                                                 std::string_view request_path) {
  const auto decoded = percent_decode(request_path);
  if (!decoded) return std::nullopt;
  std::string relative;
  std::string_view rest = *decoded;
  while (!rest.empty()) {
    const std::size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (segment.empty()) continue;
    if (segment == "." || segment == "..") return std::nullopt;
    for (char c : segment) {
      if (c == '\0' || c == '\\') return std::nullopt;
    }
    relative += '/';
    relative += segment;
  }
  const std::string root_text = root.string();
  const std::string candidate = root_text + relative;
  struct stat st {};
  if (::stat(candidate.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return regular_file(root_text, candidate + "/index.html");
  }
  return regular_file(root_text, candidate);
}

}  // namespace harrier::detail
