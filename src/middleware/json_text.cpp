// json_text: compact JSON text for a response body, byte for byte what nlohmann's dump() writes.
//
// Why not dump(): its serializer writes through a virtual output adapter and runs a UTF-8
// decoder over every byte of every string. For the small documents a handler returns that was
// ~3,000 of the ~15,400 instructions of a whole /json request (callgrind). This walks the
// document itself and copies the common cases directly:
// - null, booleans and integers, written here;
// - strings and keys of printable ASCII without '"' or '\', copied between quotes;
// - objects and arrays, recursively (objects in the map's order, as dump() writes them).
// Everything else (a string with escapes, control characters or UTF-8, floating point numbers,
// binary values) is written by dump() for that value alone, so its escaping and its number
// format stay exactly nlohmann's. A string that is not UTF-8 (a handler that echoes a query
// value it was sent as %ff) has each invalid byte replaced with U+FFFD, as Go's encoding/json
// does, instead of dump()'s exception: that became a 500 and an error line per request, for
// any client to send.

#include "middleware/json_text.hpp"

#include <array>
#include <charconv>
#include <cstring>

namespace harrier::detail {
namespace {

// Bytes that a JSON string holds as they are: printable ASCII except '"' and '\\'.
constexpr std::array<bool, 256> k_plain_bytes = [] {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c <= 0x7e; ++c)
    plain[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
  return plain;
}();

// A table and no early exit: one load and one OR per byte, against four compares and a branch
// (a document's strings are short and nearly always plain).
bool plain_ascii(std::string_view s) noexcept {
  bool plain = true;
  for (const char c : s)
    plain &= k_plain_bytes[static_cast<unsigned char>(c)];
  return plain;
}

// Appends s between quotes, then `tail` unless it is '\0', with one resize rather than an
// `out +=` (and its capacity check) per piece; false when dump() must write it. With the table:
// callgrind, /json, 10,143 -> 9,998 instructions a request.
bool append_plain_string(std::string& out, std::string_view s, char tail = '\0') {
  if (!plain_ascii(s)) return false;
  const std::size_t at = out.size();
  out.resize(at + s.size() + (tail == '\0' ? 2 : 3));
  char* p = out.data() + at;
  *p++ = '"';
  std::memcpy(p, s.data(), s.size());
  p += s.size();
  *p++ = '"';
  if (tail != '\0') *p = tail;
  return true;
}

std::string dump_replacing(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

template <typename Integer>
void append_integer(std::string& out, Integer value) {
  char digits[24];
  const auto r = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, r.ptr);
}

void append_value(std::string& out, const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      out += "null";
      return;
    case nlohmann::json::value_t::boolean:
      out += value.get_ref<const nlohmann::json::boolean_t&>() ? "true" : "false";
      return;
    case nlohmann::json::value_t::number_integer:
      append_integer(out, value.get_ref<const nlohmann::json::number_integer_t&>());
      return;
    case nlohmann::json::value_t::number_unsigned:
      append_integer(out, value.get_ref<const nlohmann::json::number_unsigned_t&>());
      return;
    case nlohmann::json::value_t::string:
      if (append_plain_string(out, value.get_ref<const nlohmann::json::string_t&>())) return;
      break;
    case nlohmann::json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, member] : value.get_ref<const nlohmann::json::object_t&>()) {
        if (!first) out += ',';
        first = false;
        if (!append_plain_string(out, key, ':')) {
          out += dump_replacing(nlohmann::json(key));
          out += ':';
        }
        append_value(out, member);
      }
      out += '}';
      return;
    }
    case nlohmann::json::value_t::array: {
      out += '[';
      bool first = true;
      for (const nlohmann::json& element : value) {
        if (!first) out += ',';
        first = false;
        append_value(out, element);
      }
      out += ']';
      return;
    }
    default:  // floating point, binary, discarded
      break;
  }
  out += dump_replacing(value);
}

}  // namespace

std::string json_text(const nlohmann::json& value) {
  std::string out;
  out.reserve(64);
  append_value(out, value);
  return out;
}

void append_json_text(std::string& out, const nlohmann::json& value) {
  append_value(out, value);
}

}  // namespace harrier::detail
