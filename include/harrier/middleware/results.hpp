#pragma once
// results: what a minimal-API handler returns (ASP.NET Core's IResult / Results.*).
//
//   app.map_get("/todos/{id:int}", [](from_route<"id", int> id) -> result {
//     if (auto* t = find(*id)) return results::json(*t);
//     return results::not_found();
//   });
//
// A result is a value: built by the handler, executed once by the endpoint to write the response.
// Problem responses follow RFC 9457 (application/problem+json) and carry the request's trace id.

#include <harrier/core/task.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace harrier {

class context;
namespace http {
class response;
class header_literal;
}  // namespace http

class result {
 public:
  result() = default;

  int status() const noexcept { return m_status; }
  std::string_view content_type() const noexcept;
  const std::string& body() const noexcept { return m_body; }
  // Adds a response header (Location, Cache-Control...).
  result&& with_header(std::string name, std::string value) &&;
  result& with_header(std::string name, std::string value) &;

  // Writes the response. Called once, by the endpoint. A plain body is set up when execute() is
  // called; the result must outlive the returned task.
  task<void> execute(context& ctx) const;

 private:
  friend struct results_access;
  enum class kind { body, file, stream };
  task<void> execute_other(context& ctx) const;
  kind m_kind = kind::body;
  int m_status = 200;
  // The common types (text/plain and JSON with UTF-8, problem+json) are referred to, not copied
  // (a std::string of that length would be a heap allocation per request), and not checked
  // again per response.
  const http::header_literal* m_literal_content_type = nullptr;
  std::string m_content_type;  // any other type
  std::string m_body;
  std::vector<std::pair<std::string, std::string>> m_headers;
  std::filesystem::path m_path;
  std::function<task<void>(http::response&)> m_stream;
  bool m_problem = false;  // body is a problem document missing its traceId
};

namespace results {
result ok();                             // 200, empty body
result ok(const nlohmann::json& value);  // 200, JSON
result json(const nlohmann::json& value, int status = 200);
result text(std::string body, std::string_view content_type = "text/plain; charset=utf-8",
            int status = 200);
result status(int code);                                            // a status, empty body
result no_content();                                                // 204
result created(std::string location, const nlohmann::json& value);  // 201 + Location
result not_found();                                                 // 404 problem
result bad_request(std::string detail = {});                        // 400 problem
// RFC 9457 problem document; `extensions` are merged into it (e.g. {"errors": {...}}).
result problem(int status, std::string title = {}, std::string detail = {},
               nlohmann::json extensions = nlohmann::json::object());
result redirect(std::string location, bool permanent = false, bool preserve_method = false);
// Streams a body: `writer` gets the response after the head is set; it writes and returns.
result stream(std::string content_type, std::function<task<void>(http::response&)> writer);
// A file, with Content-Type by extension unless given, ETag/Last-Modified, conditional requests
// and ranges, as the static-file middleware serves them. 404 when the file is missing.
result file(std::filesystem::path path, std::string content_type = {});
}  // namespace results

// Thrown by handlers and binders to answer with a problem response of that status (the
// exception-handler middleware and the endpoint both turn it into one).
class http_error : public std::runtime_error {
 public:
  http_error(int status, std::string title, std::string detail = {},
             nlohmann::json extensions = nlohmann::json::object())
      : std::runtime_error(detail.empty() ? title : title + ": " + detail),
        m_status(status),
        m_title(std::move(title)),
        m_detail(std::move(detail)),
        m_extensions(std::move(extensions)) {}
  int status() const noexcept { return m_status; }
  const std::string& title() const noexcept { return m_title; }
  const std::string& detail() const noexcept { return m_detail; }
  const nlohmann::json& extensions() const noexcept { return m_extensions; }
  result to_result() const { return results::problem(m_status, m_title, m_detail, m_extensions); }

 private:
  int m_status;
  std::string m_title;
  std::string m_detail;
  nlohmann::json m_extensions;
};

// The standard title of a status for problem documents ("Not Found").
std::string_view problem_title(int status) noexcept;

}  // namespace harrier
