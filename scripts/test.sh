#!/usr/bin/env bash
# The README's test command (and what CI's .ci/run calls): installs the Debian packages it needs,
# builds, and runs the whole suite (unit, fuzz-corpus replay, integration) on the release static
# binary, then runs it again on an ASan+UBSan build (docs/testing.md, "Sanitizers"), then runs
# every libFuzzer target for a short fixed time (docs/testing.md, "Fuzz smoke").
#   JOULIE_SANITIZE=0     skip the sanitizer pass (for a quick local run; CI always runs it)
#   JOULIE_FUZZ=0         skip the fuzz smoke (likewise)
#   JOULIE_FUZZ_SECONDS=N seconds per fuzz target (default 15)
#   JOULIE_BUILD_DIR=DIR  release build directory (default: build; the sanitizer one is DIR-asan,
#                         the fuzz one DIR-fuzz)
#   JOULIE_TEST_WORKERS=N pytest-xdist workers of the integration tests (default 4)
# Every phase line ("== ...") carries the UTC time, the seconds since the start and the load
# average, so a CI log shows where the time went (docs/testing.md, "Suite time").
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
phase() {
  local load
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  echo "== $* [$(date -u +%H:%M:%S) +$(($(date +%s) - started))s load $load]"
}
phase "packages (scripts/deps.sh)"
bash scripts/deps.sh

build=${JOULIE_BUILD_DIR:-build}
asan=${build}-asan
python=/usr/bin/python3
status=0
summaries=()
sanitize=${JOULIE_SANITIZE:-1}
fuzz=${JOULIE_FUZZ:-1}
fuzz_build=${build}-fuzz
fuzz_seconds=${JOULIE_FUZZ_SECONDS:-15}

asan_pid=
if [ "$sanitize" != 0 ]; then
  # Sanitizers need a dynamic executable. -O0 with line tables only (-g1) compiles three times
  # faster than -O1 -g under instrumentation; the suites are I/O bound, so they barely notice.
  if [ ! -f "$asan/build.ninja" ]; then
    meson setup "$asan" -Dstatic=false -Db_sanitize=address,undefined -Db_lundef=false \
      -Dbuildtype=plain -Doptimization=0 -Ddebug=false -Dcpp_args=-g1 >/dev/null
  fi
  # Started first and at a lower priority, so that it takes only the CPU the release build
  # leaves (its serial link steps) and then what the release tests leave (they mostly wait on
  # processes and sockets).
  phase "sanitizer build ($asan), in the background (nice 10)"
  (
    nice -n 10 ninja -C "$asan" >"$asan/build-output.txt" 2>&1 && rc=0 || rc=$?
    phase "sanitizer build done (exit $rc)"
    exit $rc
  ) &
  asan_pid=$!
fi

fuzz_build_pid=
if [ "$fuzz" != 0 ]; then
  # The clang libFuzzer tree (ASan+UBSan, -O1 -g1, only the fuzz targets and the libraries they
  # need) is built after the sanitizer build, at an even lower priority, while tests run.
  phase "fuzz build ($fuzz_build), in the background after the sanitizer build"
  mkdir -p "$fuzz_build"
  (
    if [ -n "$asan_pid" ]; then
      tail --pid="$asan_pid" -f /dev/null
    fi
    FUZZ_OPT=1 FUZZ_BUILD_DIR="$fuzz_build" nice -n 15 bash scripts/fuzz.sh --build-only \
      >"$fuzz_build/build-output.txt" 2>&1 && rc=0 || rc=$?
    phase "fuzz build done (exit $rc)"
    exit $rc
  ) &
  fuzz_build_pid=$!
fi

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --buildtype=release -Dstatic=true >/dev/null
fi
phase "release build ($build)"
if ninja -C "$build"; then
  phase "release tests"
  meson test -C "$build" --print-errorlogs --num-processes 2 || status=1
  summaries+=("release=$build")
else
  echo "joulie: the release build failed (output above)" >&2
  status=1
fi

if [ -n "$asan_pid" ]; then
  asan_built=0
  wait "$asan_pid" && asan_built=1
  phase "sanitizer build output"
  cat "$asan/build-output.txt"
  if [ "$asan_built" = 1 ]; then
    phase "sanitizer tests"
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

if [ -n "$fuzz_build_pid" ]; then
  fuzz_built=0
  wait "$fuzz_build_pid" && fuzz_built=1
  phase "fuzz build output"
  grep -v '^\[[0-9]*/[0-9]*\] ' "$fuzz_build/build-output.txt" || true
  results="$fuzz_build/fuzz-smoke.jsonl"
  rm -f "$results"
  if [ "$fuzz_built" = 1 ]; then
    phase "fuzz smoke: every target ${fuzz_seconds}s under ASan+UBSan, any finding fails the run"
    FUZZ_BUILD_DIR="$fuzz_build" bash scripts/fuzz.sh --jobs 2 --results "$results" \
      "$fuzz_seconds" || status=1
  else
    echo "joulie: the fuzz build failed (output above)" >&2
    status=1
  fi
  summaries+=("fuzz=$results")
fi

phase "summary"
"$python" scripts/summarize_tests.py "${summaries[@]}" || status=1
exit $status
