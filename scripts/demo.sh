#!/usr/bin/env bash
# Joulie demo, all local, about a minute:
#   - the test API server (test/support/kapi, plain HTTP) with the CRDs and simulated managed nodes,
#   - the power simulator (test/support/powersim) and a cluster-scoped TelemetryProfile that routes
#     every node's power reading and cap through it,
#   - `joulie operator --policy queue_aware_v1`, deciding which nodes run performance or eco,
#   - `joulie agent --mode pool`, applying each node's NodePowerProfile cap to the simulator,
#   - a workload of performance, eco and unconstrained pods (test/support/demo_workload.py),
#   - when /usr/bin/prometheus exists (Debian package prometheus): a real Prometheus scraping the
#     simulator's /metrics every second with examples/monitoring/powersim-rules.yaml loaded,
# and prints node -> state / label / NodePowerProfile cap / cap applied / power every 2 s. Ends by
# itself and stops everything it started. Needs no kubectl.
#
#   bash scripts/demo.sh
#
# Environment:
#   JOULIE_BIN=PATH    use this joulie binary instead of building one
#   BUILD_DIR=DIR      where to build it (default: build, as scripts/test.sh)
#   DEMO_SECONDS=55    how long the workload runs
#   DEMO_NODES=6       simulated nodes
#   DEMO_AGENT=0       leave out the power simulator and the agent (operator decisions only)
#   DEMO_PROMETHEUS=0  do not start Prometheus even when it is installed
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
DEMO_SECONDS="${DEMO_SECONDS:-55}"
DEMO_NODES="${DEMO_NODES:-6}"
DEMO_AGENT="${DEMO_AGENT:-1}"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
export PYTHONPATH="$ROOT/test/support" PYTHONDONTWRITEBYTECODE=1

"$ROOT/scripts/deps.sh"

if [ -n "${JOULIE_BIN:-}" ]; then
  JOULIE="$JOULIE_BIN"
  [ -x "$JOULIE" ] || { echo "demo: JOULIE_BIN=$JOULIE is not an executable" >&2; exit 1; }
else
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    echo "demo: configuring $BUILD_DIR" >&2
    meson setup "$BUILD_DIR" "$ROOT" --buildtype=release -Dstatic=true >/dev/null
  fi
  # ninja does nothing when the binary is up to date.
  plan="$(ninja -C "$BUILD_DIR" -n joulie 2>&1 || true)"
  case "$plan" in
    *"no work to do"*) ;;
    *) echo "demo: building $BUILD_DIR/joulie (several minutes the first time)" >&2 ;;
  esac
  ninja -C "$BUILD_DIR" -j2 joulie >"$BUILD_DIR/demo-build.log" 2>&1 || {
    cat "$BUILD_DIR/demo-build.log" >&2
    exit 1
  }
  JOULIE="$BUILD_DIR/joulie"
fi

WORK="$(mktemp -d -t joulie-demo.XXXXXX)"
PIDS=()
cleanup() {
  local status=$?
  # Newest first: the daemons stop before the servers they talk to.
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill "${PIDS[i]}" 2>/dev/null || true
    wait "${PIDS[i]}" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ] && [ "${DEMO_KEEP_LOGS:-0}" != 1 ]; then
    for f in "$WORK"/*.log; do
      [ -s "$f" ] || continue
      echo "--- last lines of $(basename "$f")" >&2
      tail -n 5 "$f" >&2
    done
  fi
  if [ "${DEMO_KEEP_LOGS:-0}" = 1 ]; then
    echo "demo: stopped; logs kept in $WORK" >&2
  else
    rm -rf "$WORK"
    echo "demo: stopped everything it started (DEMO_KEEP_LOGS=1 keeps the logs)" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Bounded wait for a port file (written atomically once the process listens).
wait_port() {
  local file="$1" what="$2" pid="$3"
  for _ in $(seq 1 150); do
    [ -s "$file" ] && { cat "$file"; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "demo: $what did not start" >&2
  return 1
}

# Bounded wait for a log line.
wait_log() {
  local file="$1" pattern="$2" what="$3" pid="$4"
  for _ in $(seq 1 100); do
    grep -q "$pattern" "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "demo: $what did not start" >&2
  return 1
}

# --- test API server ------------------------------------------------------------------------
"$PY" -m kapi --host 127.0.0.1 --port 0 --port-file "$WORK/kapi.port" >"$WORK/kapi.log" 2>&1 &
PIDS+=($!)
SERVER="http://127.0.0.1:$(wait_port "$WORK/kapi.port" "the test API server" "$!")"

cat >"$WORK/kubeconfig" <<EOF
apiVersion: v1
kind: Config
current-context: demo
clusters:
- name: demo
  cluster:
    server: $SERVER
users:
- name: demo
  user: {}
contexts:
- name: demo
  context:
    cluster: demo
    user: demo
EOF

# --- power simulator --------------------------------------------------------------------------
POWERSIM=()
if [ "$DEMO_AGENT" != 0 ]; then
  "$PY" -m powersim --port 0 --port-file "$WORK/powersim.port" --hang-seconds 2 \
    >"$WORK/powersim.log" 2>&1 &
  PIDS+=($!)
  SIM_PORT="$(wait_port "$WORK/powersim.port" "the power simulator" "$!")"
  POWERSIM=(--powersim "http://127.0.0.1:$SIM_PORT")
fi

# --- Prometheus scraping the simulator (when installed) ---------------------------------------
PROM_URL=
if [ "$DEMO_AGENT" != 0 ] && [ "${DEMO_PROMETHEUS:-1}" != 0 ] && [ -x /usr/bin/prometheus ]; then
  # Prometheus cannot report a port it picked itself: take a free one (a small race, a demo).
  PROM_PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $ROOT/examples/monitoring/powersim-rules.yaml
scrape_configs:
  - job_name: powersim
    static_configs:
      - targets: ["127.0.0.1:$SIM_PORT"]
EOF
  /usr/bin/prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prometheus" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
  PIDS+=($!)
  PROM_URL="http://127.0.0.1:$PROM_PORT"
fi

# CRDs, nodes and (with the simulator) the cluster-scoped TelemetryProfile, before the daemons.
"$PY" "$ROOT/test/support/demo_workload.py" --server "$SERVER" --setup --crds "$ROOT/crds" \
  --nodes "$DEMO_NODES" "${POWERSIM[@]}"

# --- agent (pool mode: one process drives every managed node through the simulator) -----------
if [ "$DEMO_AGENT" != 0 ]; then
  "$JOULIE" agent --mode pool --kubeconfig "$WORK/kubeconfig" --interval 2s \
    --metrics-addr 127.0.0.1:0 --sysfs-root "$WORK/no-sysfs" --state-dir "$WORK/agent-state" \
    >"$WORK/agent.log" 2>&1 &
  PIDS+=($!)
  wait_log "$WORK/agent.log" "serving /metrics" "the agent" "$!"
fi

# --- operator ---------------------------------------------------------------------------------
"$JOULIE" operator --kubeconfig "$WORK/kubeconfig" --policy queue_aware_v1 --interval 2s \
  --queue-hp-base-frac 0.34 --queue-perf-per-hp-node 2 --metrics-addr 127.0.0.1:0 \
  >"$WORK/operator.out" 2>"$WORK/operator.log" &
PIDS+=($!)
# The first pass labels every node; the workload starts after it.
wait_log "$WORK/operator.log" "reconcile pass" "the operator" "$!"

if [ "$DEMO_AGENT" != 0 ]; then
  what="pool-mode agent -> power simulator"
else
  what="no agent (DEMO_AGENT=0)"
fi
if [ -n "$PROM_URL" ]; then
  echo "demo: Prometheus at $PROM_URL scrapes the simulator's /metrics (joulie_sim_*)" >&2
fi
echo "demo: $DEMO_NODES nodes, operator queue_aware_v1 (base 0.34, 2 performance pods per" \
  "performance node), $what, ${DEMO_SECONDS}s" >&2
echo "      NPP-CAP: the operator's NodePowerProfile cap; SIM-CAP: the cap the agent applied;" \
  "POWER: simulated package power (W)" >&2
"$PY" "$ROOT/test/support/demo_workload.py" --server "$SERVER" --nodes "$DEMO_NODES" \
  --duration "$DEMO_SECONDS" "${POWERSIM[@]}"

echo
echo "operator's last pass:"
grep "reconcile pass" "$WORK/operator.log" | tail -n 1 || true
if [ "$DEMO_AGENT" != 0 ]; then
  echo "agent's last apply:"
  grep -i "appl" "$WORK/agent.log" | tail -n 1 || true
fi
if [ -n "$PROM_URL" ]; then
  echo "Prometheus (recording rules over the simulator's /metrics):"
  "$PY" - "$PROM_URL" <<'EOF' || echo "  (Prometheus did not answer: see its log with DEMO_KEEP_LOGS=1)"
import json, sys, urllib.parse, urllib.request
base = sys.argv[1]
for title, query in (("cluster power (W)", "joulie:cluster_it_power_watts:sum"),
                     ("capped nodes", "joulie:capped_nodes:count"),
                     ("hottest node (degC)", "max(joulie:node_temperature_celsius:max)")):
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as r:
        result = json.load(r)["data"]["result"]
    value = result[0]["value"][1] if result else "no data"
    print("  %-20s %s   (%s)" % (title, value, query))
EOF
fi
