#!/usr/bin/env bash
# Installs the Debian packages harrier needs that are missing. Idempotent; silent when nothing is
# missing. Usage: scripts/install-deps.sh [build|test|bench]   (each level includes the ones before)
set -euo pipefail

level=${1:-test}

build_packages=(cmake ninja-build g++ ccache pkg-config liburing-dev libfmt-dev libspdlog-dev
  nlohmann-json3-dev node-llhttp zlib1g-dev libbrotli-dev libjs-chart.js)
test_packages=(catch2 curl python3 wrk nghttp2-client prometheus libboost-dev clang-format chromium
  golang-go golang-github-valyala-fasthttp-dev nodejs)
bench_packages=(nginx-light h2o golang-go linux-perf strace libboost-dev)

packages=("${build_packages[@]}")
case "$level" in
  build) ;;
  test) packages+=("${test_packages[@]}") ;;
  bench) packages+=("${test_packages[@]}" "${bench_packages[@]}") ;;
  *) echo "install-deps.sh: unknown level '$level' (expected build, test or bench)" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    sudo_cmd=(sudo)
  else
    echo "install-deps.sh: missing packages (${missing[*]}) and not root; install them as root." >&2
    exit 1
  fi
fi
echo "install-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
