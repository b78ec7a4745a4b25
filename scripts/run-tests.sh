#!/usr/bin/env bash
# Installs what is missing, builds and runs the whole test suite: the dev (Debug, -O0) build, the
# asan build (AddressSanitizer + UBSan), and the tsan build for the layers with threads of their own
# (core, threadpool, net). Usage: scripts/run-tests.sh [--quick]  (--quick: dev build only)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test

presets=(dev asan tsan)
[ "${1:-}" = "--quick" ] && presets=(dev)

for preset in "${presets[@]}"; do
  echo "=== ${preset}: configure and build" >&2
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  echo "=== ${preset}: test" >&2
  if [ "$preset" = tsan ]; then
    ctest --preset "$preset" -j2 -L 'core|threadpool|net'
  else
    ctest --preset "$preset" -j2
  fi
done
