"""One baseline of the energy evaluation: the real joulie operator and pool-mode agent on the test API
server (kapi) and the power simulator (powersim, evaluation mode), with a scheduler stand-in that
replays a trace (docs/design.md#evaluation, docs/evaluation.md).

Time: the simulator's clock runs `factor` simulated seconds per real second. The joulie daemons run
in real time, so their intervals are set from the factor (see control_flags) and every real
latency of the loop (watch → apply, the scheduler's polling) is stretched by the factor in
simulated time.

The scheduler stand-in, every `tick` real seconds:
  1. asks the simulator which jobs finished (exact simulated finish times) and marks their pods
     Succeeded (status subresource), freeing their cores;
  2. creates the pods of the jobs that have arrived (simulated time ≥ arrival), with the class's
     `joulie.io/power-profile` nodeSelector (performance / eco; general: none) and a CPU request;
  3. lists the nodes and binds pending pods in arrival order (later pods may pass one that does not
     fit): a pod requiring `performance` only on a node labelled exactly `performance` (never
     `draining-performance`), `eco` only on `eco`, general anywhere; enough free cores; among those the
     least allocated node (kube-scheduler's default LeastAllocated score), ties by name. Binding =
     setting spec.nodeName, then starting the job in the simulator (which runs it at the speed the
     node's applied cap allows).
"""

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import quote

import polling
from powersim import physics

from . import predicates

PROFILE = "joulie.io/power-profile"
HARDWARE_LABEL = "joulie.io/hardware-type"
NPP = "/apis/joulie.io/v1alpha1/nodepowerprofiles"
TP = "/apis/joulie.io/v1alpha1/telemetryprofiles"
CRD = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
PODS = "/api/v1/namespaces/default/pods"
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
PERFORMANCE_CAP = 5000.0
HORIZON_TICKS = 2.0


class EvalError(Exception):
    pass


class Client:
    """A keep-alive HTTP/JSON client that reconnects once on a dropped connection."""

    def __init__(self, port, timeout=30.0):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def call(self, method, path, body=None, content_type="application/json"):
        data = body if isinstance(body, bytes) else (
            json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                try:
                    obj = json.loads(raw) if raw else None
                except ValueError:
                    obj = None
                return resp.status, obj
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def ok(self, method, path, body=None, content_type="application/json", codes=(200, 201)):
        code, obj = self.call(method, path, body, content_type)
        if code not in codes:
            raise EvalError("%s %s: HTTP %s %s" % (method, path, code, obj))
        return obj


class LabelWatch:
    """Every node's power-profile label, kept current by a watch on the nodes (a list of 1 000
    nodes every tick would cost the scheduler more than the replay). Re-lists on a broken watch."""

    def __init__(self, port):
        self.port = port
        self.lock = threading.Lock()
        self.labels = {}
        self.synced = threading.Event()
        self.stopping = False
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def snapshot(self):
        with self.lock:
            return dict(self.labels)

    def label(self, name):
        with self.lock:
            return self.labels.get(name)

    def stop(self):
        self.stopping = True

    @staticmethod
    def _label(obj):
        return ((obj.get("metadata") or {}).get("labels") or {}).get(PROFILE)

    def _run(self):
        client = Client(self.port, timeout=60)
        while not self.stopping:
            try:
                code, obj = client.call("GET", "/api/v1/nodes")
                if code != 200:
                    raise EvalError("listing nodes: HTTP %s" % code)
                with self.lock:
                    self.labels = {n["metadata"]["name"]: self._label(n) for n in obj.get("items") or []}
                self.synced.set()
                rv = obj["metadata"]["resourceVersion"]
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                conn.request("GET", "/api/v1/nodes?watch=true&allowWatchBookmarks=true"
                             "&timeoutSeconds=3600&resourceVersion=%s" % rv)
                resp = conn.getresponse()
                while not self.stopping:
                    line = resp.readline()
                    if not line:
                        break
                    ev = json.loads(line)
                    kind, o = ev.get("type"), ev.get("object") or {}
                    if kind == "ERROR":
                        break
                    name = (o.get("metadata") or {}).get("name")
                    with self.lock:
                        if kind in ("ADDED", "MODIFIED"):
                            self.labels[name] = self._label(o)
                        elif kind == "DELETED":
                            self.labels.pop(name, None)
                conn.close()
            except (OSError, ValueError, KeyError, http.client.HTTPException, EvalError) as e:
                self.error = e
                time.sleep(0.1)  # back off before re-listing


class Sampler:
    """An independent energy meter: a thread that scrapes the simulator's /metrics (the Prometheus
    exposition a real Prometheus reads) every `every` real seconds and integrates the cluster's IT
    power gauge over the simulated clock of the same scrape (left Riemann sum: each reading holds
    until the next). It shares nothing with the simulator's event-driven integral but the model's
    instantaneous power, so a wrong step, a missed interval or a lost sample shows as a difference
    (docs/evaluation.md, invariants). Started before the clock runs, finished after it stops."""

    def __init__(self, port, every):
        self.port = port
        self.conn = None
        self.every = every
        self.points = []
        self.error = None
        self.stopping = threading.Event()
        self._scrape()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _scrape(self):
        if self.conn is None:  # its own keep-alive connection
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            self.conn.request("GET", "/metrics")
            text = self.conn.getresponse().read().decode()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise
        t = power = None
        for line in text.splitlines():
            if line.startswith("joulie_sim_time_seconds "):
                t = float(line.split()[1])
            elif line.startswith("joulie_sim_it_power_watts "):
                power = float(line.split()[1])
        if t is None or power is None:
            raise EvalError("the simulator's /metrics lacks the clock or the IT power")
        self.points.append((t, power))

    def _run(self):
        while not self.stopping.wait(self.every):
            try:
                self._scrape()
            except (OSError, ValueError, http.client.HTTPException, EvalError) as e:
                self.error = str(e)  # a lost sample: the next reading covers the gap

    def finish(self):
        self.stopping.set()
        self.thread.join(10)
        self._scrape()  # the clock is stopped: the last reading closes the integral
        energy = 0.0
        for (t0, p0), (t1, _) in zip(self.points, self.points[1:]):
            energy += p0 * max(0.0, t1 - t0)
        gaps = [b[0] - a[0] for a, b in zip(self.points, self.points[1:])]
        return {"energyJoules": energy, "samples": len(self.points), "until": self.points[-1][0],
                "everyRealSeconds": self.every,
                "maxGapSimSeconds": round(max(gaps), 3) if gaps else None, "lastError": self.error}


class Procs:
    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = []

    def start(self, name, argv, env=None):
        log = open(os.path.join(self.workdir, name + ".log"), "w")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        self.procs.append((name, proc, log))
        return proc

    @staticmethod
    def _terminate(proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop(self, name):
        for i, (n, proc, log) in enumerate(self.procs):
            if n == name:
                self._terminate(proc)
                log.close()
                del self.procs[i]
                return

    def stop_all(self):
        for name, proc, log in reversed(self.procs):
            self._terminate(proc)
            log.close()
        self.procs = []

    def check_alive(self):
        for name, proc, _ in self.procs:
            if proc.poll() is not None:
                raise EvalError("%s exited with %s; see %s" % (
                    name, proc.returncode, os.path.join(self.workdir, name + ".log")))


def wait_for(what, fn, timeout, procs=None, every=0.05):
    return polling.wait_for(fn, timeout, every, what, EvalError,
                            procs.check_alive if procs is not None else None)


def read_port(path):
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    return int(text) if text.endswith("\n") else None


def node_names(count):
    return ["sim-node-%03d" % i for i in range(1, count + 1)]


def cluster_nodes(count, seed, hardware=None):
    """The heterogeneous node mix with seeded inlet offsets (rack position): physics.HARDWARE_MIX
    for `count` nodes, or a hardware file's types and counts (hardware.load; count is then ignored),
    interleaved so that every type spreads over the node names."""
    rng = random.Random("nodes-%s" % seed)
    if hardware is None:
        types = [physics.HARDWARE_MIX[i % len(physics.HARDWARE_MIX)] for i in range(count)]
    else:
        slots = []
        for name, n in hardware["counts"]:
            slots += [((k + 0.5) / n, name) for k in range(n)]
        types = [name for _, name in sorted(slots)]
    return [{"name": name, "type": t, "tempOffset": round(rng.uniform(-2.0, 3.0), 2)}
            for name, t in zip(node_names(len(types)), types)]


def hardware_types(hardware=None):
    """name -> physics.HardwareType: the built-in types, or a hardware file's."""
    return dict(physics.HARDWARE) if hardware is None else dict(hardware["types"])


def duration(seconds):
    """A Go-style duration the joulie flags accept, in whole milliseconds (≥ 1 ms)."""
    return "%dms" % max(1, int(round(seconds * 1000)))


# The two-phase downgrade's settle time, in real seconds. It covers real latencies (the label's
# watch reaching the scheduler stand-in, a bind reaching the operator's pod cache: milliseconds
# here), so it is not scaled by the factor; the default 2 s would hold every downgrading node
# uncapped for 2 × factor simulated seconds.
DOWNGRADE_SETTLE_REAL = 0.25


def control_flags(factor):
    """Real-time settings of the control loops for a clock factor (docs/evaluation.md):
    - operator --interval: its default 1 min of simulated time → 60 / factor real seconds;
    - agent --interval: re-application and telemetry sampling only (NodePowerProfile changes are
      applied from the watch, within 1 s real): 1 s real, i.e. `factor` simulated seconds;
    - agent --telemetry-ttl: 5 agent intervals (its default ratio is 3); --dvfs-cooldown: the
      default 20 s simulated (the evaluation's route is RAPL, so the DVFS controller stays idle).
    """
    return {
        "operator": ["--interval", duration(60.0 / factor),
                     "--downgrade-settle", duration(DOWNGRADE_SETTLE_REAL)],
        "agent": ["--interval", "1s", "--telemetry-ttl", "5s",
                  "--dvfs-cooldown", duration(20.0 / factor)],
    }


class Baseline:
    def __init__(self, key, title, policy, flags):
        self.key = key
        self.title = title
        self.policy = policy
        self.flags = flags
        self.policy_config = None
        self.constrained = True  # pods carry the class's power-profile nodeSelector
        # Performance pods may run under a cap by design (the uniform-cap ablation): the
        # "no performance-pod-second capped" invariant does not apply.
        self.caps_performance = False


# The client-side rate limit (default 20 requests/s) is real-time: under a clock factor F it would be
# F times stricter in simulated time than in a real cluster, so the evaluation lifts it.
KUBE_RATE = ["--kube-qps", "2000", "--kube-burst", "4000"]


PROMETHEUS = "/usr/bin/prometheus"
D_BASE_FRACTION = 0.2
D_MIN_DWELL_SIM = 600.0  # simulated seconds a node stays in a state before a downgrade
D_CHANGE_BUDGET = 0.1  # of the managed nodes per pass, at least 1 (10 % of 6 would round to none)


def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def policy_file(path, nodes, perf_per_node, eco_cap, factor, prometheus_url, stability=False):
    """Baseline D's policy file (docs/design.md#policy-file): the same demand parameters as C and, with Prometheus in
    the loop, the signals the simulator exports (examples/monitoring/powersim-rules.yaml); the
    stability block unless --no-d-stability. No time windows: the
    operator's clock is real time, it cannot follow the simulated day."""
    lines = [
        "apiVersion: joulie.io/v1alpha1",
        "kind: PolicyConfig",
        "policy: context_aware_v1",
        "timeZone: UTC",
        "performance: {baseFraction: %g, min: 1, max: %d, perfPodsPerNode: %d," % (
            D_BASE_FRACTION, nodes, perf_per_node),
        "              performanceCapWatts: %g, ecoCapWatts: %g}" % (PERFORMANCE_CAP, eco_cap),
    ]
    if stability:
        lines.append("stability: {minDwell: %s, changeBudget: %d}" % (
            duration(D_MIN_DWELL_SIM / factor), max(1, int(round(D_CHANGE_BUDGET * nodes)))))
    if prometheus_url:
        lines += [
            "signals:",
            "  prometheus: {endpoint: \"%s\", timeout: 2s}" % prometheus_url,
            "  nodeTemperature: {query: \"joulie:node_temperature_celsius:max\", nodeLabel: node, "
            "maxAge: 30s}",
            "  nodePower: {query: \"joulie:node_power_watts:sum\", nodeLabel: node, maxAge: 30s}",
            "  pue: {query: \"joulie:pue:ratio\", maxAge: 30s}",
        ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def start_prometheus(procs, workdir, sim_port, rules):
    """A real Prometheus scraping the simulator every 250 ms with the recording rules loaded;
    its URL once ready."""
    port = free_port()
    cfg = os.path.join(workdir, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 250ms\n  evaluation_interval: 250ms\n"
                "rule_files:\n  - %s\nscrape_configs:\n  - job_name: powersim\n"
                "    static_configs:\n      - targets: [\"127.0.0.1:%d\"]\n" % (rules, sim_port))
    procs.start("prometheus", [PROMETHEUS, "--config.file=" + cfg,
                               "--storage.tsdb.path=" + os.path.join(workdir, "prometheus"),
                               "--web.listen-address=127.0.0.1:%d" % port])
    url = "http://127.0.0.1:%d" % port
    client = Client(port, timeout=5)

    def ready():
        try:
            code, obj = client.call("GET", "/api/v1/query?query=joulie%3Apue%3Aratio")
        except OSError:
            return False
        return code == 200 and bool(((obj or {}).get("data") or {}).get("result"))
    wait_for("Prometheus to scrape the simulator", ready, 60, procs, every=0.2)
    return url


def operator_collects_signals(workdir, procs):
    """Whether the operator exports joulie_context_source_up (docs/design.md#context-and-signals) once it runs."""
    log_path = os.path.join(workdir, "operator.log")

    def port():
        try:
            with open(log_path) as f:
                for line in f:
                    if "serving /metrics" in line and " port=" in line:
                        return int(line.rsplit(" port=", 1)[1].split()[0])
        except (OSError, ValueError):
            return None
        return None
    metrics_port = wait_for("the operator's metrics port", port, 30, procs)

    def has_source():
        try:
            conn = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=5)
            conn.request("GET", "/metrics")
            text = conn.getresponse().read().decode(errors="replace")
            conn.close()
        except OSError:
            return None
        return "ok" if "joulie_context_source_up" in text else None
    try:
        wait_for("joulie_context_source_up", has_source, 5, procs, every=0.2)
        return True
    except EvalError:
        return False


def baselines(eco_cap, perf_per_node, policy_config=None, d_stability=False):
    common = ["--performance-cap-watts", "%g" % PERFORMANCE_CAP]
    # A: a cluster without power management. The operator and the agent still run (every node
    # labelled performance, the performance cap applied: nothing capped), and the trace's jobs are
    # submitted as they would be to a cluster without Joulie: without power-profile constraints.
    a = Baseline("A", "no power management (every node performance, pods unconstrained)",
                 "static_partition", common + ["--policy", "static_partition", "--static-hp-frac", "1",
                                               "--eco-cap-watts", "%g" % PERFORMANCE_CAP])
    a.constrained = False
    def static(frac, cap):
        return common + ["--policy", "static_partition", "--static-hp-frac", frac,
                         "--eco-cap-watts", "%g" % cap]

    def queue(cap):
        return common + ["--policy", "queue_aware_v1", "--queue-hp-base-frac", "0.2",
                         "--queue-hp-min", "1", "--queue-perf-per-hp-node", str(perf_per_node),
                         "--eco-cap-watts", "%g" % cap]
    # The ablations separate placement from capping: B0 and C0 keep B's and C's labels and pod
    # constraints but their eco cap is the performance cap (nothing is ever capped); U caps every
    # node at the eco cap with no partition and unconstrained pods.
    u = Baseline("U", "uniform eco cap on every node (no partition, pods unconstrained)",
                 "static_partition", static("0", eco_cap))
    u.constrained = False
    u.caps_performance = True
    out = [
        a,
        Baseline("B", "static_partition (half the nodes eco)", "static_partition",
                 static("0.5", eco_cap)),
        Baseline("C", "queue_aware_v1 (base 0.2, %d performance pods per node)" % perf_per_node,
                 "queue_aware_v1", queue(eco_cap)),
        Baseline("B0", "B's partition and pod constraints, no caps", "static_partition",
                 static("0.5", PERFORMANCE_CAP)),
        Baseline("C0", "C's placement and pod constraints, no caps", "queue_aware_v1",
                 queue(PERFORMANCE_CAP)),
        u,
    ]
    # D's settings are in its policy file (written per run, see policy_file) unless one is given.
    d_flags = common + ["--policy", "context_aware_v1", "--eco-cap-watts", "%g" % eco_cap]
    d = Baseline("D", "context_aware_v1 (base 0.2, %d performance pods per node%s)" % (
        perf_per_node, ", minDwell 10 min, budget 10 %" if d_stability else ""), "context_aware_v1",
        d_flags)
    d.policy_config = policy_config
    d.perf_per_node = perf_per_node
    d.eco_cap = eco_cap
    out.append(d)
    return out


def supports_policy(joulie, policy):
    """Whether this joulie build accepts --policy NAME (its --help names it)."""
    res = subprocess.run([joulie, "operator", "--help"], capture_output=True, text=True, timeout=30)
    return policy in (res.stdout + res.stderr)


def pod_selector(job, constrained=True):
    """The pod's nodeSelector: the class's power profile (performance / eco; general: none; none
    at all in the unconstrained baselines) and whatever else the job requires (the heterogeneous
    scenario's instance type)."""
    sel = dict(job.get("nodeSelector") or {})
    if constrained and job["class"] != "general":
        sel[PROFILE] = job["class"]
    return sel


def pod_request(job):
    """What the stand-in reserves for the pod (predicates.py): CPU cores and memory bytes."""
    return {"nodeSelector": None, "tolerations": job.get("tolerations") or [], "cpu": job["cpus"],
            "memory": job.get("memory", 0)}


def pod_body(job, constrained=True):
    requests = {"cpu": str(job["cpus"])}
    if job.get("memory"):
        requests["memory"] = str(job["memory"])
    spec = {"containers": [{"name": "work", "image": "registry.example/batch:1",
                            "resources": {"requests": requests}}],
            "restartPolicy": "Never"}
    sel = pod_selector(job, constrained)
    if sel:
        spec["nodeSelector"] = sel
    if job.get("tolerations"):
        spec["tolerations"] = job["tolerations"]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": job["id"], "namespace": "default",
                         "labels": {"app": "eval", "eval.joulie.io/class": job["class"]}},
            "spec": spec}


def run_baseline(baseline, trace, cfg, workdir, log=print):
    """Runs one baseline to the last job's completion; returns the raw result (see collect)."""
    os.makedirs(workdir, exist_ok=True)
    procs = Procs(workdir)
    try:
        return _run(baseline, trace, cfg, workdir, procs, log)
    finally:
        procs.stop_all()


def _start_cluster(cfg, workdir, procs, nodes, types):
    """The test API server with the CRDs, the nodes and the TelemetryProfile routing every node
    through the power simulator (RAPL), and the simulator itself: (kapi, sim, kport, sport)."""
    env = dict(os.environ, PYTHONPATH=cfg["support"], PYTHONDONTWRITEBYTECODE="1")
    procs.start("kapi", [PYTHON, "-m", "kapi", "--host", "127.0.0.1", "--port", "0", "--port-file",
                         os.path.join(workdir, "kapi.port"), "--history", "100000"], env)
    kport = wait_for("the test API server", lambda: read_port(os.path.join(workdir, "kapi.port")), 30,
                     procs)
    sim_cfg = {"factor": cfg["factor"], "performanceCapWatts": PERFORMANCE_CAP,
               "sampleSeconds": cfg["sample_seconds"], "nodes": nodes,
               "hardware": {k: hw.describe() for k, hw in types.items()}}
    with open(os.path.join(workdir, "powersim.json"), "w") as f:
        json.dump(sim_cfg, f)
    procs.start("powersim", [PYTHON, "-m", "powersim", "--port", "0", "--port-file",
                             os.path.join(workdir, "powersim.port"), "--hang-seconds", "2",
                             "--eval-config", os.path.join(workdir, "powersim.json")], env)
    sport = wait_for("the power simulator", lambda: read_port(os.path.join(workdir, "powersim.port")),
                     30, procs)
    kapi, sim = Client(kport), Client(sport)
    with open(os.path.join(workdir, "kubeconfig"), "w") as f:
        f.write("apiVersion: v1\nkind: Config\ncurrent-context: eval\nclusters:\n- name: eval\n"
                "  cluster:\n    server: http://127.0.0.1:%d\nusers:\n- name: eval\n  user: {}\n"
                "contexts:\n- name: eval\n  context:\n    cluster: eval\n    user: eval\n" % kport)
    for name in sorted(os.listdir(cfg["crds"])):
        if name.endswith(".yaml"):
            with open(os.path.join(cfg["crds"], name), "rb") as f:
                kapi.ok("POST", CRD, f.read(), "application/yaml", codes=(201, 409))
    for n in nodes:
        c = str(types[n["type"]].cores)
        labels = {"joulie.io/managed": "true", HARDWARE_LABEL: n["type"]}
        labels.update(n.get("labels") or {})
        alloc = {"cpu": c}
        if n.get("memory"):
            alloc["memory"] = str(n["memory"])
        kapi.ok("POST", "/api/v1/nodes", {
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": n["name"], "labels": labels},
            "spec": {"taints": n["taints"]} if n.get("taints") else {},
            "status": {"capacity": alloc, "allocatable": alloc,
                       "conditions": [{"type": "Ready", "status": "True"}]}})
    base = "http://127.0.0.1:%d" % sport
    wait_for("the NodePowerProfile CRD to serve",
             lambda: kapi.call("GET", TP)[0] == 200, 30, procs)
    kapi.ok("POST", TP, {
        "apiVersion": "joulie.io/v1alpha1", "kind": "TelemetryProfile",
        "metadata": {"name": "eval-power-simulator"},
        "spec": {"target": {"scope": "cluster"},
                 "sources": {"cpu": {"type": "http", "http": {
                     "endpoint": base + "/telemetry/{node}", "timeoutSeconds": 2}}},
                 "controls": {"cpu": {"type": "http", "http": {
                     "endpoint": base + "/control/{node}", "timeoutSeconds": 2, "mode": "rapl"}}}}})
    return kapi, sim, kport, sport


def _start_daemons(baseline, cfg, workdir, procs, sport, node_count):
    """The real agent and operator (baseline D: its policy file, with Prometheus in the loop when
    installed): (extra operator flags, D's signals line or None)."""
    factor = cfg["factor"]
    extra, signals = [], None
    if baseline.policy == "context_aware_v1":
        path = baseline.policy_config
        if path is None:
            prom = None
            if os.access(PROMETHEUS, os.X_OK) and cfg.get("prometheus", True):
                prom = start_prometheus(procs, workdir, sport, cfg["rules"])
            path = os.path.join(workdir, "policy.yaml")
            policy_file(path, node_count, baseline.perf_per_node, baseline.eco_cap, factor, prom,
                        cfg.get("d_stability", False))
            signals = "Prometheus (scraping the simulator every 250 ms)" if prom else "none"
        extra = ["--policy-config", path]
    flags = control_flags(factor)
    kube = ["--kubeconfig", os.path.join(workdir, "kubeconfig"), "--metrics-addr", "127.0.0.1:0"]
    procs.start("agent", [cfg["joulie"], "agent", "--mode", "pool", *kube, *KUBE_RATE, *flags["agent"],
                          "--sysfs-root", os.path.join(workdir, "no-sysfs"),
                          "--state-dir", os.path.join(workdir, "agent-state")])
    operator_argv = [cfg["joulie"], "operator", *kube, *KUBE_RATE, *flags["operator"], *baseline.flags]
    procs.start("operator", operator_argv + extra)
    if signals and signals != "none" and not operator_collects_signals(workdir, procs):
        # This build reads the signals block but its operator does not collect it: every signal
        # would stay missing and hold every node where it is. Run D on demand and stability
        # alone, and say so.
        procs.stop("operator")
        policy_file(extra[1], node_count, baseline.perf_per_node, baseline.eco_cap, factor, None,
                    cfg.get("d_stability", False))
        signals = ("none: this build's operator does not collect the signals block "
                   "(no joulie_context_source_up on its /metrics), so D ran on demand and stability")
        procs.start("operator", operator_argv + extra)
    return extra, signals


def _wait_initial_state(kapi, sim, nodes, cfg, procs):
    def initial_state():
        # Every node labelled and its NodePowerProfile cap applied in the simulator.
        code, obj = kapi.call("GET", "/api/v1/nodes")
        if code != 200:
            return False
        labels = {n["metadata"]["name"]: (n["metadata"].get("labels") or {}).get(PROFILE)
                  for n in obj.get("items") or []}
        if any(labels.get(n["name"]) is None for n in nodes):
            return False
        code, npps = kapi.call("GET", NPP)
        want = {o["spec"]["nodeName"]: (o["spec"].get("cpu") or {}).get("packagePowerCapWatts")
                for o in (npps or {}).get("items") or []}
        st = sim.ok("GET", "/sim/status")
        return all(want.get(n["name"]) is not None and
                   st["nodes"][n["name"]]["capWatts"] == want[n["name"]] for n in nodes)
    wait_for("every node labelled and its cap applied", initial_state, cfg["start_timeout"], procs)


class Scheduler:
    """The scheduler stand-in's state and the steps of one tick (see the module docstring)."""

    def __init__(self, baseline, trace, nodes, types, kapi, sim, watch):
        self.baseline = baseline
        self.jobs = trace["jobs"]
        self.by_id = {j["id"]: j for j in self.jobs}
        # What the filters read of a node, apart from its power-profile label (the watch's).
        self.views = {n["name"]: node_view(n, types) for n in nodes}
        self.cores = {name: v["cpu"] for name, v in self.views.items()}
        self.kapi, self.sim, self.watch = kapi, sim, watch
        self.next_arrival = 0
        self.pending = []  # job ids, arrival order
        self.running = {}  # id -> node
        self.free = {name: {"cpu": v["cpu"], "memory": v["memory"]} for name, v in self.views.items()}
        self.results = {}  # id -> record
        self.labels_seen = {}
        self.label_events = []  # (t, node, old, new)

    def finish(self, done):
        """Marks the pods of the jobs the simulator reports done Succeeded and frees their cores."""
        for d in done:
            job = self.by_id[d["id"]]
            self.kapi.ok("PATCH", "%s/%s/status" % (PODS, quote(d["id"])),
                         {"status": {"phase": "Succeeded"}}, "application/merge-patch+json")
            self.free[d["node"]]["cpu"] += d["cpus"]
            self.free[d["node"]]["memory"] += job.get("memory", 0)
            self.running.pop(d["id"], None)
            self.results[d["id"]] = {
                "id": d["id"], "class": job["class"], "arrival": job["arrival"], "start": d["start"],
                "finish": d["finish"], "work": job["work"], "cpus": job["cpus"], "node": d["node"],
                "workDone": d["workDone"], "memFraction": job["memFraction"],
                "cappedSeconds": d["cappedSeconds"], "cappedSince": d.get("cappedSince")}

    def arrive(self, t):
        while self.next_arrival < len(self.jobs) and self.jobs[self.next_arrival]["arrival"] <= t:
            job = self.jobs[self.next_arrival]
            self.kapi.ok("POST", PODS, pod_body(job, self.baseline.constrained), codes=(201,))
            self.pending.append(job["id"])
            self.next_arrival += 1

    def observe_labels(self, t):
        labels = self.watch.snapshot()
        for name, lab in labels.items():
            old = self.labels_seen.get(name)
            if old != lab:
                if old is not None:
                    self.label_events.append((t, name, old, lab))
                self.labels_seen[name] = lab
        by_label = {}
        for name in sorted(labels):
            by_label.setdefault(labels[name], []).append(name)
        return by_label

    def _fits(self, pod, name, label):
        """The filters (predicates.py) on the node as it is labelled now; a node the operator has
        not labelled yet is not ready for any pod."""
        if label is None or name not in self.views:
            return False
        view = self.views[name]
        node = dict(view, labels=dict(view["labels"], **{PROFILE: label}))
        return predicates.why_not(pod, node, self.free[name]) is None

    def _score(self, name):
        """kube-scheduler's LeastAllocated: the mean free share of the resources it knows."""
        v, f = self.views[name], self.free[name]
        shares = [f["cpu"] / float(v["cpu"])]
        if v["memory"] > 0:
            shares.append(f["memory"] / float(v["memory"]))
        return sum(shares) / len(shares)

    def best_node(self, pod, by_label):
        best = None
        for lab, names in by_label.items():
            for name in names:
                if self._fits(pod, name, lab):
                    score = self._score(name)
                    if best is None or score > best[0] or (score == best[0] and name < best[1]):
                        best = (score, name)
        return None if best is None else best[1]

    def bind(self, by_label):
        still = []
        # Per distinct requirement, the smallest request that found no node this tick: a larger
        # one with the same requirement cannot find one either.
        blocked = {}
        for jid in self.pending:
            job = self.by_id[jid]
            pod = dict(pod_request(job), nodeSelector=pod_selector(job, self.baseline.constrained))
            req = (job["class"], json.dumps(pod["nodeSelector"], sort_keys=True),
                   json.dumps(pod["tolerations"], sort_keys=True))
            small = blocked.get(req)
            if small is not None and pod["cpu"] >= small[0] and pod["memory"] >= small[1]:
                still.append(jid)
                continue
            node = self.best_node(pod, by_label)
            if node is None:
                blocked[req] = (pod["cpu"], pod["memory"]) if small is None else (
                    min(pod["cpu"], small[0]), min(pod["memory"], small[1]))
                still.append(jid)
                continue
            if not self._fits(pod, node, self.watch.label(node)):
                # The label changed since this tick's view: like kube-scheduler, which takes a
                # fresh snapshot per scheduling cycle, never bind on a label already replaced.
                still.append(jid)
                continue
            self.kapi.ok("PATCH", "%s/%s" % (PODS, quote(jid)), {"spec": {"nodeName": node}},
                         "application/merge-patch+json")
            code, obj = self.sim.call("POST", "/sim/jobs", {
                "id": jid, "node": node, "cpus": pod["cpu"], "work": job["work"],
                "memFraction": job["memFraction"], "class": job["class"]})
            if code != 201:
                raise EvalError("starting %s on %s in the simulator: HTTP %s %s" % (jid, node, code, obj))
            self.free[node]["cpu"] -= pod["cpu"]
            self.free[node]["memory"] -= pod["memory"]
            self.running[jid] = node
        self.pending = still


def node_view(n, types):
    """A cluster node as the filters see it, apart from its power-profile label."""
    labels = {"joulie.io/managed": "true", HARDWARE_LABEL: n["type"]}
    labels.update(n.get("labels") or {})
    return {"labels": labels, "taints": n.get("taints") or [], "cpu": types[n["type"]].cores,
            "memory": n.get("memory", 0)}


def _run(baseline, trace, cfg, workdir, procs, log):
    factor = cfg["factor"]
    nodes = cluster_nodes(cfg["nodes"], cfg["seed"], cfg.get("hardware"))
    for n in nodes:  # per type: labels, taints and allocatable memory (the heterogeneous scenario)
        n.update((cfg.get("node_extras") or {}).get(n["type"]) or {})
    types = hardware_types(cfg.get("hardware"))
    kapi, sim, kport, sport = _start_cluster(cfg, workdir, procs, nodes, types)
    extra, signals = _start_daemons(baseline, cfg, workdir, procs, sport, len(nodes))
    _wait_initial_state(kapi, sim, nodes, cfg, procs)

    watch = LabelWatch(kport)
    if not watch.synced.wait(30):
        raise EvalError("the node watch did not sync: %s" % watch.error)
    sch = Scheduler(baseline, trace, nodes, types, kapi, sim, watch)
    # Jobs that fit no node even at performance (the heterogeneous scenario's unschedulable ones)
    # never finish: the run ends without them. A run whose other jobs cannot all be placed (a
    # policy that never makes the right node performance) ends once, past `cutoff` simulated
    # seconds, nothing has run for `stuck` simulated seconds; what is pending then was never placed.
    unplaceable = set(cfg.get("unplaceable") or ())
    total = len(sch.jobs) - len(unplaceable)
    cutoff, stuck, idle_since = cfg.get("cutoff"), cfg.get("stuck", 1800.0), None
    sampler = Sampler(sport, cfg.get("sampler_every", 0.05))
    sim.ok("POST", "/sim/start", {})
    real_start = time.monotonic()
    deadline = real_start + cfg["run_timeout"]
    t, done_from = 0.0, 0
    next_progress = real_start + 15.0
    while True:
        tick_start = time.monotonic()
        if tick_start >= next_progress:
            next_progress += 15.0
            log("  %s: simulated %.1f h, %d/%d jobs done, %d running, %d pending" % (
                baseline.key, t / 3600.0, len(sch.results), total, len(sch.running), len(sch.pending)))
        procs.check_alive()
        if tick_start > deadline:
            raise EvalError("baseline %s: %d of %d jobs done after %.0f s real (simulated %.0f s); "
                            "raise --timeout or lower the load" % (baseline.key, len(sch.results),
                                                                     total, cfg["run_timeout"], t))
        # The clock may run at most HORIZON_TICKS scheduler ticks ahead of this tick: on a loaded
        # machine it waits for the stand-in instead of letting jobs queue behind a slow loop.
        done = sim.ok("GET", "/sim/done?from=%d&lead=%.3f" % (
            done_from, HORIZON_TICKS * cfg["tick"] * factor))
        done_from, t = done["next"], done["t"]
        sch.finish(done["jobs"])
        if len(sch.results) >= total:
            break
        sch.arrive(t)
        sch.bind(sch.observe_labels(t))
        if cutoff is not None and t >= cutoff and not sch.running:
            idle_since = t if idle_since is None else idle_since
            if t - idle_since >= stuck:
                break
        else:
            idle_since = None
        spent = time.monotonic() - tick_start
        if spent < cfg["tick"]:
            time.sleep(cfg["tick"] - spent)  # the scheduler's pace (real time), not synchronisation
    real_seconds = time.monotonic() - real_start
    watch.stop()
    final = sim.ok("POST", "/sim/stop", {})
    sampled = sampler.finish()
    status = sim.ok("GET", "/sim/status")
    series = sim.ok("GET", "/sim/series")["series"]
    caps = sim.ok("GET", "/sim/caps")["caps"]
    procs.check_alive()
    return {"baseline": baseline.key, "title": baseline.title, "policy": baseline.policy,
            "flags": baseline.flags + extra, "signals": signals, "realSeconds": round(real_seconds, 1),
            "end": final["t"], "status": status, "series": series, "jobs": list(sch.results.values()),
            "labelEvents": sch.label_events, "nodes": nodes, "caps": caps, "sampled": sampled,
            "constrained": baseline.constrained, "capsPerformance": baseline.caps_performance,
            "pendingAtEnd": sorted(sch.pending)}
