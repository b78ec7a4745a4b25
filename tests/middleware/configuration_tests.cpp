#include <harrier/middleware/configuration.hpp>

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

using harrier::configuration;
using harrier::configuration_error;
using harrier::option_spec;
using harrier::option_type;

namespace {

std::vector<option_spec> schema() {
  return {
      {.key = "urls", .type = option_type::list, .default_value = "http://127.0.0.1:5000"},
      {.key = "io",
       .type = option_type::choice,
       .default_value = "auto",
       .choices = {"auto", "io_uring", "epoll"}},
      {.key = "min_threads",
       .type = option_type::integer,
       .default_value = "2",
       .min = 1,
       .max = 1024},
      {.key = "limits:max_request_body_size",
       .type = option_type::integer,
       .default_value = "30000000",
       .min = 0},
      {.key = "server_header", .type = option_type::boolean, .default_value = "true"},
      {.key = "help", .type = option_type::boolean, .flag = true},
  };
}

char* env_entry(std::string& storage) {
  return storage.data();
}

}  // namespace

TEST_CASE("command line beats environment beats config file beats defaults", "[configuration]") {
  configuration c;
  c.add_json_text(R"({"io": "epoll", "min_threads": 3, "urls": ["http://127.0.0.1:1"]})", "file");
  std::string e1 = "HARRIER_MIN_THREADS=5";
  std::string e2 = "HARRIER_URLS=http://127.0.0.1:2";
  char* envp[] = {env_entry(e1), env_entry(e2), nullptr};
  c.add_environment("HARRIER_", envp);
  const char* argv[] = {"prog", "--urls", "http://127.0.0.1:3"};
  c.add_command_line(3, argv, schema());
  c.validate(schema());

  CHECK(c.get_string("urls", schema()) == "http://127.0.0.1:3");
  CHECK(c.origin_of("urls") == "command line");
  CHECK(c.get_integer("min_threads", schema()) == 5);
  CHECK(c.origin_of("min_threads") == "environment variable HARRIER_MIN_THREADS");
  CHECK(c.get_string("io", schema()) == "epoll");
  CHECK(c.get_integer("limits:max_request_body_size", schema()) == 30'000'000);
  CHECK(c.get_boolean("server_header", schema()));
}

TEST_CASE("precedence holds whatever order the sources are added in", "[configuration]") {
  configuration c;
  const char* argv[] = {"prog", "--io=io_uring"};
  c.add_command_line(2, argv, schema());
  c.add_json_text(R"({"io": "epoll"})", "file");
  CHECK(c.get_string("io", schema()) == "io_uring");
}

TEST_CASE("nested JSON, double-underscore environment names and dashed flags name the same key",
          "[configuration]") {
  configuration from_file;
  from_file.add_json_text(R"({"limits": {"max_request_body_size": 10}})", "file");
  CHECK(from_file.get("limits:max_request_body_size") == "10");

  configuration from_env;
  std::string e = "HARRIER_LIMITS__MAX_REQUEST_BODY_SIZE=20";
  char* envp[] = {env_entry(e), nullptr};
  from_env.add_environment("HARRIER_", envp);
  CHECK(from_env.get("limits:max_request_body_size") == "20");

  configuration from_argv;
  const char* argv[] = {"prog", "--limits:max-request-body-size", "30"};
  from_argv.add_command_line(3, argv, schema());
  CHECK(from_argv.get("limits:max_request_body_size") == "30");
}

TEST_CASE("an unknown key fails validation with its name and origin", "[configuration]") {
  configuration c;
  c.add_json_text(R"({"min_thread": 4})", "settings.json");
  CHECK_THROWS_WITH(c.validate(schema()), Catch::Contains("unknown setting \"min_thread\"") &&
                                              Catch::Contains("settings.json") &&
                                              Catch::Contains("min_threads"));
}

TEST_CASE("an unknown option on the command line is named at once, even as the last argument",
          "[configuration]") {
  // Taking the next argument as its value first said "--bogus expects a value" for a trailing
  // unknown flag, and would have swallowed the option after it.
  for (int argc : {2, 4}) {
    configuration c;
    const char* argv[] = {"prog", "--bogus", "--min-threads", "4"};
    CHECK_THROWS_WITH(c.add_command_line(argc, argv, schema()),
                      Catch::Contains("unknown option --bogus"));
  }
  configuration help;
  const char* argv[] = {"prog", "-h"};
  help.add_command_line(2, argv, schema());
  CHECK(help.get("help") == "true");
}

TEST_CASE("bad values fail validation naming key, value and what was expected", "[configuration]") {
  {
    configuration c;
    c.add_json_text(R"({"min_threads": "many"})", "config file x.json");
    CHECK_THROWS_WITH(c.validate(schema()), Catch::Contains("\"many\"") &&
                                                Catch::Contains("min_threads") &&
                                                Catch::Contains("integer from 1 to 1024") &&
                                                Catch::Contains("config file x.json"));
  }
  {
    configuration c;
    c.add_json_text(R"({"min_threads": 0})", "file");
    CHECK_THROWS_WITH(c.validate(schema()), Catch::Contains("from 1 to 1024"));
  }
  {
    configuration c;
    c.add_json_text(R"({"io": "kqueue"})", "file");
    CHECK_THROWS_WITH(c.validate(schema()), Catch::Contains("one of auto, io_uring, epoll"));
  }
  {
    configuration c;
    c.add_json_text(R"({"server_header": "maybe"})", "file");
    CHECK_THROWS_WITH(c.validate(schema()), Catch::Contains("true or false"));
  }
}

TEST_CASE("malformed command lines and config files are clear errors", "[configuration]") {
  configuration c;
  const char* positional[] = {"prog", "stray"};
  CHECK_THROWS_WITH(c.add_command_line(2, positional, schema()),
                    Catch::Contains("unexpected argument \"stray\""));
  const char* missing[] = {"prog", "--urls"};
  CHECK_THROWS_WITH(c.add_command_line(2, missing, schema()),
                    Catch::Contains("--urls expects a value"));
  CHECK_THROWS_WITH(c.add_json_text("{not json", "config file bad.json"),
                    Catch::Contains("bad.json is not valid JSON"));
  CHECK_THROWS_WITH(c.add_json_file("/nonexistent/harrier.json"),
                    Catch::Contains("cannot read config file"));
}

TEST_CASE("a boolean flag takes no value on the command line", "[configuration]") {
  configuration c;
  const char* argv[] = {"prog", "--help", "--io", "epoll"};
  c.add_command_line(4, argv, schema());
  CHECK(c.get_boolean("help", schema()));
  CHECK(c.get_string("io", schema()) == "epoll");
}

TEST_CASE("a config file is read from disk", "[configuration]") {
  const std::string path = "harrier_configuration_test.json";
  std::ofstream(path) << R"({"io": "epoll"})";
  configuration c;
  c.add_json_file(path);
  std::remove(path.c_str());
  CHECK(c.get("io") == "epoll");
  CHECK(c.origin_of("io") == "config file " + path);
}

TEST_CASE("help lists every option with its default", "[configuration]") {
  const std::string text = configuration::help(schema());
  CHECK_THAT(text, Catch::Contains("--min-threads N"));
  CHECK_THAT(text, Catch::Contains("(default: 2)"));
  CHECK_THAT(text, Catch::Contains("--io auto|io_uring|epoll"));
}

TEST_CASE("an unknown HARRIER_ environment variable is reported, not fatal", "[configuration]") {
  configuration c;
  std::string e1 = "HARRIER_SERVER=/usr/bin/harrier-server";
  std::string e2 = "HARRIER_IO_URING_DISABLE=1";
  char* envp[] = {env_entry(e1), env_entry(e2), nullptr};
  c.add_environment("HARRIER_", envp);
  CHECK_NOTHROW(c.validate(schema()));
  CHECK(c.ignored_environment_keys(schema()) == std::vector<std::string>{"HARRIER_SERVER"});
}

TEST_CASE("a bad value in a known environment variable is still fatal", "[configuration]") {
  configuration c;
  std::string e = "HARRIER_MIN_THREADS=lots";
  char* envp[] = {env_entry(e), nullptr};
  c.add_environment("HARRIER_", envp);
  CHECK_THROWS_WITH(c.validate(schema()),
                    Catch::Contains("environment variable HARRIER_MIN_THREADS"));
}
