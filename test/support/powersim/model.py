"""Per-node power model, a simulated clock and (evaluation mode) jobs, energy and temperature.

Legacy nodes (created on first use, what the agent tests drive): idle + load term, lowered by the
DVFS throttle, clipped by the cap:

    power = min(cap, idle + load * dynamic * (1 - 0.8 * throttle / 100))

so that the agent's DVFS controller can be tested in closed loop: a throttle of p % removes
0.8·p % of the dynamic part. One CPU package per simulated node (the cap is per package).

Evaluation nodes (declared by --eval-config, docs/design.md#evaluation): a hardware type from physics.py, jobs
placed on them by the evaluation's scheduler (POST /sim/jobs), power from their utilisation and the
applied cap, job progress slowed by the cap, a node temperature, and facility power through a PUE
(see physics.py for the models and their sources).

The clock: simulated seconds = factor × real seconds since /sim/start (legacy: factor 1 from the
start). Every request first advances the model to "now" with an event-driven integration (steps end
at job completions, sample instants and at most MAX_STEP simulated seconds apart), so the energy
integrals are Σ power × simulated dt with power constant inside a step: exact for the model and
independent of how fast the machine is. What does depend on the machine is when, in simulated time,
the real control loops' requests arrive.
"""

import threading
import time

from . import physics

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
        # Evaluation mode (hw set): jobs, energy, temperature.
        self.hw = None
        self.temp_offset = 0.0
        self.temperature = physics.INLET_BASE
        self.energy_j = 0.0
        self.jobs = {}  # id -> Job
        self.used_cpus = 0
        self.phys = physics.DEFAULT

    def mix(self):
        """(cpus, memory-bound fraction) of the running jobs: what the package's activity depends on."""
        return [(j.cpus, j.mem_fraction) for j in self.jobs.values()]

    def utilisation(self):
        if self.hw is None:
            return self.load
        return min(1.0, self.used_cpus / float(self.hw.cores))

    def speed(self):
        """Effective relative core speed under the throttle and the cap (evaluation nodes)."""
        limit = physics.throttle_speed(self.throttle_pct)
        return physics.speed_under(self.hw, self.utilisation(), self.cap_watts, limit, self.mix(),
                                   self.phys)

    def package_watts(self):
        if self.hw is None:
            return self.power_watts()
        return physics.package_watts(self.hw, self.utilisation(), self.speed(), self.mix(), self.phys)

    def power_watts(self):
        if self.hw is not None:
            return self.hw.platform_watts + self.package_watts()
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
            "utilisation": round(self.utilisation(), 6),
            "temperatureCelsius": round(self.temperature, 3),
            "energyJoules": self.energy_j,
            "hardware": self.hw.name if self.hw else None,
            "runningJobs": len(self.jobs),
            "usedCpus": self.used_cpus,
        }


class Job:
    def __init__(self, job_id, node, cpus, work, mem_fraction, cls, start):
        self.id = job_id
        self.node = node
        self.cpus = cpus
        self.work = work
        self.remaining = work
        self.mem_fraction = mem_fraction
        self.cls = cls
        self.start = start
        self.capped_seconds = 0.0
        self.capped_since = None  # simulated time the job first ran capped (diagnosis)
        self.rate = 1.0
        # Work done, integrated separately from `remaining` (which ends the job): the evaluation's
        # work-conservation check compares it with the work the job was given.
        self.done_work = 0.0


MAX_STEP = 60.0  # simulated seconds: the longest integration step (ambient temperature changes)


class PowerModel:
    """All nodes, created on first use with the defaults, and the simulated clock. Thread-safe:
    every method that reads or changes state expects self.lock held."""

    def __init__(self, idle_watts=60.0, dynamic_watts=140.0, load=1.0, node_loads=None,
                 eval_config=None, now=time.monotonic):
        self.idle_watts = idle_watts
        self.dynamic_watts = dynamic_watts
        self.load = load
        self.node_loads = dict(node_loads or {})
        self.lock = threading.Lock()
        self.nodes = {}
        self.now = now
        # Clock: legacy runs at factor 1 from construction; evaluation waits for start().
        self.factor = 1.0
        self.t = 0.0
        self.t_base = 0.0
        self.real_base = now()
        self.running = True
        self.horizon = None
        self.stalled = 0.0  # real seconds the clock stood at its horizon
        # Cluster integrals and evaluation bookkeeping.
        self.it_energy_j = 0.0
        self.facility_energy_j = 0.0
        self.perf_capped_seconds = 0.0
        self.performance_cap_watts = 5000.0
        self.sample_seconds = 300.0
        self.next_sample = 0.0
        self.series = []
        self.done = []
        self.capacity_watts = 0.0
        self.last_it_watts = 0.0
        self.last_facility_watts = 0.0
        self.eval_mode = False
        self.cap_log = []  # [t, node, capWatts] of every applied RAPL cap (evaluation mode)
        self.hardware = dict(physics.HARDWARE)
        self.phys = physics.DEFAULT
        if eval_config is not None:
            self.configure(eval_config)

    # ------------------------------------------------------------------ evaluation configuration
    def configure(self, cfg):
        """cfg: {"factor", "performanceCapWatts", "sampleSeconds", "nodes": [{"name", "type",
        "tempOffset"}]}. Raises ValueError on a bad config."""
        if not isinstance(cfg, dict):
            raise ValueError("eval config must be an object")
        factor = float(cfg.get("factor", 60.0))
        if not factor > 0:
            raise ValueError("factor must be > 0")
        nodes = cfg.get("nodes") or []
        if not nodes:
            raise ValueError("eval config needs nodes")
        self.factor = factor
        self.performance_cap_watts = float(cfg.get("performanceCapWatts", 5000.0))
        self.sample_seconds = float(cfg.get("sampleSeconds", 300.0))
        self.eval_mode = True
        self.running = False
        self.t = self.t_base = 0.0
        self.next_sample = 0.0
        for name, d in (cfg.get("hardware") or {}).items():
            self.hardware[name] = physics.HardwareType.from_dict(dict(d, name=name))
        if cfg.get("physics"):
            ph = cfg["physics"]
            self.phys = physics.Physics(float(ph.get("alpha", physics.ALPHA)),
                                        float(ph.get("staticShare", physics.STATIC_SHARE)),
                                        float(ph.get("stallActivity", physics.STALL_ACTIVITY)))
        for spec in nodes:
            hw = self.hardware.get(spec.get("type"))
            if hw is None:
                raise ValueError("unknown hardware type %r" % spec.get("type"))
            node = self.node(str(spec["name"]))
            node.hw = hw
            node.phys = self.phys
            node.temp_offset = float(spec.get("tempOffset", 0.0))
            node.temperature = physics.inlet_celsius(physics.ambient_celsius(0.0), node.temp_offset)
        self.capacity_watts = sum(n.hw.max_node_watts() for n in self.nodes.values() if n.hw)

    def start(self):
        self.advance()
        self.running = True
        self.real_base = self.now()
        self.t_base = self.t

    def stop(self):
        self.advance()
        self.running = False

    # ------------------------------------------------------------------------------ the clock
    def sim_now(self):
        if not self.running:
            return self.t
        t = self.t_base + self.factor * (self.now() - self.real_base)
        if self.horizon is not None and t > self.horizon:
            # The clock stalls at the horizon (the evaluation's scheduler has not caught up): the
            # real time spent waiting is not simulated time, and it resumes from here.
            self.t_base, self.real_base = self.horizon, self.now()
            self.stalled += (t - self.horizon) / self.factor
            return self.horizon
        return t

    def set_horizon(self, horizon):
        """Simulated time the clock may not pass until extended (None: no limit)."""
        self.advance()
        self.horizon = None if horizon is None else max(float(horizon), self.t)

    def advance(self):
        """Integrates the model up to the current simulated time."""
        target = self.sim_now()
        while self.t < target - 1e-9:
            self._step(target)

    def _step(self, target):
        end = min(target, self.t + MAX_STEP)
        if self.eval_mode:
            end = min(end, self.next_sample)
        nodes = list(self.nodes.values())
        info = []
        for n in nodes:
            if n.hw is None:
                info.append((n, n.power_watts(), n.power_watts(), 1.0))
                continue
            s = n.speed()
            pkg = physics.package_watts(n.hw, n.utilisation(), s, n.mix(), n.phys)
            for j in n.jobs.values():
                j.rate = physics.job_rate(s, j.mem_fraction)
                end = min(end, self.t + j.remaining / j.rate)
            info.append((n, n.hw.platform_watts + pkg, pkg, s))
        dt = max(0.0, end - self.t)
        ambient = physics.ambient_celsius(self.t)
        it = 0.0
        for n, power, pkg, s in info:
            n.energy_j += power * dt
            it += power
            n.temperature = physics.thermal_step(
                n.temperature, physics.inlet_celsius(ambient, n.temp_offset) + physics.R_TH * pkg, dt)
            if not n.jobs:
                continue
            capped = n.cap_watts is not None and n.cap_watts < self.performance_cap_watts
            finished = []
            for j in n.jobs.values():
                j.remaining -= j.rate * dt
                j.done_work += j.rate * dt
                if capped and j.cls == "performance" and dt > 0:
                    if j.capped_since is None:
                        j.capped_since = self.t
                    j.capped_seconds += dt
                    self.perf_capped_seconds += dt
                if j.remaining <= 1e-9 * max(1.0, j.work):
                    finished.append(j)
            for j in finished:
                del n.jobs[j.id]
                n.used_cpus -= j.cpus
                self.done.append({"id": j.id, "node": n.name, "class": j.cls, "start": j.start,
                                  "finish": end, "work": j.work, "cpus": j.cpus,
                                  "workDone": j.done_work, "memFraction": j.mem_fraction,
                                  "cappedSeconds": j.capped_seconds,
                                  "cappedSince": j.capped_since})
        facility = physics.facility_watts(it, ambient, self.capacity_watts) if self.eval_mode else it
        self.it_energy_j += it * dt
        self.facility_energy_j += facility * dt
        self.last_it_watts = it
        self.last_facility_watts = facility
        self.t = end
        if self.eval_mode and self.t >= self.next_sample - 1e-9:
            self.sample()
            self.next_sample += self.sample_seconds

    def sample(self):
        """One point of the power time series (at the current simulated time)."""
        it = 0.0
        capped = 0
        busy = 0
        temps = []
        for n in self.nodes.values():
            if n.hw is None:
                continue
            it += n.power_watts()
            temps.append(n.temperature)
            busy += n.used_cpus
            if n.cap_watts is not None and n.cap_watts < self.performance_cap_watts:
                capped += 1
        ambient = physics.ambient_celsius(self.t)
        facility = physics.facility_watts(it, ambient, self.capacity_watts)
        self.series.append({"t": round(self.t, 3), "itWatts": round(it, 3),
                            "facilityWatts": round(facility, 3),
                            "pue": round(facility / it, 5) if it > 0 else None,
                            "ambientCelsius": round(ambient, 3),
                            "maxTemperatureCelsius": round(max(temps), 3) if temps else None,
                            "cappedNodes": capped, "busyCpus": busy,
                            "itEnergyJoules": self.it_energy_j,
                            "facilityEnergyJoules": self.facility_energy_j})

    # --------------------------------------------------------------------------------- jobs
    def add_job(self, body):
        """Starts a job on an evaluation node now; raises ValueError (bad body) or KeyError
        (unknown node / no room)."""
        if not isinstance(body, dict):
            raise ValueError("body must be an object")
        try:
            job_id = str(body["id"])
            node_name = str(body["node"])
            cpus = int(body["cpus"])
            work = float(body["work"])
            mem = float(body.get("memFraction", 0.0))
            cls = str(body.get("class", "general"))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError("bad job: %s" % e) from None
        if cpus <= 0 or work <= 0 or not 0.0 <= mem <= 1.0:
            raise ValueError("cpus and work must be > 0, memFraction in [0,1]")
        node = self.nodes.get(node_name)
        if node is None or node.hw is None:
            raise KeyError("no evaluation node %r" % node_name)
        if node.used_cpus + cpus > node.hw.cores:
            raise KeyError("node %s has %d of %d cores free" % (node_name, node.hw.cores - node.used_cpus,
                                                                node.hw.cores))
        if any(job_id in n.jobs for n in self.nodes.values()):
            raise ValueError("job %s is already running" % job_id)
        self.advance()
        node.jobs[job_id] = Job(job_id, node_name, cpus, work, mem, cls, self.t)
        node.used_cpus += cpus
        return {"id": job_id, "node": node_name, "start": self.t}

    def status(self, with_nodes=True):
        out = {"t": self.t, "running": self.running, "factor": self.factor,
               "itEnergyJoules": self.it_energy_j, "facilityEnergyJoules": self.facility_energy_j,
               "nodeEnergyJoules": sum(n.energy_j for n in self.nodes.values() if n.hw),
               "perfCappedSeconds": self.perf_capped_seconds, "done": len(self.done),
               "runningJobs": sum(len(n.jobs) for n in self.nodes.values()),
               "performanceCapWatts": self.performance_cap_watts,
               "capacityWatts": self.capacity_watts, "stalledRealSeconds": self.stalled}
        if with_nodes:
            out["nodes"] = {n.name: {"capWatts": n.cap_watts, "powerWatts": n.power_watts(),
                                     "utilisation": n.utilisation(), "usedCpus": n.used_cpus,
                                     "temperatureCelsius": n.temperature, "energyJoules": n.energy_j,
                                     "hardware": n.hw.name if n.hw else None}
                            for n in self.nodes.values()}
        return out

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
    """Checks a control body (docs/design.md#http-simulator-contract); returns (action, value) or raises ValueError with the reason."""
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
