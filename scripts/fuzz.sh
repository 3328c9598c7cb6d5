#!/usr/bin/env bash
# Builds the libFuzzer targets of test/fuzz/ in build-fuzz (clang, ASan+UBSan) and runs each for
# a while, one after the other, printing target / execs / coverage / crashes.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      (SECONDS also from $FUZZ_SECONDS; default 60)
#
# Seeds come from test/fuzz/corpus/<target>/ (read only); inputs the fuzzer finds go to
# build-fuzz/fuzz-work/<target>/corpus/, crashes to build-fuzz/fuzz-work/<target>/artifacts/.
# To keep a found input, minimise it (fuzz_<target> -minimize_crash=1 or -merge=1) and copy it
# into the seed corpus by hand; a crash reproducer goes to test/fuzz/crashes/<target>/.
# Exit status: 0 when no target crashed, 1 otherwise, 2 on a build problem.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
if [[ $# -gt 0 && "$1" =~ ^[0-9]+$ ]]; then
  seconds="$1"
  shift
fi
build=build-fuzz
all_targets=(watch_decoder kube_json label_selector kubeconfig sysfs sim_reply api_codec pod_classify)
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
if [[ ! -d "$build" ]]; then
  CXX=clang++ meson setup "$build" -Dfuzz=true -Dstatic=false -Db_sanitize=address,undefined \
    -Dbuildtype=debugoptimized -Db_lundef=false || exit 2
fi
ninja -C "$build" "${targets[@]/#/test/fuzz/fuzz_}" || exit 2

work="$build/fuzz-work"
results=()
crashed=0
for t in "${targets[@]}"; do
  dir="$work/$t"
  mkdir -p "$dir/corpus" "$dir/artifacts" "$dir/tmp"
  log="$dir/run.log"
  touch "$dir/started"  # artifacts newer than this are this run's
  echo "== $t: ${seconds}s, -max_len=$(max_len "$t")"
  # -fork is not used: one process per target keeps the 2-core CI machines usable.
  TMPDIR="$PWD/$dir/tmp" ASAN_OPTIONS=detect_leaks=1 \
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$PWD/test/fuzz/ubsan.supp" \
    "$build/test/fuzz/fuzz_$t" -max_total_time="$seconds" -max_len="$(max_len "$t")" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
    "$dir/corpus" "test/fuzz/corpus/$t" >"$log" 2>&1 || true
  inited=$(grep -m1 -o 'INITED cov: [0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  final=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  rate=$(grep -o 'exec/s: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
  corpus=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
  crashes=$(find "$dir/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) -newer "$dir/started" 2>/dev/null | wc -l)
  if grep -q -E '^(==[0-9]+==ERROR|SUMMARY: (Address|Undefined|Leak)Sanitizer|.*fuzz property failed)' \
    "$log"; then
    crashes=$((crashes > 0 ? crashes : 1))
  fi
  [[ $crashes -gt 0 ]] && crashed=1
  results+=("$(printf '%-16s %10s %8s %6s +%-6s %8s %7s' "$t" "$execs" "$rate" "$final" \
    $((final - inited)) "$corpus" "$crashes")")
done

echo
printf '%-16s %10s %8s %6s %-7s %8s %7s\n' target execs exec/s cov "new" corpus crashes
for r in "${results[@]}"; do
  echo "$r"
done
if [[ $crashed -ne 0 ]]; then
  echo "crashes: see $work/<target>/run.log and artifacts/" >&2
fi
exit "$crashed"
