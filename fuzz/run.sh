#!/bin/sh
# Runs one fuzz target as ONE process at the lowest priority (the machine is shared).
#
#   fuzz/run.sh http [seconds]     # the connection target (default 300 s)
#   fuzz/run.sh parser [seconds]   # the parser target
#
# The grown corpus goes to build/fuzz-clang/corpus/<target> (the seeds in fuzz/corpus/<target>
# are read, never written); crashes to build/fuzz-clang/artifacts/<target>/; the log to
# build/fuzz-clang/runs/<target>/fuzz-0.log. Extra arguments go to libFuzzer.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${HARRIER_FUZZ_BUILD:-$root/build/fuzz-clang}
target=$1
seconds=${2:-300}
shift
[ $# -gt 0 ] && shift
case $target in
  http) binary=$build/fuzz/harrier_http_connection_fuzz ;;
  parser) binary=$build/fuzz/harrier_request_parser_fuzz ;;
  *) echo "usage: $0 http|parser [seconds] [libFuzzer flags]" >&2; exit 2 ;;
esac
mkdir -p "$build/corpus/$target" "$build/artifacts/$target" "$build/runs/$target"
cd "$build/runs/$target"
exec nice -n 19 "$binary" -jobs=1 -workers=1 -max_total_time="$seconds" -timeout=5 \
  -rss_limit_mb=2048 -dict="$root/fuzz/http.dict" -print_final_stats=1 \
  -artifact_prefix="$build/artifacts/$target/" "$@" \
  "$build/corpus/$target" "$root/fuzz/corpus/$target"
