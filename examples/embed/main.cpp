// The README's minimal service, built against an installed harrier (see CMakeLists.txt beside it).
//
//   harrier-embed-example [--urls http://127.0.0.1:5000 ...]   serve until SIGINT/SIGTERM
//   harrier-embed-example --self-test                          serve on a free port, call
//                                                              /hello/embed once, stop; exit 0 if
//                                                              the answer was right
#include <harrier/harrier.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace {

void map_routes(harrier::application& app) {
  app.map_get("/hello/{name}",
              [](harrier::from_route<"name"> name) { return "Hello, " + *name + "!"; });
  app.map_get("/json", [] { return nlohmann::json{{"message", "Hello, World!"}}; });
}

// One blocking HTTP/1.0 GET over loopback: enough for a self-test, no client library needed.
std::string get(int port, const char* path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    const std::string request = std::string("GET ") + path + " HTTP/1.0\r\n\r\n";
    if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t n;
      while ((n = ::read(fd, buffer, sizeof buffer)) > 0)
        response.append(buffer, n);
    }
  }
  ::close(fd);
  return response;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--self-test") == 0) {
    harrier::configuration config;
    config.set("urls", "http://127.0.0.1:0");
    auto app = harrier::application::create(std::move(config));
    map_routes(app);
    harrier::sync_wait(app.start());
    const std::string url = app.urls().front();
    const int port = std::stoi(url.substr(url.rfind(':') + 1));
    const std::string response = get(port, "/hello/embed");
    harrier::sync_wait(app.stop());
    const bool ok = response.find("200 OK") != std::string::npos &&
                    response.find("Hello, embed!") != std::string::npos;
    std::printf("harrier %s self-test: %s\n", harrier::k_version_string, ok ? "ok" : "FAILED");
    if (!ok) std::printf("%s\n", response.c_str());
    return ok ? 0 : 1;
  }
  auto app = harrier::application::create(argc, argv);
  map_routes(app);
  return app.run();
}
