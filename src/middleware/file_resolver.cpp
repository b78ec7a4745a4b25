#include "middleware/file_resolver.hpp"

#include <harrier/http/request.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

namespace harrier::detail {
namespace {

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

std::optional<resolved_file> resolve_static_file(const std::filesystem::path& root,
                                                 std::string_view request_path) {
  // Segment by segment, split before decoding: a %2F is a slash inside a name, which no file
  // has, so it is not found (Apache's default; ASP.NET Core keeps %2F encoded in the path). It
  // was decoded into a separator: /static/sub%2Fa.txt served sub/a.txt.
  std::string relative;
  std::string segment;
  std::string_view rest = request_path;
  while (!rest.empty()) {
    const std::size_t slash = rest.find('/');
    const std::string_view raw = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    segment.clear();
    if (!http::percent_decode(raw, segment)) return std::nullopt;
    if (segment.empty()) continue;
    if (segment == "." || segment == "..") return std::nullopt;
    for (char c : segment) {
      if (c == '\0' || c == '\\' || c == '/') return std::nullopt;
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
  // "/f.txt/" names a directory that is not there, not the file f.txt (as nginx answers 404);
  // serving the file would also resolve its relative links against the wrong base.
  if (!request_path.empty() && request_path.back() == '/') return std::nullopt;
  return regular_file(root_text, candidate);
}

}  // namespace harrier::detail
