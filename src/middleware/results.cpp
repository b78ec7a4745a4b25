#include <harrier/http/response.hpp>
#include <harrier/middleware/context.hpp>
#include <harrier/middleware/results.hpp>

#include <fmt/format.h>

#include <system_error>

#include "middleware/file_resolver.hpp"
#include "middleware/file_sender.hpp"
#include "middleware/json_text.hpp"

namespace harrier {

constexpr http::header_literal k_literal_content_types[] = {
    http::header_literal("text/plain; charset=utf-8"),
    http::header_literal("application/json; charset=utf-8"),
    http::header_literal("application/problem+json")};

struct results_access {
  static void set_content_type(result& r, std::string_view content_type) {
    for (const http::header_literal& literal : k_literal_content_types) {
      if (content_type == literal.value()) {
        r.m_literal_content_type = &literal;
        return;
      }
    }
    r.m_content_type.assign(content_type);
  }
  static result make(int status, std::string_view content_type, std::string body) {
    result r;
    r.m_status = status;
    set_content_type(r, content_type);
    r.m_body = std::move(body);
    return r;
  }
  static result& problem(result& r) {
    r.m_problem = true;
    return r;
  }
  static result file(std::filesystem::path path, std::string content_type) {
    result r;
    r.m_kind = result::kind::file;
    r.m_path = std::move(path);
    set_content_type(r, content_type);
    return r;
  }
  static result stream(std::string content_type, std::function<task<void>(http::response&)> w) {
    result r;
    r.m_kind = result::kind::stream;
    set_content_type(r, content_type);
    r.m_stream = std::move(w);
    return r;
  }
};

std::string_view problem_title(int status) noexcept {
  // ASP.NET Core's title for 500; the reason phrase for the rest.
  if (status == 500) return "An error occurred while processing your request.";
  return http::reason_phrase(status);
}

std::string_view result::content_type() const noexcept {
  return m_literal_content_type != nullptr ? m_literal_content_type->value()
                                           : std::string_view(m_content_type);
}

result&& result::with_header(std::string name, std::string value) && {
  m_headers.emplace_back(std::move(name), std::move(value));
  return std::move(*this);
}

result& result::with_header(std::string name, std::string value) & {
  m_headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

// Not a coroutine for a plain body (the common case): response::send takes a body that fits the
// response buffer at once, and end() is the only frame. Files, streams and problem documents go
// on in execute_other().
task<void> result::execute(context& ctx) const {
  if (m_kind != kind::body || m_problem) return execute_other(ctx);
  http::response& res = ctx.response();
  for (const auto& [name, value] : m_headers)
    res.add_header(name, value);
  res.set_content_length(m_body.size());
  if (m_literal_content_type != nullptr) return res.send(m_status, *m_literal_content_type, m_body);
  return res.send(m_status, content_type(), m_body);
}

task<void> result::execute_other(context& ctx) const {
  http::response& res = ctx.response();
  if (m_kind == kind::file) {
    const std::filesystem::path dir = m_path.parent_path().empty() ? "." : m_path.parent_path();
    std::error_code ec;
    const auto root = std::filesystem::canonical(dir, ec);
    auto file =
        ec ? std::nullopt : detail::resolve_static_file(root, "/" + m_path.filename().string());
    if (!file) {
      co_await results::not_found().execute(ctx);
      co_return;
    }
    for (const auto& [name, value] : m_headers)
      res.add_header(name, value);
    co_await detail::send_file(ctx, *file, content_type());
    co_return;
  }
  res.set_status(m_status);
  for (const auto& [name, value] : m_headers)
    res.add_header(name, value);
  if (m_kind == kind::stream) {
    if (!content_type().empty()) res.set_content_type(content_type());
    co_await m_stream(res);
    co_await res.end();
    co_return;
  }
  if (!content_type().empty()) res.set_content_type(content_type());
  if (m_problem) {
    // The problem document was serialised without its traceId; add it as the last member.
    std::string body = m_body;
    body.pop_back();  // '}'
    body += fmt::format("{}\"traceId\":\"{}\"}}", body.size() > 1 ? "," : "", ctx.trace_id());
    res.set_content_length(body.size());
    co_await res.write(body);
  } else {
    res.set_content_length(m_body.size());
    if (!m_body.empty()) co_await res.write(m_body);
  }
  co_await res.end();
}

namespace results {

result ok() {
  return status(200);
}
result ok(const nlohmann::json& value) {
  return json(value, 200);
}

result json(const nlohmann::json& value, int status) {
  return results_access::make(status, "application/json; charset=utf-8", detail::json_text(value));
}

result text(std::string body, std::string_view content_type, int status) {
  return results_access::make(status, content_type, std::move(body));
}

result status(int code) {
  return results_access::make(code, {}, {});
}
result no_content() {
  return status(204);
}

result created(std::string location, const nlohmann::json& value) {
  return json(value, 201).with_header("Location", std::move(location));
}

result not_found() {
  return problem(404);
}
result bad_request(std::string detail) {
  return problem(400, {}, std::move(detail));
}

result problem(int status, std::string title, std::string detail, nlohmann::json extensions) {
  nlohmann::json doc = nlohmann::json::object();
  doc["type"] = fmt::format("https://www.rfc-editor.org/rfc/rfc9110#status.{}", status);
  doc["title"] = title.empty() ? std::string(problem_title(status)) : std::move(title);
  doc["status"] = status;
  if (!detail.empty()) doc["detail"] = std::move(detail);
  if (extensions.is_object()) {
    for (auto& [key, value] : extensions.items())
      doc[key] = value;
  }
  // The detail may quote what the client sent (a query value): not always UTF-8.
  result r = results_access::make(status, "application/problem+json", detail::json_text(doc));
  return std::move(results_access::problem(r));
}

result redirect(std::string location, bool permanent, bool preserve_method) {
  const int code = preserve_method ? (permanent ? 308 : 307) : (permanent ? 301 : 302);
  return status(code).with_header("Location", std::move(location));
}

result stream(std::string content_type, std::function<task<void>(http::response&)> writer) {
  return results_access::stream(std::move(content_type), std::move(writer));
}

result file(std::filesystem::path path, std::string content_type) {
  return results_access::file(std::move(path), std::move(content_type));
}

}  // namespace results
}  // namespace harrier
