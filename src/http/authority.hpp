#pragma once
// The authority of a request (RFC 9112 section 3.2): the Host header's value, or the one an
// absolute-form target carries, which replaces it (section 3.2.2).

#include <string_view>

namespace harrier::http::detail {

// uri-host [ ":" port ] (RFC 3986 section 3.2.2): a reg-name (unreserved, sub-delims and
// percent-encoded bytes), an IPv4 address (a reg-name's subset) or a bracketed IP literal,
// optionally followed by ':' and digits. Empty is invalid here: an http URI with an empty host
// is refused (RFC 9110 section 4.2.1), though an empty Host header is not (the caller's case:
// RFC 9112 section 3.2). A Host that is not valid gets 400; so does userinfo ('@').
bool valid_authority(std::string_view value) noexcept;

}  // namespace harrier::http::detail
