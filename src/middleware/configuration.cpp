#include <harrier/middleware/configuration.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

extern char** environ;

namespace harrier {
namespace {

const option_spec* find_spec(const std::vector<option_spec>& schema, std::string_view key) {
  for (const option_spec& s : schema) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

std::optional<bool> parse_bool(std::string_view v) {
  std::string lower;
  for (char c : v)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "0" || lower == "no" || lower == "off") return false;
  return std::nullopt;
}

std::optional<std::int64_t> parse_int(std::string_view v) {
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc{} || end != v.data() + v.size() || v.empty()) return std::nullopt;
  return n;
}

std::string flag_name(std::string_view key) {
  std::string name = "--";
  for (char c : key)
    name.push_back(c == '_' ? '-' : c);
  return name;
}

void flatten(const nlohmann::json& value, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>& out) {
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      flatten(it.value(), prefix.empty() ? it.key() : prefix + ":" + it.key(), out);
    }
  } else if (value.is_array()) {
    std::string joined;
    for (const auto& item : value) {
      if (!joined.empty()) joined += ',';
      joined += item.is_string() ? item.get<std::string>() : item.dump();
    }
    out.emplace_back(prefix, joined);
  } else if (value.is_string()) {
    out.emplace_back(prefix, value.get<std::string>());
  } else if (!value.is_null()) {
    out.emplace_back(prefix, value.dump());
  }
}

}  // namespace

std::string configuration::normalise_key(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (char c : key) {
    out.push_back(c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

bool configuration::is_runtime_switch(std::string_view key) {
  // HARRIER_IO_URING_DISABLE simulates a kernel that refuses io_uring (see the net layer).
  return key == "io_uring_disable";
}

void configuration::put(std::string key, std::string value, layer source, std::string origin) {
  auto it = m_entries.find(key);
  if (it != m_entries.end() && it->second.source > source) return;  // a stronger layer has it
  m_entries[std::move(key)] = entry{std::move(value), source, std::move(origin)};
}

void configuration::set(std::string_view key, std::string value, std::string_view origin) {
  put(normalise_key(key), std::move(value), layer::code, std::string(origin));
}

void configuration::add_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw configuration_error(
        fmt::format("cannot read config file \"{}\": expected a readable JSON file", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  add_json_text(text.str(), fmt::format("config file {}", path));
}

void configuration::add_json_text(std::string_view json, std::string_view origin) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json);
  } catch (const nlohmann::json::parse_error& e) {
    throw configuration_error(fmt::format("{} is not valid JSON: {}", origin, e.what()));
  }
  if (!doc.is_object()) {
    throw configuration_error(fmt::format("{} must hold a JSON object of settings", origin));
  }
  std::vector<std::pair<std::string, std::string>> flat;
  flatten(doc, "", flat);
  for (auto& [key, value] : flat) {
    put(normalise_key(key), std::move(value), layer::file, std::string(origin));
  }
}

void configuration::add_environment(std::string_view prefix, char** envp) {
  for (char** e = envp != nullptr ? envp : environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view var(*e);
    if (var.substr(0, prefix.size()) != prefix) continue;
    const std::size_t eq = var.find('=');
    if (eq == std::string_view::npos) continue;
    std::string name(var.substr(prefix.size(), eq - prefix.size()));
    std::string key;
    for (std::size_t i = 0; i < name.size(); ++i) {
      if (name[i] == '_' && i + 1 < name.size() && name[i + 1] == '_') {
        key.push_back(':');
        ++i;
      } else {
        key.push_back(name[i]);
      }
    }
    put(normalise_key(key), std::string(var.substr(eq + 1)), layer::environment,
        fmt::format("environment variable {}", var.substr(0, eq)));
  }
}

void configuration::add_command_line(int argc, const char* const* argv,
                                     const std::vector<option_spec>& schema) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg(argv[i]);
    if (arg == "-h") arg = "--help";
    if (arg.substr(0, 2) != "--" || arg.size() == 2) {
      throw configuration_error(fmt::format(
          "unexpected argument \"{}\": expected options of the form --name value or --name=value "
          "(see --help)",
          arg));
    }
    arg.remove_prefix(2);
    const std::size_t eq = arg.find('=');
    std::string key = normalise_key(arg.substr(0, eq));
    const option_spec* spec = find_spec(schema, key);
    if (spec == nullptr) {
      // Said now: taking the next argument as its value first would report "--bogus expects a
      // value" for a trailing unknown flag, or swallow the next option.
      throw configuration_error(fmt::format("unknown option {} (see --help)", flag_name(key)));
    }
    std::string value;
    if (eq != std::string_view::npos) {
      value = std::string(arg.substr(eq + 1));
    } else if (spec->flag) {
      value = "true";
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      throw configuration_error(
          fmt::format("option {} expects a value (see --help)", flag_name(key)));
    }
    put(std::move(key), std::move(value), layer::command_line, "command line");
  }
}

std::optional<std::string> configuration::get(std::string_view key) const {
  auto it = m_entries.find(normalise_key(key));
  if (it == m_entries.end()) return std::nullopt;
  return it->second.value;
}

std::string configuration::origin_of(std::string_view key) const {
  auto it = m_entries.find(normalise_key(key));
  return it == m_entries.end() ? "default" : it->second.origin;
}

void configuration::validate(const std::vector<option_spec>& schema) const {
  for (const auto& [key, e] : m_entries) {
    const option_spec* spec = find_spec(schema, key);
    if (spec == nullptr) {
      // The environment is shared with other tools (HARRIER_SERVER in tests, say): unknown
      // HARRIER_ variables are reported by ignored_environment_keys(), not fatal.
      if (e.source == layer::environment) continue;
      std::string known;
      for (const option_spec& s : schema)
        known += (known.empty() ? "" : ", ") + s.key;
      throw configuration_error(fmt::format("unknown setting \"{}\" (from {}); known settings: {}",
                                            key, e.origin, known));
    }
    const auto bad = [&](std::string_view expected) {
      return configuration_error(
          fmt::format("invalid value \"{}\" for setting \"{}\" (from {}): "
                      "expected {}",
                      e.value, key, e.origin, expected));
    };
    switch (spec->type) {
      case option_type::integer: {
        auto n = parse_int(e.value);
        if (!n || *n < spec->min || *n > spec->max) {
          throw bad(fmt::format("an integer from {} to {}", spec->min, spec->max));
        }
        break;
      }
      case option_type::boolean:
        if (!parse_bool(e.value)) throw bad("true or false");
        break;
      case option_type::choice:
        if (std::find(spec->choices.begin(), spec->choices.end(), e.value) == spec->choices.end()) {
          throw bad(fmt::format("one of {}", fmt::join(spec->choices, ", ")));
        }
        break;
      case option_type::string:
      case option_type::list:
        break;
    }
  }
}

std::vector<std::string> configuration::ignored_environment_keys(
    const std::vector<option_spec>& schema) const {
  std::vector<std::string> ignored;
  for (const auto& [key, e] : m_entries) {
    if (e.source == layer::environment && find_spec(schema, key) == nullptr &&
        !is_runtime_switch(key)) {
      ignored.push_back(e.origin.substr(e.origin.rfind(' ') + 1));
    }
  }
  return ignored;
}

std::string configuration::get_string(std::string_view key,
                                      const std::vector<option_spec>& schema) const {
  if (auto v = get(key)) return *v;
  const option_spec* spec = find_spec(schema, normalise_key(key));
  return spec != nullptr ? spec->default_value : std::string();
}

std::int64_t configuration::get_integer(std::string_view key,
                                        const std::vector<option_spec>& schema) const {
  const std::string text = get_string(key, schema);
  auto n = parse_int(text);
  if (!n) {
    throw configuration_error(
        fmt::format("setting \"{}\" = \"{}\" is not an integer", normalise_key(key), text));
  }
  return *n;
}

bool configuration::get_boolean(std::string_view key,
                                const std::vector<option_spec>& schema) const {
  const std::string text = get_string(key, schema);
  auto b = parse_bool(text);
  return b.value_or(false);
}

std::string configuration::help(const std::vector<option_spec>& schema) {
  std::string out;
  for (const option_spec& s : schema) {
    std::string left = flag_name(s.key);
    if (!s.flag) {
      left += s.type == option_type::choice    ? " " + fmt::format("{}", fmt::join(s.choices, "|"))
              : s.type == option_type::integer ? " N"
                                               : " VALUE";
    }
    out += fmt::format("  {:<34} {}", left, s.help);
    if (!s.default_value.empty() && !s.flag) out += fmt::format(" (default: {})", s.default_value);
    out += '\n';
  }
  return out;
}

}  // namespace harrier
