# Finds every dependency from the system; nothing is downloaded at build time. A missing
# dependency stops configuration with the Debian package that provides it.

set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)

macro(harrier_require_package name debian_package)
  find_package(${name} CONFIG QUIET ${ARGN})
  if(NOT ${name}_FOUND)
    message(FATAL_ERROR
      "harrier needs ${name}, which was not found. On Debian: apt-get install ${debian_package} "
      "(or run scripts/install-deps.sh).")
  endif()
endmacro()

harrier_require_package(fmt libfmt-dev)
harrier_require_package(spdlog libspdlog-dev)
harrier_require_package(nlohmann_json nlohmann-json3-dev)
find_package(ZLIB QUIET)
if(NOT ZLIB_FOUND)
  message(FATAL_ERROR "harrier needs zlib (response compression), which was not found. "
    "On Debian: apt-get install zlib1g-dev (or run scripts/install-deps.sh).")
endif()

include(harrierFindBrotli)
if(NOT TARGET harrier::brotlienc)
  message(STATUS "harrier: brotli not found; response compression will offer gzip only "
    "(on Debian: apt-get install libbrotli-dev)")
endif()
include(harrierFindLiburing)
if(NOT TARGET harrier::liburing)
  message(FATAL_ERROR
    "harrier needs liburing (liburing.h and liburing.so), which was not found. "
    "On Debian: apt-get install liburing-dev (or run scripts/install-deps.sh).")
endif()

# llhttp: prefer an installed CMake package; otherwise build the generated C sources that
# Debian's node-llhttp ships, as a static library inside this build.
find_package(llhttp CONFIG QUIET)
if(TARGET llhttp::llhttp_static)
  add_library(harrier::llhttp ALIAS llhttp::llhttp_static)
elseif(TARGET llhttp::llhttp)
  add_library(harrier::llhttp ALIAS llhttp::llhttp)
else()
  set(HARRIER_LLHTTP_SOURCE_DIR /usr/share/llhttp CACHE PATH "llhttp's generated C sources")
  set(HARRIER_LLHTTP_INCLUDE_DIR /usr/share/include/llhttp CACHE PATH "Directory of llhttp.h")
  if(NOT EXISTS ${HARRIER_LLHTTP_SOURCE_DIR}/llhttp.c
     OR NOT EXISTS ${HARRIER_LLHTTP_INCLUDE_DIR}/llhttp.h)
    message(FATAL_ERROR
      "harrier needs llhttp: no llhttp CMake package, and no generated sources at "
      "${HARRIER_LLHTTP_SOURCE_DIR}/llhttp.c with ${HARRIER_LLHTTP_INCLUDE_DIR}/llhttp.h. "
      "On Debian: apt-get install node-llhttp (or run scripts/install-deps.sh).")
  endif()
  add_library(harrier_llhttp STATIC
    ${HARRIER_LLHTTP_SOURCE_DIR}/api.c
    ${HARRIER_LLHTTP_SOURCE_DIR}/http.c
    ${HARRIER_LLHTTP_SOURCE_DIR}/llhttp.c)
  target_include_directories(harrier_llhttp PUBLIC
    $<BUILD_INTERFACE:${HARRIER_LLHTTP_INCLUDE_DIR}>)
  set_target_properties(harrier_llhttp PROPERTIES
    POSITION_INDEPENDENT_CODE ON C_STANDARD 99 EXPORT_NAME llhttp)
  target_compile_options(harrier_llhttp PRIVATE -w)
  # Not strict mode (as Node builds it, and as an installed llhttp package is): strict mode's
  # framing checks (LF after every CR, CRLF after chunk data, nothing parsed after a
  # Connection: close message) are made by src/http/request_parser.cpp and connection_core.cpp
  # themselves, and its one other rule refuses every byte >= 0x80 in the request-target, which
  # real clients send: curl and Go's client pass a URL's UTF-8 through unencoded, and nginx, Go
  # and Node accept it. request_parser.cpp refuses whitespace and control bytes there itself.
  add_library(harrier::llhttp ALIAS harrier_llhttp)
  set(HARRIER_BUNDLED_LLHTTP ON)
endif()
