"""Power simulator for Joulie's agent (TESTING.md §3, SPEC.md §5.6).

Serves, per node:
  GET  /telemetry/{node}  {"node","packagePowerWatts","cpu":{"packagePowerWatts"},"ts"}
  POST /control/{node}    the §5.6 body; applies rapl.set_power_cap_watts / dvfs.set_throttle_pct
  GET  /state/{node}      cap, throttle, power, load and call counts, for test assertions
  POST /load/{node}       {"load": 0..1, "idleWatts"?, "dynamicWatts"?}
  POST /faults/{node}     {"rapl"|"dvfs"|"control"|"telemetry": "none|blocked|error|500|garbage|hang|stale"}
  POST /reset             forget every node
  GET  /healthz

Run: PYTHONPATH=test/support python3 -m powersim --port 0 --port-file /tmp/port
"""

from .model import NodeModel, PowerModel  # noqa: F401
from .server import PowerSimServer, serve  # noqa: F401
