#!/usr/bin/env bash
# Runs every benchmark of docs/design.md#quality-bars (scripts under test/bench/) and prints one
# table each, then a summary of verdicts. Benchmarks are not tests: nothing here fails CI; record
# the figures in docs/benchmarks.md with the machine, date and load average the tables print.
#   JOULIE_BENCH_BUILD_DIR=DIR   release build to measure (default: build-bench, set up if missing)
#   JOULIE_BENCH_ONLY="binary informer operator floor convergence agent"   a subset, in that order
#   JOULIE_BENCH_BEFORE=PATH     convergence: also run this older binary, side by side ("before")
#   JOULIE_BENCH_OUT=DIR         also keep each table as JSON there (default: a temp dir)
# Needs about 3 GiB of free memory (the test API server holds 155 000 objects) and 15 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${JOULIE_BENCH_BUILD_DIR:-build-bench}
only=${JOULIE_BENCH_ONLY:-binary informer operator floor convergence agent}
out=${JOULIE_BENCH_OUT:-$(mktemp -d -t joulie-bench-XXXXXX)}
python=/usr/bin/python3
mkdir -p "$out"

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --buildtype=release >/dev/null
fi
ninja -C "$build" -j2 joulie test/support/informer_probe

bin="$build/joulie"
probe="$build/test/support/informer_probe"
status=0
for b in $only; do
  case "$b" in
    binary) cmd=(test/bench/bench_binary.py --bin "$bin") ;;
    informer) cmd=(test/bench/bench_informer.py --probe "$probe") ;;
    operator) cmd=(test/bench/bench_operator.py --bin "$bin") ;;
    floor) cmd=(test/bench/bench_operator.py --floor --bin "$bin") ;;
    convergence) cmd=(test/bench/bench_convergence.py --bin "after=$bin")
                 if [ -n "${JOULIE_BENCH_BEFORE:-}" ]; then
                   cmd+=(--bin "before=$JOULIE_BENCH_BEFORE")
                 fi ;;
    agent) cmd=(test/bench/bench_agent.py --bin "$bin") ;;
    *) echo "bench.sh: unknown benchmark '$b' (binary informer operator floor convergence agent)" >&2
       exit 2 ;;
  esac
  echo "== $b: ${cmd[*]}"
  "$python" "${cmd[@]}" --json "$out/$b.json" || status=1
done

echo
echo "== summary (JSON tables in $out)"
"$python" - "$out" $only <<'EOF'
import json, sys, os
out, names = sys.argv[1], sys.argv[2:]
for n in names:
    path = os.path.join(out, n + ".json")
    if not os.path.exists(path):
        print("%-9s no result (the benchmark failed to run)" % n)
        continue
    doc = json.load(open(path))
    for r in doc["rows"]:
        if r["verdict"] != "info":
            print("%-9s %-7s %-60s %s (target %s)" % (n, r["verdict"], r["figure"][:60],
                                                     r.get("shown", r["value"]), r["target"]))
    print("%-9s load during run: %s" % ("", doc["load"]))
EOF
exit $status
