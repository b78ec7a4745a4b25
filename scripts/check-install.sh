#!/usr/bin/env bash
# Proves the installed package works from another project: installs the release build into a
# temporary prefix and builds examples/embed (a separate CMake project) against it, then runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(mktemp -d)
embed_build=$(mktemp -d)
trap 'rm -rf "$prefix" "$embed_build"' EXIT
cmake --preset release >/dev/null
cmake --build --preset release
cmake --install build/release --prefix "$prefix" >/dev/null
cmake -S examples/embed -B "$embed_build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$embed_build"
"$embed_build"/harrier-embed-example --self-test
echo "check-install: find_package(harrier) from an outside project works"
