#pragma once
// configuration: layered settings, as ASP.NET Core layers them.
//
//   defaults  <  JSON config file  <  environment (HARRIER_ prefix)  <  command line
//
// Keys are flat strings; hierarchy uses ':' ("limits:max_request_body_size"). Every source's keys
// are normalised the same way, so one setting can come from anywhere:
//   JSON     {"limits": {"max_request_body_size": 1000}}   (nested objects flatten with ':')
//   env      HARRIER_LIMITS__MAX_REQUEST_BODY_SIZE=1000    ('__' is ':', case-insensitive)
//   argv     --limits:max-request-body-size=1000  or  --limits:max-request-body-size 1000
// Normalisation: lower case, '-' becomes '_'.
//
// A schema declares the known keys with their type, default and help text. validate() rejects
// unknown keys and bad values with a configuration_error naming the key, the value, where it came
// from and what was expected; help() prints the flags for --help. The one exception: unknown
// HARRIER_* environment variables are ignored (the environment is shared with other tools, such
// as test runners); ignored_environment_keys() names them so that the application can warn.

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace harrier {

class configuration_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class option_type { string, integer, boolean, choice, list };

struct option_spec {
  std::string key;  // normalised: "min_threads", "limits:max_request_body_size"
  option_type type = option_type::string;
  std::string default_value;  // empty: no default
  std::string help;
  std::vector<std::string> choices;  // for option_type::choice
  std::int64_t min = INT64_MIN;      // for option_type::integer
  std::int64_t max = INT64_MAX;
  bool flag = false;  // a boolean flag that takes no value on the command line
};

class configuration {
 public:
  // Layers, in any order of calls: precedence is by source kind, not call order.
  void add_json_file(const std::string& path);  // throws configuration_error if unreadable/invalid
  void add_json_text(std::string_view json, std::string_view origin);
  // Reads variables starting with `prefix` ("HARRIER_") from envp (or the process environment).
  void add_environment(std::string_view prefix = "HARRIER_", char** envp = nullptr);
  // Parses "--key value", "--key=value" and boolean flags (from schema). Positional arguments are
  // an error. Returns the value of --config if present (the caller then adds that file).
  void add_command_line(int argc, const char* const* argv, const std::vector<option_spec>& schema);
  void set(std::string_view key, std::string value, std::string_view origin = "code");

  std::optional<std::string> get(std::string_view key) const;
  std::string origin_of(std::string_view key) const;  // "command line", "environment", ...

  // Checks every key against the schema and every value against its type. Throws.
  void validate(const std::vector<option_spec>& schema) const;
  // The HARRIER_* variables that name no setting (validate() lets them pass).
  std::vector<std::string> ignored_environment_keys(const std::vector<option_spec>& schema) const;

  // Typed access with the schema's default as fallback; values are assumed validated.
  std::string get_string(std::string_view key, const std::vector<option_spec>& schema) const;
  std::int64_t get_integer(std::string_view key, const std::vector<option_spec>& schema) const;
  bool get_boolean(std::string_view key, const std::vector<option_spec>& schema) const;

  static std::string normalise_key(std::string_view key);
  static std::string help(const std::vector<option_spec>& schema);

  // Environment variables that are not settings but runtime switches; never "unknown".
  static bool is_runtime_switch(std::string_view normalised_key);

 private:
  enum class layer { defaults = 0, file = 1, environment = 2, command_line = 3, code = 4 };
  struct entry {
    std::string value;
    layer source;
    std::string origin;
  };
  void put(std::string key, std::string value, layer source, std::string origin);

  std::map<std::string, entry, std::less<>> m_entries;
};

}  // namespace harrier
