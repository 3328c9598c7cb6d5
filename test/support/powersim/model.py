"""Per-node power model: idle + load term, lowered by the DVFS throttle, clipped by the cap.

    power = min(cap, idle + load * dynamic * (1 - 0.8 * throttle / 100))

so that the agent's DVFS controller can be tested in closed loop: a throttle of p % removes
0.8·p % of the dynamic part. One CPU package per simulated node (the cap is per package).
"""

import threading

CONTROL_FAULTS = ("none", "blocked", "error", "500", "garbage", "hang")
TELEMETRY_FAULTS = ("none", "500", "garbage", "hang", "stale")
RAPL_ACTION = "rapl.set_power_cap_watts"
DVFS_ACTION = "dvfs.set_throttle_pct"
ACTIONS = (RAPL_ACTION, DVFS_ACTION)


class NodeModel:
    def __init__(self, name, idle_watts, dynamic_watts, load):
        self.name = name
        self.idle_watts = float(idle_watts)
        self.dynamic_watts = float(dynamic_watts)
        self.load = float(load)
        self.cap_watts = None
        self.throttle_pct = 0
        # Fault per channel: "rapl", "dvfs" (control actions) and "telemetry".
        self.faults = {"rapl": "none", "dvfs": "none", "telemetry": "none"}
        self.control_calls = {a: 0 for a in ACTIONS}
        self.applied_calls = {a: 0 for a in ACTIONS}
        self.telemetry_calls = 0
        self.last_control = None

    def power_watts(self):
        raw = self.idle_watts + self.load * self.dynamic_watts * (1.0 - 0.8 * self.throttle_pct / 100.0)
        if self.cap_watts is not None:
            raw = min(raw, self.cap_watts)
        return round(raw, 3)

    def state(self):
        return {
            "node": self.name,
            "capWatts": self.cap_watts,
            "throttlePct": self.throttle_pct,
            "powerWatts": self.power_watts(),
            "load": self.load,
            "idleWatts": self.idle_watts,
            "dynamicWatts": self.dynamic_watts,
            "faults": dict(self.faults),
            "controlCalls": dict(self.control_calls),
            "appliedCalls": dict(self.applied_calls),
            "telemetryCalls": self.telemetry_calls,
            "lastControl": self.last_control,
        }


class PowerModel:
    """All nodes, created on first use with the defaults. Thread-safe."""

    def __init__(self, idle_watts=60.0, dynamic_watts=140.0, load=1.0, node_loads=None):
        self.idle_watts = idle_watts
        self.dynamic_watts = dynamic_watts
        self.load = load
        self.node_loads = dict(node_loads or {})
        self.lock = threading.Lock()
        self.nodes = {}

    def node(self, name):
        """Returns the node, creating it; call with self.lock held."""
        node = self.nodes.get(name)
        if node is None:
            node = NodeModel(name, self.idle_watts, self.dynamic_watts,
                             self.node_loads.get(name, self.load))
            self.nodes[name] = node
        return node

    def reset(self):
        with self.lock:
            self.nodes.clear()


def validate_control(body, path_node):
    """Checks a §5.6 control body; returns (action, value) or raises ValueError with the reason."""
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    required = ("node", "action", "capWatts", "throttlePct", "ts")
    missing = [k for k in required if k not in body]
    if missing:
        raise ValueError("missing fields: " + ", ".join(missing))
    extra = sorted(set(body) - set(required))
    if extra:
        raise ValueError("unexpected fields: " + ", ".join(extra))
    if body["node"] != path_node:
        raise ValueError("body node %r does not match the URL node %r" % (body["node"], path_node))
    if not isinstance(body["ts"], str) or not body["ts"]:
        raise ValueError("ts must be an RFC 3339 string")
    cap = body["capWatts"]
    pct = body["throttlePct"]
    if isinstance(cap, bool) or not isinstance(cap, (int, float)):
        raise ValueError("capWatts must be a number")
    if isinstance(pct, bool) or not isinstance(pct, int):
        raise ValueError("throttlePct must be an integer")
    action = body["action"]
    if action == RAPL_ACTION:
        if cap <= 0:
            raise ValueError("capWatts must be > 0 for %s" % RAPL_ACTION)
        if pct != -1:
            raise ValueError("throttlePct must be -1 for %s" % RAPL_ACTION)
        return action, float(cap)
    if action == DVFS_ACTION:
        if not 0 <= pct <= 100:
            raise ValueError("throttlePct must be in [0,100]")
        return action, pct
    raise ValueError("unknown action %r" % (action,))
