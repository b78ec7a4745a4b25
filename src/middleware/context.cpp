#include <harrier/middleware/context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>

namespace harrier {
namespace {

// A per-thread generator seeded once from the OS: trace ids need uniqueness, not secrecy.
std::uint64_t next_random() {
  thread_local std::mt19937_64 engine{
      std::random_device{}() ^
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  return engine();
}

}  // namespace

std::optional<std::string> context::route_value(std::string_view name) const {
  const route_values& values = route_parameters();
  if (!values.contains(name)) return std::nullopt;
  return http::percent_decode_lenient(values.get(name));
}

std::optional<std::string> context::query(std::string_view name) const {
  auto raw = http::find_query_parameter(m_request.query(), name);
  if (!raw) return std::nullopt;
  return http::percent_decode_lenient(*raw, /*plus_as_space=*/true);
}

context::forwarded_values& context::forwarded() {
  if (!m_forwarded) {
    m_forwarded.emplace();
    m_forwarded->remote_address = m_request.connection().remote_address;
    m_forwarded->remote_port = m_request.connection().remote_port;
    m_forwarded->scheme = "http";
    m_forwarded->host = m_request.header("Host").value_or(std::string_view{});
  }
  return *m_forwarded;
}

std::optional<context::original_values> context::forwarded_original() const noexcept {
  if (!m_forwarded) return std::nullopt;
  return original_values{m_request.connection().remote_address, m_request.connection().remote_port,
                         "http", m_request.header("Host").value_or(std::string_view{})};
}

void context::set_remote(std::string_view address, std::uint16_t port) {
  forwarded_values& f = forwarded();
  f.remote_address = address;
  f.remote_port = port;
}

void context::set_scheme(std::string_view scheme) {
  forwarded().scheme = scheme;
}

void context::set_host(std::string_view host) {
  forwarded().host = host;
}

std::string_view context::trace_id() {
  if (m_trace_id.empty()) {
    static constexpr char k_hex[] = "0123456789abcdef";
    m_trace_id.resize(32);
    for (int half = 0; half < 2; ++half) {
      std::uint64_t bits = next_random();
      for (int i = 0; i < 16; ++i, bits >>= 4) {
        m_trace_id[static_cast<std::size_t>(half * 16 + i)] = k_hex[bits & 0xf];
      }
    }
  }
  return m_trace_id;
}

}  // namespace harrier
