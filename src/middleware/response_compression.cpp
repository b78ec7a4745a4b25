// The response-compression middleware: an http::body_filter per request that decides, when the
// head is about to leave, whether and how to compress (the rules are in compression.hpp).
//
// Why a body filter and not a wrapper around the handler: the decision needs the handler's
// Content-Type, status and length, which exist only once the handler writes; and compression
// must happen below every write path (results, files, streams) without each knowing about it.
//
// Lifetime: the filter lives in this middleware's coroutine frame. Before the frame goes, the
// middleware either ends the response (the handler wrote something, or the response started,
// and the filter must finish its stream) or removes the filter (nothing was written: whoever is
// outside, a request-timeout middleware or the connection, answers without it). An exception
// removes it too; if the response had started, the connection aborts anyway.
//
// Encoders are made per compressed response. Reusing reset gzip encoders was measured
// (compression_bench: a 2 KiB body at level 4, fresh encoder against a reset one) and saved 2-4%,
// about the run-to-run noise: deflateInit2's four 64 KiB blocks come back from malloc's free
// lists, and deflateReset clears the same hash table deflateInit2 does. brotli 1.0.9 has no
// reset at all.
//
// A response has one filter slot: a second compression middleware inside this one replaces this
// filter, ends the response itself, and this one then finds the response ended.

#include <harrier/http/body_filter.hpp>
#include <harrier/http/request.hpp>
#include <harrier/http/response.hpp>
#include <harrier/middleware/compression.hpp>
#include <harrier/middleware/context.hpp>

#include <algorithm>
#include <any>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "middleware/brotli_encoder.hpp"
#include "middleware/gzip_encoder.hpp"
#include "middleware/revalidated_representation.hpp"

namespace harrier {

namespace {

using detail::brotli_encoder;
using detail::content_coding;
using detail::gzip_encoder;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// A media type pattern: "type/subtype", "type/*" or "type/*+suffix", lower case.
struct media_pattern {
  std::string type;
  std::string subtype;  // empty: any
  std::string suffix;   // "+json" for "*+json"

  static media_pattern parse(std::string_view text) {
    const std::string s = lower(http::trim_ows(text));
    const std::size_t slash = s.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == s.size() ||
        s.find_first_of(" ;,") != std::string::npos) {
      throw std::invalid_argument("response_compression: media type pattern '" + std::string(text) +
                                  "' is not type/subtype, type/* or type/*+suffix");
    }
    media_pattern p{s.substr(0, slash), s.substr(slash + 1), {}};
    if (p.subtype == "*") {
      p.subtype.clear();
    } else if (p.subtype.rfind("*+", 0) == 0 && p.subtype.size() > 2) {
      p.suffix = p.subtype.substr(1);
      p.subtype.clear();
    } else if (p.subtype.find('*') != std::string::npos) {
      throw std::invalid_argument("response_compression: media type pattern '" + std::string(text) +
                                  "' has a '*' that is not '*' or '*+suffix'");
    }
    return p;
  }
  bool matches(std::string_view type, std::string_view subtype) const noexcept {
    if (type != this->type) return false;
    if (!suffix.empty()) {
      return subtype.size() > suffix.size() &&
             subtype.substr(subtype.size() - suffix.size()) == suffix;
    }
    return this->subtype.empty() || subtype == this->subtype;
  }
};

struct settings {
  std::vector<content_coding> offered;
  int gzip_level;
  int brotli_quality;
  int brotli_window_bits;
  std::uint64_t minimum_bytes;
  std::vector<media_pattern> included;
  std::vector<media_pattern> excluded;

  bool compressible(std::string_view content_type) const {
    const std::string media = lower(http::trim_ows(content_type.substr(0, content_type.find(';'))));
    const std::size_t slash = media.find('/');
    if (slash == std::string::npos) return false;
    const std::string_view type = std::string_view(media).substr(0, slash);
    const std::string_view subtype = std::string_view(media).substr(slash + 1);
    auto hit = [&](const media_pattern& p) { return p.matches(type, subtype); };
    return std::any_of(included.begin(), included.end(), hit) &&
           std::none_of(excluded.begin(), excluded.end(), hit);
  }
};

settings validate(const compression_options& options) {
  settings s{};
  for (const std::string& name : options.encodings) {
    const std::string coding = lower(name);
    content_coding c;
    if (coding == "gzip") {
      c = content_coding::gzip;
    } else if (coding == "br") {
      if (!detail::brotli_available()) continue;
      c = content_coding::br;
    } else {
      throw std::invalid_argument("response_compression: unknown coding '" + name +
                                  "' (expected \"br\" or \"gzip\")");
    }
    if (std::find(s.offered.begin(), s.offered.end(), c) == s.offered.end()) s.offered.push_back(c);
  }
  if (options.gzip_level < 1 || options.gzip_level > 9) {
    throw std::invalid_argument("response_compression: gzip_level must be 1..9, got " +
                                std::to_string(options.gzip_level));
  }
  if (options.brotli_quality < 0 || options.brotli_quality > 11) {
    throw std::invalid_argument("response_compression: brotli_quality must be 0..11, got " +
                                std::to_string(options.brotli_quality));
  }
  if (options.brotli_window_bits < 10 || options.brotli_window_bits > 24) {
    throw std::invalid_argument("response_compression: brotli_window_bits must be 10..24, got " +
                                std::to_string(options.brotli_window_bits));
  }
  s.gzip_level = options.gzip_level;
  s.brotli_quality = options.brotli_quality;
  s.brotli_window_bits = options.brotli_window_bits;
  s.minimum_bytes = options.minimum_bytes;
  for (const std::string& p : options.mime_types)
    s.included.push_back(media_pattern::parse(p));
  for (const std::string& p : options.excluded_mime_types)
    s.excluded.push_back(media_pattern::parse(p));
  return s;
}

bool vary_covers_accept_encoding(std::string_view vary) noexcept {
  while (!vary.empty()) {
    const std::size_t comma = vary.find(',');
    const std::string_view item = http::trim_ows(vary.substr(0, comma));
    vary = comma == std::string_view::npos ? std::string_view{} : vary.substr(comma + 1);
    if (item == "*" || http::iequals(item, "accept-encoding")) return true;
  }
  return false;
}

void vary_by_accept_encoding(http::response& res) {
  const auto vary = res.header("Vary");
  if (!vary || !vary_covers_accept_encoding(*vary)) res.add_header("Vary", "Accept-Encoding");
}

// A coded variant's ETag is the weak form of the identity one's (RFC 9110 8.8.1: not the same
// bytes).
void weaken_etag(http::response& res) {
  if (const auto etag = res.header("ETag"); etag && etag->substr(0, 2) != "W/") {
    const std::string weak = "W/" + std::string(*etag);
    res.remove_header("ETag");
    res.add_header("ETag", weak);
  }
}

class compression_filter final : public http::body_filter {
 public:
  compression_filter(const settings& s, context& ctx) noexcept
      : m_settings(s), m_context(ctx), m_request(ctx.request()) {}

  bool start(http::response& res, const head_info& info) override {
    const int status = res.status();
    if (status == 304) {
      const std::any* note = m_context.find_item(detail::k_revalidated_representation_item);
      if (const auto* known =
              note != nullptr ? std::any_cast<detail::revalidated_representation>(note) : nullptr) {
        revalidated_as(res, *known);
      } else {
        revalidated_variant(res);
      }
      return false;
    }
    if (status < 200 || status == 204) return false;
    if (res.header("Content-Encoding")) return false;
    const auto type = res.header("Content-Type");
    if (!type || !m_settings.compressible(*type)) return false;
    // From here the response varies by Accept-Encoding, whether or not this one is compressed.
    vary_by_accept_encoding(res);
    if (status == 206 || res.header("Content-Range")) return false;
    if (info.body_length && *info.body_length < m_settings.minimum_bytes) return false;
    std::string joined;
    const content_coding coding = detail::choose_coding(
        m_request.headers().find_list("Accept-Encoding", joined), m_settings.offered);
    if (coding == content_coding::identity) return false;

    if (info.body_sent) {
      if (coding == content_coding::gzip) {
        m_gzip.emplace(m_settings.gzip_level);
      } else {
        m_brotli.emplace(m_settings.brotli_quality, m_settings.brotli_window_bits,
                         info.body_length);
      }
    }
    res.add_header("Content-Encoding", detail::coding_name(coding));
    weaken_etag(res);
    // Ranges of the compressed bytes are not offered (a Range request gets the identity 206).
    res.remove_header("Accept-Ranges");
    return true;
  }

  void transform(std::span<const std::byte> input, std::string& out) override {
    if (m_gzip) {
      m_gzip->write(input, out);
    } else if (m_brotli) {
      m_brotli->write(input, out);
    }
  }
  void flush(std::string& out) override {
    if (m_gzip) {
      m_gzip->flush(out);
    } else if (m_brotli) {
      m_brotli->flush(out);
    }
  }
  void finish(std::string& out) override {
    if (m_gzip) {
      m_gzip->finish(out);
    } else if (m_brotli) {
      m_brotli->finish(out);
    }
  }

 private:
  // A 304 carries the validator and Vary of the 200 it stands for (RFC 9110 15.4.5): that of
  // the variant this request would get. When the handler said what its 200 would be (static
  // files do, revalidated_representation.hpp), the 304 gets exactly the Vary and ETag that
  // start() would give that 200.
  void revalidated_as(http::response& res, const detail::revalidated_representation& known) const {
    if (!m_settings.compressible(known.content_type)) return;
    vary_by_accept_encoding(res);
    if (known.length >= m_settings.minimum_bytes && selects_coding()) weaken_etag(res);
  }

  // Otherwise the handler's 304 has the identity variant's strong ETag and no Content-Type, so
  // whether the resource is compressed at all is known only when the client holds our weak form
  // of that ETag (it got the compressed variant before). Then the response varies by
  // Accept-Encoding, and the ETag is the weak one if this request's Accept-Encoding selects a
  // coding, else the strong one (audit 4: a client that no longer accepts gzip got the weak
  // form).
  void revalidated_variant(http::response& res) const {
    const auto etag = res.header("ETag");
    std::string joined;
    const auto if_none_match = m_request.headers().find_list("If-None-Match", joined);
    if (!etag || !if_none_match || etag->substr(0, 2) == "W/") return;
    const std::string weak = "W/" + std::string(*etag);
    if (if_none_match->find(weak) == std::string_view::npos) return;
    vary_by_accept_encoding(res);
    if (selects_coding()) weaken_etag(res);
  }

  // Whether this request's Accept-Encoding selects one of the offered codings.
  bool selects_coding() const {
    std::string joined;
    return detail::choose_coding(m_request.headers().find_list("Accept-Encoding", joined),
                                 m_settings.offered) != content_coding::identity;
  }

  const settings& m_settings;
  const context& m_context;
  const http::request& m_request;
  std::optional<gzip_encoder> m_gzip;
  std::optional<brotli_encoder> m_brotli;
};

// Removes the filter when the middleware's frame goes, whatever the path out.
class filter_installation {
 public:
  filter_installation(http::response& res, http::body_filter& filter) : m_response(res) {
    res.set_body_filter(&filter);
  }
  ~filter_installation() { m_response.set_body_filter(nullptr); }
  filter_installation(const filter_installation&) = delete;
  filter_installation& operator=(const filter_installation&) = delete;

 private:
  http::response& m_response;
};

}  // namespace

middleware_fn response_compression(compression_options options) {
  auto shared = std::make_shared<const settings>(validate(options));
  return [shared](context& ctx, next_handler next) -> task<void> {
    http::response& res = ctx.response();
    if (shared->offered.empty() || res.has_started()) {
      co_await next(ctx);
      co_return;
    }
    compression_filter filter(*shared, ctx);
    filter_installation installed(res, filter);
    co_await next(ctx);
    // The filter's stream must end while the filter exists; an untouched response is left to
    // whoever answers outside (see the file comment).
    if (!res.has_ended() && (res.has_started() || res.body_bytes() > 0)) co_await res.end();
  };
}

bool compression_available(std::string_view coding) noexcept {
  if (coding == "gzip") return true;
  if (coding == "br") return detail::brotli_available();
  return false;
}

}  // namespace harrier
