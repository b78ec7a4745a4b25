#!/usr/bin/env bash
# Installs what is missing, builds the release preset and runs harrier-server (default URL
# http://127.0.0.1:5000). Extra arguments go to harrier-server, e.g. --urls http://127.0.0.1:8080
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
cmake --preset release >/dev/null
cmake --build --preset release --target harrier-server
exec build/release/examples/harrier-server "$@"
