#include "middleware/mime_types.hpp"

#include <array>
#include <cctype>
#include <utility>

namespace harrier::detail {
namespace {

// Sorted by extension for binary search. The common web types; extend as needed.
constexpr std::array<std::pair<std::string_view, std::string_view>, 40> k_types{{
    {"avif", "image/avif"},
    {"bmp", "image/bmp"},
    {"css", "text/css; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", "text/html; charset=utf-8"},
    {"html", "text/html; charset=utf-8"},
    {"ico", "image/x-icon"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"md", "text/markdown; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain; charset=utf-8"},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xml", "application/xml"},
    {"yaml", "application/yaml"},
    {"zip", "application/zip"},
}};

static_assert(
    [] {
      for (std::size_t i = 1; i < k_types.size(); ++i) {
        if (!(k_types[i - 1].first < k_types[i].first)) return false;
      }
      return true;
    }(),
    "k_types must stay sorted by extension");

}  // namespace

std::string_view content_type_for(std::string_view file_name) noexcept {
  const std::size_t dot = file_name.rfind('.');
  const std::size_t slash = file_name.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "application/octet-stream";
  }
  const std::string_view ext = file_name.substr(dot + 1);
  if (ext.empty() || ext.size() > 16) return "application/octet-stream";
  char lower[16];
  for (std::size_t i = 0; i < ext.size(); ++i) {
    lower[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(ext[i])));
  }
  const std::string_view key(lower, ext.size());
  std::size_t lo = 0, hi = k_types.size();
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    if (k_types[mid].first < key) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo < k_types.size() && k_types[lo].first == key) return k_types[lo].second;
  return "application/octet-stream";
}

bool is_compressible(std::string_view content_type) noexcept {
  const std::string_view type = content_type.substr(0, content_type.find(';'));
  if (type.substr(0, 5) == "text/") return true;
  return type == "application/json" || type == "application/javascript" ||
         type == "application/xml" || type == "image/svg+xml" ||
         type == "application/manifest+json" || type == "application/problem+json" ||
         type == "application/yaml" || type == "application/wasm";
}

}  // namespace harrier::detail
