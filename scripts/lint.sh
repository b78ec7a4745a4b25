#!/usr/bin/env bash
# Mechanical checks on every C++ file: clang-format, and constructs known to miscompile.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
files=$(git ls-files '*.cpp' '*.hpp' '*.h')

if command -v clang-format >/dev/null; then
  if ! clang-format --dry-run -Werror $files 2>/tmp/harrier-lint-format.txt; then
    echo "lint: these files are not clang-format clean (run clang-format -i on them):" >&2
    grep -o '^[^:]*:' /tmp/harrier-lint-format.txt | sort -u >&2
    status=1
  fi
fi

# GCC 12.2 miscompiles `co_await` directly inside an if/while condition (the resume pointer is
# stored at the wrong frame offset: wrong results, SIGILL or hangs at -O0 and -O2). Await into a
# local variable first: `bool ok = co_await f(); if (ok) ...`.
if grep -nE '(if|while) \(!?\(?co_await' $files; then
  echo "lint: co_await inside an if/while condition (see the comment in scripts/lint.sh)" >&2
  status=1
fi
exit $status
