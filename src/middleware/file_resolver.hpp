#pragma once
// Maps a request path to a file under a content root, refusing every way out of the root
// (internal; used by the static-file middleware).
//
// The path is percent-decoded exactly once, then split on '/'. Refused (nullopt, which the
// middleware turns into 404, never 403, so probing learns nothing):
// - malformed percent-encoding, NUL, backslash (a Windows separator), and the segments "." and
//   ".." in any spelling (so "%2e%2e" is refused after decoding);
// - a file whose real path (symlinks resolved) is not inside the real content root;
// - anything that is not a regular file after an index.html lookup for directories.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace harrier::detail {

struct resolved_file {
  std::filesystem::path path;  // real path, inside the root
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;  // last modification, nanoseconds since the epoch
};

// `root` must be a canonical (real) directory path.
std::optional<resolved_file> resolve_static_file(const std::filesystem::path& root,
                                                 std::string_view request_path);

}  // namespace harrier::detail
