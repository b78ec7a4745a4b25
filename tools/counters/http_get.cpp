// http_get: connect with a deadline, send one GET, read one response, close.
//
// Why not a library: the tool must add no dependency, and it needs only the simplest exchange
// (one GET per connection, `Connection: close`). Every blocking step (connect, send, recv) waits in
// poll() for at most the time left before the one deadline, so an unresponsive server costs
// `timeout` and never hangs the tool. The socket is non-blocking throughout; EINTR retries.

#include "http_get.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>

#include <fmt/format.h>

namespace harrier::tools {

namespace {

using clock = std::chrono::steady_clock;

// Limits that keep a misbehaving server from exhausting memory; a harrier snapshot is a few KiB.
constexpr std::size_t k_max_head_bytes = 64 * 1024;
constexpr std::size_t k_max_body_bytes = 64 * 1024 * 1024;

std::string lower_first(std::string text) {
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] + 32);
  return text;
}

std::string errno_text(int error) {
  return lower_first(std::strerror(error));
}

class socket_fd {
 public:
  explicit socket_fd(int fd) : m_fd(fd) {}
  socket_fd(const socket_fd&) = delete;
  socket_fd& operator=(const socket_fd&) = delete;
  ~socket_fd() {
    if (m_fd >= 0) ::close(m_fd);
  }
  int get() const { return m_fd; }

 private:
  int m_fd;
};

// One exchange: the URL for messages, the socket, and the deadline every wait respects.
class exchange {
 public:
  exchange(const base_url& url, clock::time_point deadline, std::chrono::milliseconds timeout)
      : m_url(url), m_deadline(deadline), m_timeout(timeout) {}

  [[noreturn]] void fail(std::string_view why) const {
    throw fetch_error(fmt::format("cannot reach {}: {}", m_url.text, why));
  }

  // Waits until fd is ready for `events` or the deadline passes (then fails with a timeout).
  void wait(int fd, short events) const {
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(m_deadline - clock::now());
      if (left.count() <= 0) fail(fmt::format("no answer within {} ms", m_timeout.count()));
      pollfd p{fd, events, 0};
      const int n = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
      if (n > 0) return;
      if (n < 0 && errno != EINTR) fail(errno_text(errno));
    }
  }

  // Connects a non-blocking socket to one address; returns -1 (and the errno) when refused.
  int try_connect(int family, const sockaddr* address, socklen_t length, int& error) const {
    const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) fail(errno_text(errno));
    if (::connect(fd, address, length) == 0) return fd;
    if (errno != EINPROGRESS) {
      error = errno;
      ::close(fd);
      return -1;
    }
    try {
      wait(fd, POLLOUT);
    } catch (...) {
      ::close(fd);
      throw;
    }
    socklen_t size = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
    if (error == 0) return fd;
    ::close(fd);
    return -1;
  }

  int connect() const {
    int error = 0;
    if (!m_url.unix_path.empty()) {
      sockaddr_un address{};
      address.sun_family = AF_UNIX;
      if (m_url.unix_path.size() >= sizeof address.sun_path) fail("Unix socket path too long");
      std::memcpy(address.sun_path, m_url.unix_path.c_str(), m_url.unix_path.size() + 1);
      const int fd =
          try_connect(AF_UNIX, reinterpret_cast<const sockaddr*>(&address), sizeof address, error);
      if (fd < 0) fail(errno_text(error));
      return fd;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (const int rc = ::getaddrinfo(m_url.host.c_str(), m_url.port.c_str(), &hints, &found);
        rc != 0) {
      fail(fmt::format("cannot resolve host '{}': {}", m_url.host, lower_first(gai_strerror(rc))));
    }
    int fd = -1;
    for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next)
      fd = try_connect(a->ai_family, a->ai_addr, a->ai_addrlen, error);
    ::freeaddrinfo(found);
    if (fd < 0) fail(errno_text(error));
    return fd;
  }

  void send_all(int fd, std::string_view data) const {
    while (!data.empty()) {
      const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n >= 0) {
        data.remove_prefix(static_cast<std::size_t>(n));
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        wait(fd, POLLOUT);
      } else if (errno != EINTR) {
        fail(errno_text(errno));
      }
    }
  }

  // Appends what arrives to `buffer`; returns false at the peer's close.
  bool receive_some(int fd, std::string& buffer) const {
    char chunk[16 * 1024];
    for (;;) {
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n > 0) {
        buffer.append(chunk, static_cast<std::size_t>(n));
        return true;
      }
      if (n == 0) return false;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        wait(fd, POLLIN);
      } else if (errno != EINTR) {
        fail(errno_text(errno));
      }
    }
  }

 private:
  const base_url& m_url;
  clock::time_point m_deadline;
  std::chrono::milliseconds m_timeout;
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

template <typename Int>
std::optional<Int> parse_int(std::string_view text, int base = 10) {
  Int value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// Decodes a complete chunked body from `raw`; returns nullopt while more bytes are needed.
std::optional<std::string> decode_chunked(std::string_view raw, const exchange& ex) {
  std::string body;
  for (;;) {
    const std::size_t line_end = raw.find("\r\n");
    if (line_end == std::string_view::npos) return std::nullopt;
    const std::string_view size_text = trim(raw.substr(0, raw.find_first_of(";\r")));
    const auto size = parse_int<std::size_t>(size_text, 16);
    if (!size) ex.fail(fmt::format("bad chunk size '{}' in the response", size_text));
    if (*size > k_max_body_bytes) ex.fail("response body too large");
    raw.remove_prefix(line_end + 2);
    if (*size == 0) return body;  // trailers, if any, are not needed
    if (raw.size() < *size + 2) return std::nullopt;
    body.append(raw.substr(0, *size));
    raw.remove_prefix(*size + 2);
  }
}

}  // namespace

base_url parse_base_url(std::string_view text) {
  constexpr std::string_view k_scheme = "http://";
  if (!text.starts_with(k_scheme)) {
    throw std::invalid_argument(fmt::format(
        "bad URL '{}': expected http://HOST:PORT or http://unix:/PATH (only http:// is supported)",
        text));
  }
  std::string_view rest = text.substr(k_scheme.size());
  while (!rest.empty() && rest.back() == '/')
    rest.remove_suffix(1);
  base_url url;
  url.text = fmt::format("{}{}", k_scheme, rest);
  if (rest.substr(0, 5) == "unix:") {
    url.unix_path = std::string(rest.substr(5));
    if (url.unix_path.empty() || url.unix_path[0] != '/')
      throw std::invalid_argument(
          fmt::format("bad URL '{}': expected an absolute socket path after http://unix:", text));
    url.host = "localhost";
    return url;
  }
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) url.path_prefix = std::string(rest.substr(slash));
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos)
      throw std::invalid_argument(fmt::format("bad URL '{}': unclosed '[' in the host", text));
    url.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':')
        throw std::invalid_argument(fmt::format("bad URL '{}': expected ':' after ']'", text));
      port = authority.substr(close + 2);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (url.host.empty()) throw std::invalid_argument(fmt::format("bad URL '{}': no host", text));
  if (!port.empty()) {
    const auto number = parse_int<unsigned>(port);
    if (!number || *number == 0 || *number > 65535)
      throw std::invalid_argument(
          fmt::format("bad URL '{}': port '{}' is not a number in 1..65535", text, port));
    url.port = std::string(port);
  }
  return url;
}

http_response http_get(const base_url& url, std::string_view path,
                       std::chrono::milliseconds timeout) {
  const exchange ex(url, clock::now() + timeout, timeout);
  const socket_fd fd(ex.connect());
  const bool ipv6 = url.host.find(':') != std::string::npos;
  std::string host = url.host;  // a Unix socket's Host is "localhost"
  if (url.unix_path.empty())
    host = ipv6 ? fmt::format("[{}]:{}", host, url.port) : host + ":" + url.port;
  ex.send_all(fd.get(), fmt::format("GET {}{} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n"
                                    "User-Agent: harrier-counters\r\nConnection: close\r\n\r\n",
                                    url.path_prefix, path, host));

  std::string buffer;
  std::size_t head_end = std::string::npos;
  while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
    if (buffer.size() > k_max_head_bytes) ex.fail("response head too large");
    if (!ex.receive_some(fd.get(), buffer))
      ex.fail(buffer.empty() ? "the server closed the connection without answering"
                             : "the server closed the connection inside the response head");
  }

  http_response response;
  const std::string_view head = std::string_view(buffer).substr(0, head_end);
  const std::string_view status_line = head.substr(0, head.find("\r\n"));
  // "HTTP/1.1 200 OK"
  if (status_line.substr(0, 5) != "HTTP/" || status_line.size() < 12)
    ex.fail(fmt::format("not an HTTP response: '{}'", status_line.substr(0, 80)));
  const auto status = parse_int<int>(status_line.substr(9, 3));
  if (!status) ex.fail(fmt::format("bad status line '{}'", status_line));
  response.status = *status;
  response.reason =
      std::string(trim(status_line.substr(std::min<std::size_t>(12, status_line.size()))));

  std::optional<std::size_t> content_length;
  bool chunked = false;
  std::string_view headers = head.substr(std::min(head.size(), status_line.size() + 2));
  while (!headers.empty()) {
    const std::size_t end = headers.find("\r\n");
    const std::string_view line = headers.substr(0, end);
    headers = end == std::string_view::npos ? std::string_view{} : headers.substr(end + 2);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "Content-Length")) {
      content_length = parse_int<std::size_t>(value);
      if (!content_length) ex.fail(fmt::format("bad Content-Length '{}'", value));
    } else if (iequals(name, "Transfer-Encoding")) {
      chunked = value.size() >= 7 && iequals(value.substr(value.size() - 7), "chunked");
    }
  }

  std::string raw = buffer.substr(head_end + 4);
  if (chunked) {
    for (;;) {
      if (auto body = decode_chunked(raw, ex)) {
        response.body = std::move(*body);
        return response;
      }
      if (raw.size() > k_max_body_bytes) ex.fail("response body too large");
      if (!ex.receive_some(fd.get(), raw))
        ex.fail("the server closed the connection inside a chunk");
    }
  }
  if (content_length) {
    if (*content_length > k_max_body_bytes) ex.fail("response body too large");
    while (raw.size() < *content_length) {
      if (!ex.receive_some(fd.get(), raw))
        ex.fail("the server closed the connection inside the body");
    }
    raw.resize(*content_length);
    response.body = std::move(raw);
    return response;
  }
  while (ex.receive_some(fd.get(), raw)) {
    if (raw.size() > k_max_body_bytes) ex.fail("response body too large");
  }
  response.body = std::move(raw);
  return response;
}

}  // namespace harrier::tools
