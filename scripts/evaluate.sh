#!/usr/bin/env bash
# Joulie energy evaluation (SPEC.md §9): replays one workload trace per baseline — A no power
# management, B static_partition, C queue_aware_v1, D context_aware_v1 (when this build has it) —
# against the real `joulie operator` and pool-mode `joulie agent`, on the test API server and the
# power simulator with accelerated time, and writes the report, the plots and summary.json.
#
#   bash scripts/evaluate.sh                 # full run: docs/evaluation.md, docs/evaluation/*.png
#                                            # and docs/evaluation/summary.json (about 25 min here)
#   bash scripts/evaluate.sh --quick         # CI: 6 nodes, 2 h trace; exits 1 if an invariant fails
#
# Options (python3 -m evaluation --help for all):
#   --seed N      trace and node-mix seed (default 1)
#   --quick       small run that checks the invariants only (report in a temporary directory)
#   --nodes N     cluster size (quick 6, full 40)
#   --hours H     trace length in simulated hours (quick 2, full 24)
#   --out DIR     write DIR/evaluation.md, DIR/evaluation/*.png, DIR/evaluation/summary.json
#   --factor F    simulated seconds per real second (quick 900, full 600)
#   --trace FILE  replay a CSV trace (id,arrival_seconds,class,cpus,work_seconds,mem_fraction)
#   --mix M       balanced | compute | memory (memory-bound share of the generated jobs)
#   --sensitivity on|off|auto   the compute-/memory-heavy and 1000-node runs (auto: full runs only)
#
# Environment: JOULIE_BIN=PATH uses that binary instead of building build/joulie.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
export PYTHONPATH="$ROOT/test/support" PYTHONDONTWRITEBYTECODE=1

"$ROOT/scripts/deps.sh"

if [ -n "${JOULIE_BIN:-}" ]; then
  [ -x "$JOULIE_BIN" ] || { echo "evaluate: JOULIE_BIN=$JOULIE_BIN is not an executable" >&2; exit 1; }
else
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    echo "evaluate: configuring $BUILD_DIR" >&2
    meson setup "$BUILD_DIR" "$ROOT" --buildtype=release -Dstatic=true >/dev/null
  fi
  ninja -C "$BUILD_DIR" -j2 joulie >"$BUILD_DIR/evaluate-build.log" 2>&1 || {
    cat "$BUILD_DIR/evaluate-build.log" >&2
    exit 1
  }
  export JOULIE_BIN="$BUILD_DIR/joulie"
fi

exec "$PY" -m evaluation --joulie "$JOULIE_BIN" \
  --command-line "bash scripts/evaluate.sh${*:+ $*}" "$@"
