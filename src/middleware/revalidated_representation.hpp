#pragma once
// What a handler answering 304 knows of the representation its 200 would carry, for middleware
// that shapes that 200 (response_compression: Vary and the ETag's form, which RFC 9110 15.4.5
// requires on the 304 as well). A 304 has no Content-Type or body, so without this note the
// compression middleware cannot tell whether the 200 would vary by Accept-Encoding. Left in the
// context's items under k_revalidated_representation_item by the static-file sender.

#include <cstdint>
#include <string>

namespace harrier::detail {

struct revalidated_representation {
  std::string content_type;
  std::uint64_t length = 0;
};

inline constexpr const char* k_revalidated_representation_item =
    "harrier.revalidated_representation";

}  // namespace harrier::detail
