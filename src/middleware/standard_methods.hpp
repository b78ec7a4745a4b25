#pragma once
// HTTP's standard methods: RFC 9110's and PATCH (RFC 5789). Routing treats them as known to the
// server (405 where a resource lacks one, 501 for any other method no route names); request
// metrics label them by name and every other method "_OTHER" (OpenTelemetry's known methods).

#include <array>
#include <cstddef>
#include <string_view>

namespace harrier::detail {

inline constexpr std::array<std::string_view, 9> k_standard_methods = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"};

// The method's index in k_standard_methods; k_standard_methods.size() for any other method.
constexpr std::size_t standard_method_index(std::string_view method) noexcept {
  std::size_t i = 0;
  while (i < k_standard_methods.size() && k_standard_methods[i] != method)
    ++i;
  return i;
}

}  // namespace harrier::detail
