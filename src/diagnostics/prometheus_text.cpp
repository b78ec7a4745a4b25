// The Prometheus text exposition format, version 0.0.4.
//
// Per family: "# HELP name text", "# TYPE name type", then one line per sample. Histograms expand
// to cumulative name_bucket{...,le="bound"} lines ending with le="+Inf" (equal to the count), then
// name_sum and name_count. Floats use the shortest form that reads back exactly; infinities and
// NaN use the spellings the format defines (+Inf, -Inf, NaN). A family without series still gets
// its HELP and TYPE lines, which scrapers accept. Label values that are not valid UTF-8 (a raw
// method or path from a client) have each bad byte replaced by U+FFFD, since one invalid line
// makes Prometheus reject the whole scrape.

#include <harrier/diagnostics/metric_exposition.hpp>

#include <cmath>
#include <iterator>

#include <fmt/format.h>

namespace harrier::diagnostics {

namespace {

void append_float(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    fmt::format_to(std::back_inserter(out), "{}", v);
  }
}

// {a="x",b="y"[,le="bound"]}; nothing when there are no labels at all.
void append_labels(std::string& out, const std::vector<label>& labels, const std::string* le) {
  if (labels.empty() && le == nullptr) return;
  out += '{';
  bool first = true;
  for (const label& l : labels) {
    if (!first) out += ',';
    first = false;
    out += l.name;
    out += "=\"";
    out += escape_label_value(l.value);
    out += '"';
  }
  if (le != nullptr) {
    if (!first) out += ',';
    out += "le=\"";
    out += *le;
    out += '"';
  }
  out += '}';
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not one (RFC 3629: no
// overlongs, no surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return n;
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size();) {
    const std::size_t n = utf8_sequence_length(value, i);
    if (n == 0) {  // the format requires UTF-8: one bad byte becomes U+FFFD
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(value.substr(i, n));
      i += n;
      continue;
    }
    const char c = value[i++];
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string to_prometheus_text(const registry_snapshot& snapshot) {
  std::string out;
  out.reserve(256 * snapshot.families.size());
  for (const family_snapshot& f : snapshot.families) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", f.name,
                   escape_help(f.help), f.name, to_string(f.type));
    for (const series_snapshot& s : f.series) {
      if (f.type != metric_type::histogram) {
        out += f.name;
        append_labels(out, s.labels, nullptr);
        out += ' ';
        append_float(out, s.value);
        out += '\n';
        continue;
      }
      std::uint64_t cumulative = 0;
      std::string le;
      for (std::size_t b = 0; b < s.bucket_counts.size(); ++b) {
        cumulative += s.bucket_counts[b];
        le.clear();
        if (b < f.bucket_bounds.size()) {
          append_float(le, f.bucket_bounds[b]);
        } else {
          le = "+Inf";
        }
        out += f.name;
        out += "_bucket";
        append_labels(out, s.labels, &le);
        fmt::format_to(std::back_inserter(out), " {}\n", cumulative);
      }
      out += f.name;
      out += "_sum";
      append_labels(out, s.labels, nullptr);
      out += ' ';
      append_float(out, s.sum);
      out += '\n';
      out += f.name;
      out += "_count";
      append_labels(out, s.labels, nullptr);
      fmt::format_to(std::back_inserter(out), " {}\n", s.count);
    }
  }
  return out;
}

}  // namespace harrier::diagnostics
