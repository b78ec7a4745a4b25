#include <harrier/http/rejection.hpp>
#include <harrier/middleware/endpoint.hpp>

#include <fmt/format.h>

#include "middleware/json_text.hpp"

#include <cctype>
#include <string>
#include <typeinfo>
#include <utility>

namespace harrier::detail {

void throw_binding_error(std::string_view source, std::string_view name, std::string_view value,
                         std::string_view expected) {
  throw http_error(400, "Bad Request",
                   fmt::format("{} \"{}\" = \"{}\" is not {}", source, name, value, expected));
}

void throw_missing(std::string_view source, std::string_view name) {
  throw http_error(400, "Bad Request",
                   fmt::format("the required {} \"{}\" is missing", source, name));
}

std::string_view type_description(const std::type_info& type) {
  if (type == typeid(bool)) return "a boolean (true or false)";
  if (type == typeid(float) || type == typeid(double) || type == typeid(long double)) {
    return "a number";
  }
  return "an integer in range";
}

task<nlohmann::json> read_json_body(context& ctx) {
  http::request& req = ctx.request();
  const std::string_view type = req.header("Content-Type").value_or("");
  const std::string_view media = type.substr(0, type.find(';'));
  std::string lower;
  for (char c : media) {
    if (c != ' ') lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  const bool is_json = lower == "application/json" ||
                       (lower.size() > 5 && lower.compare(lower.size() - 5, 5, "+json") == 0);
  if (!is_json) {
    throw http_error(415, "Unsupported Media Type",
                     fmt::format("expected a JSON body (Content-Type: application/json), got "
                                 "\"{}\"",
                                 type.empty() ? "no Content-Type" : type));
  }
  std::string body;
  try {
    // The server's max_request_body_bytes already bounds what reaches here; read_all's own limit
    // is a second guard for servers configured without one.
    body = co_await req.body().read_all(30'000'000);
  } catch (const http::bad_request& e) {
    if (e.status() == 413) {
      throw http_error(413, "Content Too Large", "the JSON body is larger than the limit");
    }
    throw;
  }
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    // Parse again with exceptions to learn where it failed (only on the error path).
    try {
      const nlohmann::json reparsed = nlohmann::json::parse(body);
      static_cast<void>(reparsed);
    } catch (const nlohmann::json::parse_error& e) {
      throw http_error(400, "Bad Request", fmt::format("the body is not valid JSON: {}", e.what()),
                       nlohmann::json{{"position", e.byte}});
    }
  }
  co_return doc;
}

void throw_json_shape_error(const std::exception& e, const std::type_info&) {
  throw http_error(400, "Bad Request",
                   fmt::format("the JSON body does not have the expected shape: {}", e.what()));
}

task<void> write_text(context& ctx, std::string_view text) {
  return ctx.response().send(200, http::header_literal("text/plain; charset=utf-8"), text);
}

namespace {
constexpr http::header_literal k_json_type("application/json; charset=utf-8");

// Keeps a document past the response buffer alive while response::send writes it out (the
// status and the type are set already).
task<void> send_owned(http::response& res, std::string body) {
  co_await res.send(res.status(), {}, body);
}
}  // namespace

// Not a coroutine: a small document is buffered here and end() is the only frame, as in
// response::send (callgrind, /json: 10,660 -> 10,429 instructions per request); a large one
// goes through response::send itself, in a frame that owns the text.
//
// The text is built in a per-thread buffer that keeps its capacity, so a small document costs no
// allocation (callgrind, /json: a malloc and a free fewer, 10,546 -> 10,143 instructions a
// request). try_write copies it into the response; a large one leaves with its buffer, which the
// next document grows again (no thread keeps a large document's capacity).
task<void> write_json(context& ctx, const nlohmann::json& value) {
  thread_local std::string t_text;
  t_text.clear();
  append_json_text(t_text, value);
  http::response& res = ctx.response();
  res.set_status(200);
  res.set_content_type(k_json_type);
  if (res.try_write(std::string_view(t_text))) return res.end();
  return send_owned(res, std::exchange(t_text, std::string()));
}

namespace {
// nlohmann's destructor takes an object's members apart through a std::vector it allocates (so
// that a deep document does not recurse). A document whose members hold no object or array has
// nothing to recurse into: clearing its map first destroys the same members without that vector
// (a malloc and a free fewer per /json request; callgrind, /json: 9,199 -> 9,033 instructions).
void release_flat(nlohmann::json& value) noexcept {
  if (!value.is_object()) return;
  auto& members = value.get_ref<nlohmann::json::object_t&>();
  for (const auto& member : members) {
    if (member.second.is_structured()) return;
  }
  members.clear();
}
}  // namespace

// write_json serializes at once, so `value` may go when it returns.
task<void> write_owned_json(context& ctx, nlohmann::json& value) {
  task<void> written = write_json(ctx, value);
  release_flat(value);
  return written;
}

task<void> write_converted_json(context& ctx, nlohmann::json value) {
  return write_owned_json(ctx, value);
}

task<void> write_status(context& ctx, int status) {
  http::response& res = ctx.response();
  res.set_status(status);
  res.set_content_length(0);
  co_await res.end();
}

task<void> finish_empty(context& ctx) {
  http::response& res = ctx.response();
  if (!res.has_started() && !res.has_ended() && res.body_bytes() == 0) res.set_content_length(0);
  co_await res.end();
}

}  // namespace harrier::detail
