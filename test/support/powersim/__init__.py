"""Power simulator for Joulie's agent (docs/testing.md, docs/design.md#http-simulator-contract).

Serves, per node:
  GET  /telemetry/{node}  {"node","packagePowerWatts","cpu":{"packagePowerWatts"},"ts"}
  POST /control/{node}    the control body (docs/design.md#http-simulator-contract); applies rapl.set_power_cap_watts / dvfs.set_throttle_pct
  GET  /state/{node}      cap, throttle, power, load and call counts, for test assertions
  POST /load/{node}       {"load": 0..1, "idleWatts"?, "dynamicWatts"?}
  POST /faults/{node}     {"rapl"|"dvfs"|"control"|"telemetry": "none|blocked|error|500|garbage|hang|stale"}
  POST /reset             forget every node
  GET  /healthz
  GET  /metrics           Prometheus text format: per-node power, temperature, cap, utilisation,
                          energy; IT/facility power, PUE, ambient temperature (metrics.py)
Evaluation mode (--eval-config FILE, docs/design.md#evaluation; models in physics.py):
  POST /sim/start|stop    run / freeze the simulated clock (factor × real time)
  POST /sim/jobs          {"id","node","cpus","work","memFraction","class"}: start a job now
  GET  /sim/done?from=K[&lead=L]
                          jobs finished since index K: start/finish in simulated seconds, workDone;
                          with lead: the clock may not run more than L simulated seconds past now
                          until the next such call (it stalls there)
  GET  /sim/status        clock, energy integrals, performance-pod-seconds capped, nodes (?nodes=0)
  GET  /sim/series        the power time series sampled every sampleSeconds of simulated time
  GET  /sim/caps          every RAPL cap applied in evaluation mode: [t, node, capWatts]
  GET  /sim/hardware      the hardware types and their power curves

Run: PYTHONPATH=test/support python3 -m powersim --port 0 --port-file /tmp/port
"""

from .model import NodeModel, PowerModel  # noqa: F401
from .server import PowerSimServer, serve  # noqa: F401
