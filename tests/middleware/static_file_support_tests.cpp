// The pure parts of static-file serving: content types, path resolution, validators, ranges.
#include "middleware/file_resolver.hpp"
#include "middleware/http_preconditions.hpp"
#include "middleware/mime_types.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace harrier::detail;

namespace {

// A content root with a file, a subdirectory with index.html, a secret outside the root, and a
// symlink inside the root that points at the secret.
struct content_root {
  fs::path base = fs::temp_directory_path() / ("harrier-static-" + std::to_string(::getpid()));
  fs::path root = base / "wwwroot";
  content_root() {
    fs::create_directories(root / "docs");
    std::ofstream(root / "hello.txt") << "hello";
    std::ofstream(root / "docs" / "index.html") << "<p>docs</p>";
    std::ofstream(root / "a b.txt") << "space";
    std::ofstream(base / "secret.txt") << "secret";
    fs::create_symlink(base / "secret.txt", root / "escape.txt");
    fs::create_directory_symlink(base, root / "up");
    root = fs::canonical(root);
  }
  ~content_root() { fs::remove_all(base); }
};

}  // namespace

TEST_CASE("content types follow the file extension, case-insensitively", "[static_files]") {
  CHECK(content_type_for("index.html") == "text/html; charset=utf-8");
  CHECK(content_type_for("APP.JS") == "text/javascript; charset=utf-8");
  CHECK(content_type_for("data.json") == "application/json");
  CHECK(content_type_for("logo.svg") == "image/svg+xml");
  CHECK(content_type_for("archive.unknownext") == "application/octet-stream");
  CHECK(content_type_for("dir.d/noext") == "application/octet-stream");
  CHECK(is_compressible("text/css; charset=utf-8"));
  CHECK(is_compressible("application/json"));
  CHECK_FALSE(is_compressible("image/png"));
}

TEST_CASE("a request path resolves to a file inside the content root", "[static_files]") {
  content_root r;
  auto f = resolve_static_file(r.root, "/hello.txt");
  REQUIRE(f);
  CHECK(f->size == 5);
  CHECK(f->path == r.root / "hello.txt");
  CHECK(resolve_static_file(r.root, "/a%20b.txt"));
  auto index = resolve_static_file(r.root, "/docs/");
  REQUIRE(index);
  CHECK(index->path.filename() == "index.html");
  CHECK_FALSE(resolve_static_file(r.root, "/missing.txt"));
  // A trailing slash names a directory: a file of that name is not served (as nginx: 404).
  CHECK_FALSE(resolve_static_file(r.root, "/hello.txt/"));
  // An encoded slash is part of a name, not a separator (Apache's default answer, 404).
  CHECK(resolve_static_file(r.root, "/docs/index.html"));
  CHECK(resolve_static_file(r.root, "/%64ocs/index%2Ehtml"));
  CHECK_FALSE(resolve_static_file(r.root, "/docs%2Findex.html"));
  CHECK_FALSE(resolve_static_file(r.root, "/docs%2findex.html"));
}

TEST_CASE("every traversal attempt is refused", "[static_files]") {
  content_root r;
  for (const char* attempt :
       {"/../secret.txt", "/docs/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt",
        "/docs/%2e%2e/%2e%2e/secret.txt", "/..%2fsecret.txt", "/..%5csecret.txt",
        "/hello.txt%00.png", "/%zz", "/./hello.txt", "/escape.txt", "/up/secret.txt"}) {
    INFO(attempt);
    CHECK_FALSE(resolve_static_file(r.root, attempt));
  }
}

TEST_CASE("HTTP dates format as IMF-fixdate and parse in all three forms", "[static_files]") {
  CHECK(format_http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
  CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
  CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == 784111777);
  CHECK_FALSE(parse_http_date("yesterday"));
  CHECK_FALSE(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"));
}

TEST_CASE("If-None-Match uses weak comparison; If-Match strong", "[static_files]") {
  const std::string etag = make_etag(5, 123);
  CHECK(none_match_hits(etag, etag));
  CHECK(none_match_hits("W/" + etag, etag));
  CHECK(none_match_hits("\"other\", " + etag, etag));
  CHECK(none_match_hits("*", etag));
  CHECK_FALSE(none_match_hits("\"other\"", etag));
  CHECK(strong_match(etag, etag));
  CHECK_FALSE(strong_match("W/" + etag, etag));
}

TEST_CASE("preconditions are evaluated in RFC 9110's order", "[static_files]") {
  const std::string etag = make_etag(5, 123);
  validators v{etag, 1000};
  CHECK(evaluate_preconditions({.if_none_match = etag}, v, true) == precondition::not_modified);
  CHECK(evaluate_preconditions({.if_none_match = etag}, v, false) ==
        precondition::precondition_failed);
  const std::string later = format_http_date(2000), earlier = format_http_date(500);
  CHECK(evaluate_preconditions({.if_modified_since = later}, v, true) ==
        precondition::not_modified);
  CHECK(evaluate_preconditions({.if_modified_since = earlier}, v, true) == precondition::proceed);
  // If-None-Match present: If-Modified-Since is ignored.
  CHECK(evaluate_preconditions({.if_none_match = "\"x\"", .if_modified_since = later}, v, true) ==
        precondition::proceed);
  CHECK(evaluate_preconditions({.if_match = "\"x\""}, v, true) ==
        precondition::precondition_failed);
  CHECK(evaluate_preconditions({.if_unmodified_since = earlier}, v, true) ==
        precondition::precondition_failed);
}

TEST_CASE("byte ranges: first-last, open-ended, suffix, unsatisfiable and ignored forms",
          "[static_files]") {
  byte_range r;
  CHECK(parse_range("bytes=0-4", 10, r) == range_outcome::partial);
  CHECK((r.first == 0 && r.last == 4));
  CHECK(parse_range("bytes=5-", 10, r) == range_outcome::partial);
  CHECK((r.first == 5 && r.last == 9));
  CHECK(parse_range("bytes=-3", 10, r) == range_outcome::partial);
  CHECK((r.first == 7 && r.last == 9));
  CHECK(parse_range("bytes=-30", 10, r) == range_outcome::partial);
  CHECK((r.first == 0 && r.last == 9));
  CHECK(parse_range("bytes=8-100", 10, r) == range_outcome::partial);
  CHECK((r.first == 8 && r.last == 9));
  CHECK(parse_range("bytes=10-", 10, r) == range_outcome::unsatisfiable);
  CHECK(parse_range("bytes=-0", 10, r) == range_outcome::unsatisfiable);
  CHECK(parse_range("bytes=5-2", 10, r) == range_outcome::full);
  CHECK(parse_range("bytes=0-1,3-4", 10, r) == range_outcome::full);
  CHECK(parse_range("items=0-1", 10, r) == range_outcome::full);
  CHECK(parse_range("bytes=x-1", 10, r) == range_outcome::full);
  // The unit is case-insensitive (RFC 9110 14.1); nothing may stand between it and '='.
  CHECK(parse_range("Bytes=2-3", 10, r) == range_outcome::partial);
  CHECK((r.first == 2 && r.last == 3));
  CHECK(parse_range("BYTES=-2", 10, r) == range_outcome::partial);
  CHECK((r.first == 8 && r.last == 9));
  CHECK(parse_range("bytes =0-1", 10, r) == range_outcome::full);
  CHECK(parse_range("bytes", 10, r) == range_outcome::full);
  // An empty representation: a suffix range is satisfiable (RFC 9110 14.1.1) but names no
  // byte, so the whole (empty) representation goes out; a first-pos range is unsatisfiable.
  CHECK(parse_range("bytes=-5", 0, r) == range_outcome::full);
  CHECK(parse_range("bytes=0-", 0, r) == range_outcome::unsatisfiable);
  CHECK(parse_range("bytes=-0", 0, r) == range_outcome::unsatisfiable);
}
