#!/usr/bin/env bash
# Joulie energy evaluation: replays seeded workload traces in two load regimes (moderate, the main
# comparison; saturated) against the real `joulie operator` and pool-mode `joulie agent`, on the test
# API server and the power simulator with accelerated time, for every baseline — A no power
# management, B static_partition, C queue_aware_v1, D context_aware_v1 (when this build has it) — and
# the ablations B0, C0 (placement without caps) and U (one cap everywhere); ≥ 5 seeds, one seed
# repeated, a physics sweep; writes the report, the plots, summary.json and the raw results.
#
#   bash scripts/evaluate.sh                 # full run (≤ 60 min here): docs/evaluation.md,
#                                            # docs/evaluation/*.png, summary.json, raw/results.json.gz
#   bash scripts/evaluate.sh --quick         # CI: 6 nodes, 2 h trace; exits 1 if an invariant fails
#   bash scripts/evaluate.sh --report-from docs/evaluation/raw/results.json.gz
#                                            # rebuild the report and plots from raw results
#                                            # (with raw/hetero.json.gz beside it, if present)
#   bash scripts/evaluate.sh --scenario hetero   # heterogeneous demand (≤ 12 min): C's count-based
#                                            # against D's fit-aware supply; writes
#                                            # raw/hetero.json.gz and rebuilds docs/evaluation.md
#   bash scripts/evaluate.sh --scenario hetero --quick   # its CI case (~10 s)
#
# Options (python3 -m evaluation --help for all):
#   --seed N / --seeds K   seeds N..N+K-1 (default 1, quick 1 seed, full 5)
#   --regimes R            moderate,saturated (quick: moderate)
#   --nodes N / --hours H / --factor F   cluster size, trace hours, simulated s per real s
#   --jobs J               runs side by side (quick 2, full 3)
#   --out DIR              write DIR/evaluation.md and DIR/evaluation/
#   --trace FILE           replay a CSV trace (id,arrival_seconds,class,cpus,work_seconds,mem_fraction)
#   --hardware FILE        model your own node types (YAML; examples/evaluation/hardware.yaml)
#   --baselines LIST       A,B,C,D,B0,C0,U
#   --repeat / --sweep on|off|auto   the repeated seed and the physics sweep (auto: full runs only)
#
# Environment: JOULIE_BIN=PATH uses that binary instead of building build/joulie.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
export PYTHONPATH="$ROOT/test/support" PYTHONDONTWRITEBYTECODE=1

"$ROOT/scripts/deps.sh"

for arg in "$@"; do
  # Rebuilding the report from raw results runs nothing: no binary needed.
  if [ "$arg" = "--report-from" ]; then
    exec "$PY" -m evaluation --joulie /nonexistent "$@"
  fi
done

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
