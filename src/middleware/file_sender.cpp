#include "middleware/file_sender.hpp"

#include <harrier/middleware/context.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>

#include "middleware/http_preconditions.hpp"
#include "middleware/mime_types.hpp"
#include "middleware/revalidated_representation.hpp"

namespace harrier::detail {
namespace {

class file_descriptor {
 public:
  explicit file_descriptor(int fd) noexcept : m_fd(fd) {}
  ~file_descriptor() {
    if (m_fd >= 0) ::close(m_fd);
  }
  file_descriptor(const file_descriptor&) = delete;
  file_descriptor& operator=(const file_descriptor&) = delete;
  int get() const noexcept { return m_fd; }

 private:
  int m_fd;
};

}  // namespace

task<void> send_file(context& ctx, const resolved_file& file, std::string_view content_type) {
  http::request& req = ctx.request();
  http::response& res = ctx.response();
  const std::string etag = make_etag(file.size, file.mtime_ns);
  // Last-Modified is the file's time, but never later than the Date this response carries (RFC
  // 9110 8.8.2.1: an origin MUST NOT send one later than its Date, and sends the Date instead):
  // a file written in the Date cache's second, or dated in the future, gets the Date.
  const std::int64_t file_seconds = file.mtime_ns / 1'000'000'000;
  const std::int64_t date_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(res.date().time_since_epoch()).count();
  const std::int64_t modified = std::min(file_seconds, date_seconds);
  const std::string last_modified = format_http_date(modified);
  // A date names a whole second: as a validator it is strong only once that second is over, so
  // that the file cannot have changed twice within it (8.8.2.2).
  const bool modified_is_strong = file_seconds < date_seconds;
  const std::string_view type =
      content_type.empty() ? content_type_for(file.path.native()) : content_type;

  std::string if_match_lines;
  std::string if_none_match_lines;
  const conditional_headers conditions{
      req.headers().find_list("If-Match", if_match_lines).value_or(""),
      req.headers().find_list("If-None-Match", if_none_match_lines).value_or(""),
      req.header("If-Modified-Since").value_or(""), req.header("If-Unmodified-Since").value_or("")};
  const bool get_or_head = req.method() == "GET" || req.method() == "HEAD";
  switch (evaluate_preconditions(conditions, validators{etag, modified}, get_or_head)) {
    case precondition::not_modified:
      ctx.item(k_revalidated_representation_item) =
          revalidated_representation{std::string(type), file.size};
      res.set_status(304);
      res.add_header("ETag", etag);
      res.add_header("Last-Modified", last_modified);
      co_await res.end();
      co_return;
    case precondition::precondition_failed:
      co_await res.send(412, "text/plain; charset=utf-8", "Precondition Failed");
      co_return;
    case precondition::proceed:
      break;
  }

  byte_range range{0, file.size == 0 ? 0 : file.size - 1};
  bool partial = false;
  // RFC 9110 14.2: range handling is defined for GET only, and a server MUST ignore Range on
  // any other method: a HEAD gets the 200's headers (as ASP.NET Core's static files answer).
  if (auto header = req.header("Range"); header && req.method() == "GET") {
    // If-Range: the range applies only if the validator still matches (strong comparison; a date
    // only while it is a strong validator, RFC 9110 13.1.5).
    const auto if_range = req.header("If-Range");
    const bool range_applies =
        !if_range || (if_range->find('"') != std::string_view::npos
                          ? strong_match(*if_range, etag)
                          : modified_is_strong && parse_http_date(*if_range) ==
                                                      std::optional<std::int64_t>(modified));
    if (range_applies) {
      switch (parse_range(*header, file.size, range)) {
        case range_outcome::unsatisfiable:
          res.set_status(416);
          res.add_header("Content-Range", fmt::format("bytes */{}", file.size));
          co_await res.end();
          co_return;
        case range_outcome::partial:
          partial = true;
          break;
        case range_outcome::full:
          range = byte_range{0, file.size == 0 ? 0 : file.size - 1};
          break;
      }
    }
  }

  const std::uint64_t length = file.size == 0 ? 0 : range.length();
  res.set_status(partial ? 206 : 200);
  res.set_content_type(type);
  res.add_header("ETag", etag);
  res.add_header("Last-Modified", last_modified);
  res.add_header("Accept-Ranges", "bytes");
  if (partial) {
    res.add_header("Content-Range",
                   fmt::format("bytes {}-{}/{}", range.first, range.last, file.size));
  }
  res.set_content_length(length);
  if (req.is_head() || length == 0) {
    co_await res.end();
    co_return;
  }

  file_descriptor fd(::open(file.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    throw std::system_error(errno, std::generic_category(),
                            fmt::format("cannot open {}", file.path.native()));
  }
  // sendfile for large bodies, one copy (leaving with the head) for small ones: write_file picks.
  co_await res.write_file(fd.get(), range.first, length);
  co_await res.end();
}

}  // namespace harrier::detail
