#!/bin/sh
# Builds harrier's libFuzzer targets with clang, ASan and UBSan, in build/fuzz-clang (or $1).
#
#   fuzz/build.sh                       # configure (once) and build
#   fuzz/run.sh http 300                # then fuzz; see fuzz/README.md
#
# The library (and llhttp) is compiled with -fsanitize=fuzzer-no-link,address,undefined, so that
# libFuzzer sees coverage inside it; each harness is linked with -fsanitize=fuzzer. UBSan does not
# recover: the first undefined behaviour is a crash the fuzzer records. Built with nice, since the
# machine is shared.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/fuzz-clang}
flags="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined"
# -fno-sanitize=function: with it clang 14 fails on coroutines ("error: Cannot represent a
#   difference across sections" in connection_core.cpp, held_output.cpp, read_ahead.cpp); the
#   check (calls through a function pointer of the wrong type) is the only UBSan check dropped.
flags="$flags -fno-sanitize-recover=all -fno-sanitize=function"

if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ nice -n 19 cmake -S "$root/fuzz/standalone" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=Debug \
    -DHARRIER_LAYERS="core;threadpool;net;http;diagnostics" \
    -DHARRIER_WERROR=OFF \
    -DCMAKE_C_FLAGS="$flags" \
    -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
fi
nice -n 19 cmake --build "$build" --target harrier_http_connection_fuzz harrier_request_parser_fuzz
echo "fuzzers: $build/fuzz/harrier_http_connection_fuzz $build/fuzz/harrier_request_parser_fuzz"
