#!/usr/bin/env bash
# The README's test command (and what CI's .ci/run calls): installs the Debian packages it needs,
# builds, and runs the whole suite (unit, fuzz-corpus replay, integration) on the release static
# binary, then runs it again on an ASan+UBSan build (docs/testing.md, "Sanitizers").
#   JOULIE_SANITIZE=0     skip the sanitizer pass (for a quick local run; CI always runs it)
#   JOULIE_BUILD_DIR=DIR  release build directory (default: build; the sanitizer one is DIR-asan)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

build=${JOULIE_BUILD_DIR:-build}
asan=${build}-asan
python=/usr/bin/python3
status=0
summaries=()
sanitize=${JOULIE_SANITIZE:-1}

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --buildtype=release -Dstatic=true >/dev/null
fi
echo "== release build ($build)"
ninja -C "$build"

asan_pid=
if [ "$sanitize" != 0 ]; then
  # Sanitizers need a dynamic executable. -O0 with line tables only (-g1) compiles three times
  # faster than -O1 -g under instrumentation; the suites are I/O bound, so they barely notice.
  if [ ! -f "$asan/build.ninja" ]; then
    meson setup "$asan" -Dstatic=false -Db_sanitize=address,undefined -Db_lundef=false \
      -Dbuildtype=plain -Doptimization=0 -Ddebug=false -Dcpp_args=-g1 >/dev/null
  fi
  # The release integration tests leave most of the CPU idle (they wait on processes and
  # sockets), so the sanitizer build runs beside them, at a lower priority.
  echo "== sanitizer build ($asan), in the background during the release tests"
  nice -n 10 ninja -C "$asan" >"$asan/build-output.txt" 2>&1 &
  asan_pid=$!
fi

echo "== release tests"
meson test -C "$build" --print-errorlogs --num-processes 2 || status=1
summaries+=("release=$build")

if [ -n "$asan_pid" ]; then
  asan_built=0
  wait "$asan_pid" && asan_built=1
  echo "== sanitizer build output"
  cat "$asan/build-output.txt"
  if [ "$asan_built" = 1 ]; then
    echo "== sanitizer tests"
    # RapidJSON 1.1.0's internal stack trips UBSan's pointer-overflow check on an empty stack;
    # test/fuzz/ubsan.supp suppresses exactly that (docs/fuzzing.md).
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$PWD/test/fuzz/ubsan.supp \
      meson test -C "$asan" --print-errorlogs --num-processes 2 || status=1
    summaries+=("asan=$asan")
  else
    echo "joulie: the sanitizer build failed (output above)" >&2
    status=1
  fi
fi

echo "== summary"
"$python" scripts/summarize_tests.py "${summaries[@]}" || status=1
exit $status
