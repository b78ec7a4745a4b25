#!/usr/bin/env bash
# Installs what is missing, builds and runs the whole test suite: the dev (Debug, -O0) build, the
# asan build (AddressSanitizer + UBSan), and the tsan build for the layers with threads of their own
# (core, threadpool, net, diagnostics) and http (connections resume on pool threads while the
# heartbeat, shutdown and aborts reach them from others). Usage: scripts/run-tests.sh [--quick]  (--quick: dev build only)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
# ccache keys on paths: make them relative to the checkout so that a fresh clone in another
# folder (as CI makes) still hits the cache.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true

presets=(dev asan tsan)
[ "${1:-}" = "--quick" ] && presets=(dev)

for preset in "${presets[@]}"; do
  echo "=== ${preset}: configure and build" >&2
  if [ "$preset" = tsan ]; then
    # TSan covers the layers with threads of their own; building the others under it costs
    # minutes of CI for tests that would not run.
    cmake --preset "$preset" -DHARRIER_LAYERS="core;threadpool;net;diagnostics;http" >/dev/null
  else
    cmake --preset "$preset" >/dev/null
  fi
  cmake --build --preset "$preset"
  echo "=== ${preset}: test" >&2
  if [ "$preset" = tsan ]; then
    ctest --preset "$preset" -j2
  else
    ctest --preset "$preset" -j2
  fi
done
