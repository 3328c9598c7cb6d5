#!/usr/bin/env bash
# Builds the libFuzzer targets of test/fuzz/ (clang, ASan+UBSan) and runs each for a while,
# printing one line per target (execs / coverage / findings) and a table at the end.
#
#   scripts/fuzz.sh [options] [SECONDS] [TARGET...]   (SECONDS also from $FUZZ_SECONDS; default 60)
#     --jobs N         run N targets at a time (default 1; scripts/test.sh's smoke uses 2)
#     --build-only     set up and build the fuzz tree, run nothing
#     --results FILE   also write one JSON line per target (meson testlog shape) for
#                      scripts/summarize_tests.py
#   FUZZ_BUILD_DIR     build directory (default build-fuzz)
#   FUZZ_OPT           optimisation of a new build directory: 2 (default, -O2 -g; campaigns),
#                      1 or 0 (-O1 / -O0 with -g1: compile faster, fuzz slower)
#
# The targets are every test/fuzz/<target>_fuzz.cpp (a new target needs only its file and its
# line in test/fuzz/meson.build). Seeds come from test/fuzz/corpus/<target>/ (read only) and the
# crash reproducers of test/fuzz/crashes/<target>/ are run first; inputs the fuzzer finds go to
# BUILD/fuzz-work/<target>/corpus/, findings to BUILD/fuzz-work/<target>/artifacts/.
# To keep a found input, minimise it (fuzz_<target> -minimize_crash=1 or -merge=1) and copy it
# into the seed corpus by hand; a crash reproducer goes to test/fuzz/crashes/<target>/.
# Exit status: 0 when no target found anything, 1 otherwise, 2 on a build problem.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
jobs=1
build_only=0
results_file=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --jobs) jobs="$2"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    --results) results_file="$2"; shift 2 ;;
    *) break ;;
  esac
done
if [[ $# -gt 0 && "$1" =~ ^[0-9]+$ ]]; then
  seconds="$1"
  shift
fi
build="${FUZZ_BUILD_DIR:-build-fuzz}"
all_targets=()
for f in test/fuzz/*_fuzz.cpp; do
  f="${f##*/}"
  all_targets+=("${f%_fuzz.cpp}")
done
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=("${all_targets[@]}")
fi

# Longest input per target: a few events / objects / files, not megabytes (throughput matters
# more than size; the size limits of the code under test have their own unit tests).
max_len() {
  case "$1" in
    label_selector) echo 512 ;;
    sim_reply) echo 2048 ;;
    sysfs) echo 4200 ;;  # just past sysfs::kMaxFileBytes
    watch_decoder | kube_json) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ is needed (apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi
if [[ ! -f "$build/build.ninja" ]]; then
  case "${FUZZ_OPT:-2}" in
    0 | 1) opt=(-Dbuildtype=plain "-Doptimization=$FUZZ_OPT" -Ddebug=false -Dcpp_args=-g1) ;;
    *) opt=(-Dbuildtype=debugoptimized) ;;
  esac
  mkdir -p "$build"
  CXX=clang++ meson setup "$build" -Dfuzz=true -Dstatic=false -Db_sanitize=address,undefined \
    -Db_lundef=false "${opt[@]}" >"$build/setup.log" 2>&1 || {
    cat "$build/setup.log" >&2
    exit 2
  }
fi
ninja -C "$build" "${targets[@]/#/test/fuzz/fuzz_}" || exit 2
[[ $build_only == 1 ]] && exit 0

# Absolute, so TMPDIR below is right whether FUZZ_BUILD_DIR is relative or absolute (prefixing
# $PWD to an absolute path made a directory that does not exist: mkdtemp failed in the
# kubeconfig target and was reported as a finding).
work="$(cd "$build" && pwd)/fuzz-work"
ubsan_options="halt_on_error=1:print_stacktrace=1:suppressions=$PWD/test/fuzz/ubsan.supp"

# Runs one target; leaves $dir/line (the summary line) and $dir/verdict (ok / FAIL).
run_target() {
  local t="$1"
  local dir="$work/$t"
  local log="$dir/run.log"
  mkdir -p "$dir/corpus" "$dir/artifacts" "$dir/tmp"
  touch "$dir/started"  # artifacts newer than this are this run's
  local seeds=("test/fuzz/corpus/$t")
  [[ -d "test/fuzz/crashes/$t" ]] && seeds+=("test/fuzz/crashes/$t")
  # -fork is not used: one process per target keeps the 2-core CI machines usable.
  TMPDIR="$dir/tmp" ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS="$ubsan_options" \
    "$build/test/fuzz/fuzz_$t" -max_total_time="$seconds" -max_len="$(max_len "$t")" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
    "$dir/corpus" "${seeds[@]}" >"$log" 2>&1 && rc=0 || rc=$?
  local inited final execs rate corpus seed findings note=""
  inited=$(grep -m1 -o 'INITED cov: [0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  final=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  rate=$(grep -o 'exec/s: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
  corpus=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
  seed=$(grep -m1 -o 'Seed: [0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  findings=$(find "$dir/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' \
    -o -name 'timeout-*' -o -name 'oom-*' \) -newer "$dir/started" 2>/dev/null | wc -l)
  if grep -q -E '^(==[0-9]+==ERROR|SUMMARY: (Address|Undefined|Leak)Sanitizer|.*fuzz property failed|.*runtime error:)' \
    "$log"; then
    findings=$((findings > 0 ? findings : 1))
  fi
  if [[ $findings -eq 0 && ($rc -ne 0 || $execs -eq 0) ]]; then
    findings=1  # it did not run to the end: that is a failure too
    note=" (exit $rc, $execs execs: did not run to the end)"
  fi
  printf '%-16s %10s %8s %6s +%-6s %8s %8s %s\n' "$t" "$execs" "$rate" "$final" \
    $((final - inited)) "$corpus" "$findings" "$seed" >"$dir/line"
  if [[ $findings -gt 0 ]]; then
    echo FAIL >"$dir/verdict"
    {
      echo "fuzz $t: FAIL, $findings finding(s)$note after $execs execs (seed $seed); log $log"
      grep -m3 -E 'runtime error:|==[0-9]+==ERROR|fuzz property failed|Test unit written' "$log" |
        sed 's/^/    /' || true
      find "$dir/artifacts" -type f -newer "$dir/started" | sed 's/^/    reproducer: /'
    } >"$dir/report"
  else
    echo ok >"$dir/verdict"
    echo "fuzz $t: ok, 0 findings, $execs execs in ${seconds}s ($rate/s), cov $final (+$((final - inited)))" \
      >"$dir/report"
  fi
  cat "$dir/report"
}

echo "== fuzz: ${#targets[@]} target(s), ${seconds}s each, $jobs at a time, $build"
running=0
for t in "${targets[@]}"; do
  rm -f "$work/$t/verdict" "$work/$t/line" "$work/$t/report"  # no stale verdict counts
done
for t in "${targets[@]}"; do
  if [[ $running -ge $jobs ]]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_target "$t" &
  running=$((running + 1))
done
wait

echo
printf '%-16s %10s %8s %6s %-7s %8s %8s %s\n' target execs exec/s cov "new" corpus findings seed
crashed=0
[[ -n "$results_file" ]] && : >"$results_file"
for t in "${targets[@]}"; do
  dir="$work/$t"
  verdict=$(cat "$dir/verdict" 2>/dev/null || echo FAIL)
  cat "$dir/line" 2>/dev/null || echo "$t: no result"
  [[ $verdict == ok ]] || crashed=1
  if [[ -n "$results_file" ]]; then
    /usr/bin/python3 -c 'import json, sys; print(json.dumps({"name": "fuzz-smoke " + sys.argv[1],
      "result": "OK" if sys.argv[2] == "ok" else "FAIL", "stdout": sys.argv[3]}))' \
      "$t" "$verdict" "$(cat "$dir/report" 2>/dev/null)" >>"$results_file"
  fi
done
if [[ $crashed -ne 0 ]]; then
  echo "fuzz: findings (reports above; logs and reproducers in $work/<target>/)" >&2
fi
exit "$crashed"
