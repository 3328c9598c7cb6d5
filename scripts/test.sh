#!/usr/bin/env bash
# The README's test command (and what CI's .ci/run calls): installs the Debian packages it needs,
# builds, and runs the whole suite (unit, fuzz-corpus replay, integration) on the release static
# binary; with JOULIE_SANITIZE=1 it then runs the same suite again on an ASan+UBSan build.
#   JOULIE_SANITIZE=1     add the sanitizer pass (not yet the default: see docs/testing.md)
#   JOULIE_BUILD_DIR=DIR  release build directory (default: build; the sanitizer one is DIR-asan)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

build=${JOULIE_BUILD_DIR:-build}
asan=${build}-asan
python=/usr/bin/python3
status=0
summaries=()

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --buildtype=release -Dstatic=true >/dev/null
fi
echo "== release build ($build)"
ninja -C "$build"
echo "== release tests"
meson test -C "$build" --print-errorlogs --num-processes 2 || status=1
summaries+=("release=$build")

if [ "${JOULIE_SANITIZE:-0}" != 0 ]; then
  # Sanitizers need a dynamic executable; -O1 keeps the build and the run reasonably fast.
  if [ ! -f "$asan/build.ninja" ]; then
    meson setup "$asan" -Dstatic=false -Db_sanitize=address,undefined -Db_lundef=false \
      -Dbuildtype=debug -Doptimization=1 >/dev/null
  fi
  echo "== sanitizer build ($asan)"
  ninja -C "$asan"
  echo "== sanitizer tests"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C "$asan" --print-errorlogs --num-processes 2 || status=1
  summaries+=("asan=$asan")
fi

echo "== summary"
"$python" scripts/summarize_tests.py "${summaries[@]}" || status=1
exit $status
