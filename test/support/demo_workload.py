"""Workload generator and live view for scripts/demo.sh (standard library only).

Two steps, so that the CRDs and the simulator's TelemetryProfile exist before the operator and
the agent start:

  --setup   applies crds/*.yaml (--crds DIR), creates --nodes simulated managed nodes and, with
            --powersim URL, the cluster-scoped TelemetryProfile that sends every node's power
            reading and cap through the power simulator (test/support/powersim). Then exits.
  (default) for --duration seconds lets performance, eco and unconstrained pods arrive and finish.
            A toy scheduler binds each pod to a node whose joulie.io/power-profile label satisfies
            the pod's nodeSelector (the scheduling contract: labels publish supply, pods publish
            demand); pods that fit nowhere stay Pending and form the queue that queue_aware_v1
            reacts to. Each node's simulated load follows its running pods. Every --every seconds
            it prints node -> state / label / NodePowerProfile cap / cap applied in the simulator /
            power / pods.

    python3 demo_workload.py --server http://127.0.0.1:PORT --setup --crds crds --powersim URL
    python3 demo_workload.py --server http://127.0.0.1:PORT --duration 55 --powersim URL
"""

import argparse
import glob
import json
import os
import random
import sys
import time
import urllib.error
import urllib.request

PROFILE = "joulie.io/power-profile"
NPP = "/apis/joulie.io/v1alpha1/nodepowerprofiles"
TP = "/apis/joulie.io/v1alpha1/telemetryprofiles"
CRD = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
STATE = {"performance": "ActivePerformance", "draining-performance": "DrainingPerformance",
         "eco": "ActiveEco"}


class Api:
    def __init__(self, server):
        self.server = server.rstrip("/")

    def call(self, method, path, body=None, content_type="application/json"):
        if isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method,
                                     headers={"Content-Type": content_type,
                                              "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, None
        except (urllib.error.URLError, OSError):
            return 0, None


def items(api, path):
    code, obj = api.call("GET", path)
    return (obj or {}).get("items") or [] if code == 200 else []


def node_names(count):
    return ["sim-node-%02d" % i for i in range(1, count + 1)]


def apply_crds(api, directory):
    """Creates every CRD in DIR (YAML bodies; the test API server parses them). Exits on error."""
    files = sorted(glob.glob(os.path.join(directory, "*.yaml")))
    if not files:
        sys.exit("demo: no CRDs in %s" % directory)
    for f in files:
        with open(f, "rb") as fh:
            code, obj = api.call("POST", CRD, fh.read(), "application/yaml")
        if code not in (201, 409):
            sys.exit("demo: creating the CRD in %s failed: HTTP %s %s" % (f, code, obj))


def make_nodes(api, count):
    for name in node_names(count):
        code, obj = api.call("POST", "/api/v1/nodes", {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"joulie.io/managed": "true"}},
            "spec": {}})
        if code not in (201, 409):
            sys.exit("demo: creating node %s failed: HTTP %s %s" % (name, code, obj))


def make_telemetry_profile(api, powersim):
    """One cluster-scoped profile for every simulated node, as in
    examples/telemetry/simulator-cluster.yaml ({node} is replaced by the agent)."""
    base = powersim.rstrip("/")
    code, obj = api.call("POST", TP, {
        "apiVersion": "joulie.io/v1alpha1", "kind": "TelemetryProfile",
        "metadata": {"name": "demo-power-simulator"},
        "spec": {"target": {"scope": "cluster"},
                 "sources": {"cpu": {"type": "http", "http": {
                     "endpoint": base + "/telemetry/{node}", "timeoutSeconds": 2}}},
                 "controls": {"cpu": {"type": "http", "http": {
                     "endpoint": base + "/control/{node}", "timeoutSeconds": 2,
                     "mode": "auto"}}}}})
    if code not in (201, 409):
        sys.exit("demo: creating the TelemetryProfile failed: HTTP %s %s" % (code, obj))


def fits(pod_class, label):
    if pod_class == "performance":
        return label == "performance"  # draining-performance repels new performance pods
    if pod_class == "eco":
        return label == "eco"
    return True


class Workload:
    def __init__(self, api, rng):
        self.api = api
        self.rng = rng
        self.pods = {}  # name -> {"class", "node", "ends"}
        self.seq = 0
        self.loads = {}  # node -> load last sent to the simulator

    def arrive(self, now, dt):
        # Arrivals per second; a burst of performance work in the middle of each minute shows
        # queue_aware_v1 adding performance nodes, and the drains when it ends.
        phase = (now - self.start) % 60
        rates = {"performance": 1.3 if 12 <= phase < 30 else 0.3, "eco": 0.4, "general": 0.4}
        for cls, rate in rates.items():
            expected = rate * dt
            n = int(expected) + (1 if self.rng.random() < expected - int(expected) else 0)
            for _ in range(n):
                self.seq += 1
                name = "%s-%04d" % (cls[:4], self.seq)
                spec = {"containers": [{"name": "work", "image": "busybox"}]}
                if cls != "general":
                    spec["nodeSelector"] = {PROFILE: cls}
                code, _ = self.api.call("POST", "/api/v1/namespaces/default/pods", {
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": name, "namespace": "default"}, "spec": spec})
                if code == 201:
                    self.pods[name] = {"class": cls, "node": None,
                                       "ends": now + self.rng.uniform(3, 10)}

    def schedule(self, labels):
        for name, p in self.pods.items():
            if p["node"]:
                continue
            candidates = sorted(n for n, lab in labels.items() if fits(p["class"], lab))
            if not candidates:
                continue  # stays Pending: part of the queue
            node = self.rng.choice(candidates)
            code, _ = self.api.call("POST", "/api/v1/namespaces/default/pods/%s/binding" % name, {
                "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node}})
            if code not in (200, 201):
                # Servers without the binding subresource: set spec.nodeName directly.
                code, _ = self.api.call("PATCH", "/api/v1/namespaces/default/pods/" + name,
                                        {"spec": {"nodeName": node}},
                                        "application/merge-patch+json")
            if code in (200, 201):
                p["node"] = node

    def finish(self, now):
        for name in [n for n, p in self.pods.items() if p["node"] and p["ends"] <= now]:
            self.api.call("DELETE", "/api/v1/namespaces/default/pods/%s?gracePeriodSeconds=0" % name)
            del self.pods[name]


def sim_call(powersim, method, path, body=None):
    """One power simulator request; the parsed answer, or None when it failed."""
    if not powersim:
        return None
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(powersim.rstrip("/") + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=2) as r:
            return json.loads(r.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def set_loads(powersim, workload, names):
    """Each node's simulated CPU load follows the pods running on it (idle nodes still draw
    their idle power), so that caps visibly bite on busy eco nodes."""
    if not powersim:
        return
    for name in names:
        running = sum(1 for p in workload.pods.values() if p["node"] == name)
        load = round(min(1.0, 0.1 + 0.3 * running), 2)
        if workload.loads.get(name) != load:
            if sim_call(powersim, "POST", "/load/" + name, {"load": load}) is not None:
                workload.loads[name] = load


def watts(value):
    return "%.0f" % value if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


def table(api, workload, elapsed, powersim):
    nodes = {n["metadata"]["name"]: n for n in items(api, "/api/v1/nodes")}
    npps = {o["spec"].get("nodeName"): o for o in items(api, NPP)}
    sim = (sim_call(powersim, "GET", "/state") or {}) if powersim else {}
    pending = sum(1 for p in workload.pods.values() if not p["node"])
    perf_pending = sum(1 for p in workload.pods.values()
                       if p["class"] == "performance" and not p["node"])
    total = 0.0
    out = ["", "t=%2ds  pods: %d running, %d pending (%d performance)" % (
        elapsed, len(workload.pods) - pending, pending, perf_pending)]
    sim_cols = ("%7s %7s " if powersim else "%s%s")
    out.append(("%-11s %-19s %-20s %7s " + sim_cols + " %s") % (
        "NODE", "STATE", "LABEL", "NPP-CAP", "SIM-CAP" if powersim else "",
        "POWER" if powersim else "", "PODS p/e/g"))
    for name in sorted(nodes):
        lab = (nodes[name]["metadata"].get("labels") or {}).get(PROFILE)
        o = npps.get(name)
        cap = ((o or {}).get("spec", {}).get("cpu") or {}).get("packagePowerCapWatts")
        st = sim.get(name) or {}
        power = st.get("powerWatts")
        if isinstance(power, (int, float)):
            total += power
        counts = {"performance": 0, "eco": 0, "general": 0}
        for p in workload.pods.values():
            if p["node"] == name:
                counts[p["class"]] += 1
        sim_vals = (watts(st.get("capWatts")), watts(power)) if powersim else ("", "")
        out.append(("%-11s %-19s %-20s %7s " + sim_cols + " %d/%d/%d") % (
            (name, STATE.get(lab, "-"), lab or "-", watts(cap)) + sim_vals +
            (counts["performance"], counts["eco"], counts["general"])))
    if powersim:
        out.append("%-11s %-19s %-20s %7s %7s %7s" % ("total", "", "", "", "", watts(total)))
    print("\n".join(out), flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True, help="API server URL (plain HTTP, no auth)")
    p.add_argument("--nodes", type=int, default=6)
    p.add_argument("--duration", type=float, default=55.0)
    p.add_argument("--every", type=float, default=2.0, help="seconds between tables")
    p.add_argument("--powersim", help="power simulator URL (TelemetryProfile, loads, power)")
    p.add_argument("--setup", action="store_true",
                   help="create CRDs, nodes and the TelemetryProfile, then exit")
    p.add_argument("--crds", help="with --setup: directory of CRD YAML files to apply")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)

    api = Api(args.server)
    if args.setup:
        if args.crds:
            apply_crds(api, args.crds)
        make_nodes(api, args.nodes)
        if args.powersim:
            make_telemetry_profile(api, args.powersim)
        return 0

    make_nodes(api, args.nodes)  # no-op after --setup (409)
    w = Workload(api, random.Random(args.seed))
    w.start = time.monotonic()
    next_table = w.start
    last = w.start
    while True:
        now = time.monotonic()
        if now - w.start >= args.duration:
            break
        labels = {n["metadata"]["name"]: (n["metadata"].get("labels") or {}).get(PROFILE)
                  for n in items(api, "/api/v1/nodes")}
        w.finish(now)
        w.arrive(now, now - last)
        last = now
        w.schedule(labels)
        set_loads(args.powersim, w, labels)
        if now >= next_table:
            table(api, w, now - w.start, args.powersim)
            next_table += args.every
        time.sleep(0.5)  # the generator's own pace (a demo, not a test)
    table(api, w, time.monotonic() - w.start, args.powersim)
    return 0


if __name__ == "__main__":
    sys.exit(main())
