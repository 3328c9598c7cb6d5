#!/usr/bin/python3
"""docs/design.md#quality-bars: the operator over a large cluster (default 5 000 nodes + 150 000
pods).

The cluster is realistic rather than uniform: nodes with a Kubelet-like status (a few reserved or
cordoned), pods of every class -- general (no power-profile constraint, other nodeSelectors,
preferred affinity, `In [eco,performance]`), performance-only (nodeSelector `performance`,
required affinity `In [performance]`, `NotIn [eco]`), eco-only (nodeSelector `eco`), a few
unknown (`Gt`) -- placed where the scheduler would have put them for the static partition the
operator will compute (performance-only pods on the performance half, eco-only pods on the eco
half), a few performance pods left on eco-half nodes (those drain), 2 % pending (unscheduled) and
3 % Succeeded. Nodes start unlabelled, so the first pass converges the cluster (creates every
NodePowerProfile and labels every node); the later passes have nothing to change.

Figures: initial sync (process start -> "caches synced"), the converging pass, the duration of
the no-change passes (the pass log line's duration_ms = joulie_operator_reconcile_duration_seconds),
API requests and writes during the no-change passes (test API server counters), RSS.

    test/bench/bench_operator.py [--nodes 5000 --pods 150000] [--bin build-bench/joulie]
    test/bench/bench_operator.py --floor        # the reference's nightly: 200 nodes + 1 000 pods
    test/bench/bench_operator.py --sync-runs 3  # time the default-QPS initial sync three times
    test/bench/bench_operator.py --list-page-size 500   # compare with another page size
    test/bench/bench_operator.py --realistic-size --pods 20000  # real-size objects (memory)
"""

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib
from benchlib import MIB, Table, hwm_bytes, rss_bytes, stop, wait_for
from harness import ApiServer

KEY = "joulie.io/power-profile"


def node_name(i):
    return "node-%05d" % i


def make_node(i, reserved, cordoned):
    labels = {"kubernetes.io/hostname": node_name(i), "kubernetes.io/os": "linux",
              "kubernetes.io/arch": "amd64", "node.kubernetes.io/instance-type": "m6i.16xlarge",
              "topology.kubernetes.io/zone": "zone-%s" % "abc"[i % 3], "joulie.io/managed": "true"}
    if reserved:
        labels["joulie.io/reserved"] = "true"
    spec = {"podCIDR": "10.%d.%d.0/24" % (i // 256, i % 256), "providerID": "aws:///i-%08x" % i}
    if cordoned:
        spec["unschedulable"] = True
    conditions = [{"type": t, "status": "False" if t != "Ready" else "True",
                   "lastHeartbeatTime": "2026-11-29T09:00:00Z",
                   "lastTransitionTime": "2026-11-01T00:00:00Z", "reason": "Kubelet" + t,
                   "message": "kubelet reports %s" % t}
                  for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")]
    res = {"cpu": "64", "memory": "263921108Ki", "pods": "110", "ephemeral-storage": "485G"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": node_name(i), "labels": labels,
                         "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                         "volumes.kubernetes.io/controller-managed-attach-detach":
                                         "true"}},
            "spec": spec,
            "status": {"capacity": res, "allocatable": res, "conditions": conditions,
                       "addresses": [{"type": "InternalIP", "address": "10.0.%d.%d" % (i // 256,
                                                                                      i % 256)},
                                     {"type": "Hostname", "address": node_name(i)}],
                       "nodeInfo": {"kubeletVersion": "v1.31.2", "kernelVersion": "6.1.0-27",
                                    "osImage": "Debian GNU/Linux 12 (bookworm)",
                                    "containerRuntimeVersion": "containerd://1.7.22",
                                    "architecture": "amd64", "operatingSystem": "linux"}}}


def affinity(*terms):
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": list(t)} for t in terms]}}}


def expr(op, *values):
    e = {"key": KEY, "operator": op}
    if op not in ("Exists", "DoesNotExist"):
        e["values"] = list(values)
    return e


# (weight, class label for the table, where it may run, spec fields)
POD_KINDS = [
    (50, "general", "any", {}),
    (5, "general", "any", {"nodeSelector": {"kubernetes.io/os": "linux"}}),
    (4, "general", "any", {"affinity": affinity([expr("In", "eco", "performance")])}),
    (4, "general", "any", {"affinity": {"nodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 50, "preference": {"matchExpressions": [expr("In", "eco")]}}]}}}),
    (12, "performance-only", "perf", {"nodeSelector": {KEY: "performance"}}),
    (5, "performance-only", "perf", {"affinity": affinity([expr("In", "performance")])}),
    (3, "performance-only", "perf", {"affinity": affinity([expr("NotIn", "eco")])}),
    (12, "eco-only", "eco", {"nodeSelector": {KEY: "eco"}}),
    (1, "unknown", "perf", {"affinity": affinity([expr("Gt", "1")])}),
]


def make_pod(j, kind, node, phase):
    weight, cls, where, extra = kind
    ns = "team-%02d" % (j % 40)
    app = "app-%03d" % (j % 500)
    spec = {"containers": [{"name": "main", "image": "registry.example/%s:1.%d" % (app, j % 7),
                            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                                          "limits": {"memory": "2Gi"}},
                            "ports": [{"containerPort": 8080, "protocol": "TCP"}]}],
            "restartPolicy": "Always", "schedulerName": "default-scheduler",
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": 300}]}
    spec.update(json.loads(json.dumps(extra)))
    status = {"phase": phase}
    if node:
        spec["nodeName"] = node
        status.update({"hostIP": "10.0.0.1", "podIP": "10.%d.%d.%d" % (j // 65536 % 256,
                                                                       j // 256 % 256, j % 256),
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "startTime": "2026-11-29T08:00:00Z"})
    else:
        status["conditions"] = [{"type": "PodScheduled", "status": "False",
                                 "reason": "Unschedulable"}]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "%s-%07d" % (app, j), "namespace": ns,
                         "labels": {"app": app, "class": cls},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                              "name": app + "-6d4f", "uid": "rs-%03d" % (j % 500),
                                              "controller": True}]},
            "spec": spec, "status": status}


def cluster(n_nodes, n_pods, frac, seed=1):
    """Yields the objects; returns (via the last element of the stats dict) what was made."""
    rnd = random.Random(seed)
    reserved = {i for i in range(n_nodes) if i % 97 == 5}
    cordoned = {i for i in range(n_nodes) if i % 211 == 7}
    managed = [node_name(i) for i in range(n_nodes) if i not in reserved and i not in cordoned]
    managed.sort()
    hp = int(len(managed) * frac + 0.5)
    perf_nodes, eco_nodes = managed[:hp], managed[hp:]
    schedulable = [node_name(i) for i in range(n_nodes) if i not in cordoned]
    stats = {"managed": len(managed), "performance": hp, "classes": {}, "pending": 0,
             "succeeded": 0, "draining": 0}
    objs = [make_node(i, i in reserved, i in cordoned) for i in range(n_nodes)]
    weights = [k[0] for k in POD_KINDS]
    # A few performance pods left on eco-half nodes (scheduled before a policy change): those
    # nodes are drained, not capped.
    stray = set(eco_nodes[::100])
    stats["draining"] = len(stray)
    stray_list = sorted(stray)
    for j in range(n_pods):
        kind = rnd.choices(POD_KINDS, weights)[0]
        pool = {"any": schedulable, "perf": perf_nodes or schedulable,
                "eco": eco_nodes or schedulable}[kind[2]]
        r = rnd.random()
        if j < len(stray_list):
            kind, node, phase = POD_KINDS[4], stray_list[j], "Running"
        elif r < 0.02:
            node, phase = None, "Pending"
            stats["pending"] += 1
        else:
            node = pool[rnd.randrange(len(pool))]
            phase = "Succeeded" if r < 0.05 else "Running"
            if phase == "Succeeded":
                stats["succeeded"] += 1
        stats["classes"][kind[1]] = stats["classes"].get(kind[1], 0) + 1
        objs.append(make_pod(j, kind, node, phase))
    return objs, stats


def managed_fields(manager_names, fields):
    return [{"manager": m, "operation": "Update", "apiVersion": "v1",
             "time": "2026-11-29T08:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": fields}
            for m in manager_names]


POD_FIELDS = {
    "f:metadata": {"f:labels": {".": {}, "f:app": {}, "f:class": {}},
                   "f:ownerReferences": {".": {}, 'k:{"uid":"rs-000"}': {}}},
    "f:spec": {"f:containers": {'k:{"name":"main"}': {
        ".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
        "f:ports": {".": {}, 'k:{"containerPort":8080,"protocol":"TCP"}': {
            ".": {}, "f:containerPort": {}, "f:protocol": {}}},
        "f:resources": {".": {}, "f:limits": {".": {}, "f:memory": {}},
                        "f:requests": {".": {}, "f:cpu": {}, "f:memory": {}}},
        "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}},
        "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {},
        "f:schedulerName": {}, "f:securityContext": {}, "f:terminationGracePeriodSeconds": {},
        "f:tolerations": {}}}
NODE_FIELDS = {"f:status": {"f:conditions": {
    'k:{"type":"%s"}' % t: {".": {}, "f:lastHeartbeatTime": {}, "f:message": {}, "f:reason": {},
                           "f:status": {}}
    for t in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")}}}


def realistic_size(o, i):
    """Pads an object to the size of a real cluster's: pods get managedFields of 8 managers and a
    last-applied annotation (~8 KB in all), nodes an image list and managedFields (~9 KB)."""
    meta = o["metadata"]
    if o["kind"] == "Pod":
        meta["managedFields"] = managed_fields(
            ("kube-controller-manager", "kube-scheduler", "kubelet", "kubectl-client-side-apply",
             "helm", "argocd-controller", "istio-sidecar-injector", "vpa-updater"), POD_FIELDS)
        meta["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration":
                               json.dumps(o["spec"])}
    elif o["kind"] == "Node":
        o["status"]["images"] = [
            {"names": ["registry.example/team-%02d/app-%03d@sha256:%064x" % (k % 40, k,
                                                                            i * 100 + k),
                       "registry.example/team-%02d/app-%03d:1.%d" % (k % 40, k, k % 7)],
             "sizeBytes": 100000000 + k} for k in range(30)]
        meta["managedFields"] = managed_fields(
            ("kubelet", "kube-controller-manager", "node-problem-detector"), NODE_FIELDS)
    return o


def pass_lines(text):
    out = []
    for m in re.finditer(r"reconcile pass (.*)", text):
        fields = dict(re.findall(r"(\w+)=(\S+)", m.group(1)))
        out.append(fields)
    return out


def settle_writes(kapi, quiet=1.5, timeout=600):
    """Wait until the server has seen no write for ``quiet`` seconds (events are sent async)."""
    last, since = None, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        w = kapi.counters()["writes"]
        if w != last:
            last, since = w, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return w
        time.sleep(0.1)
    raise TimeoutError("writes did not settle")


def write_latency(a, t, kapi, n=100):
    """The seeded server's own latency for the writes the operator makes (sequential, one
    connection): node merge patches and NodePowerProfile creates. Undone afterwards."""
    t0 = time.monotonic()
    for i in range(n):
        r = kapi.request("PATCH", "/api/v1/nodes/" + node_name(i),
                         {"metadata": {"labels": {"bench.joulie.io/probe": "x"}}},
                         content_type="application/merge-patch+json")
        assert r.code == 200, r
    patch = (time.monotonic() - t0) / n
    t0 = time.monotonic()
    for i in range(n):
        r = kapi.request("POST", "/apis/joulie.io/v1alpha1/nodepowerprofiles",
                         {"apiVersion": "joulie.io/v1alpha1", "kind": "NodePowerProfile",
                          "metadata": {"name": "bench-probe-%d" % i},
                          "spec": {"nodeName": "bench-probe-%d" % i, "profile": "eco",
                                   "cpu": {"packagePowerCapWatts": 100}}})
        assert r.code == 201, r
    create = (time.monotonic() - t0) / n
    for i in range(n):
        kapi.request("PATCH", "/api/v1/nodes/" + node_name(i),
                     {"metadata": {"labels": {"bench.joulie.io/probe": None}}},
                     content_type="application/merge-patch+json")
        kapi.request("DELETE", "/apis/joulie.io/v1alpha1/nodepowerprofiles/bench-probe-%d" % i)
    t.info("server alone: sequential write latency", "%.1f ms patch, %.1f ms create" % (
        patch * 1000, create * 1000), "Python client, new connection per request, %d each, "
        "before the operator starts" % n)
    return patch, create


def page_args(a):
    """--kube-list-page-size when the benchmark sets one (else the binary's default applies)."""
    return ["--kube-list-page-size", str(a.list_page_size)] if a.list_page_size is not None else []


def page_label(a):
    return ", --kube-list-page-size %d" % a.list_page_size if a.list_page_size is not None else ""


def one_sync_at_default_qps(a, t, kapi, workdir, i):
    """One `joulie operator --once --dry-run` at the default client rate limit: (seconds to
    "caches synced", whole run in seconds, RSS and VmHWM when synced (None if already gone), the
    pass log line, the JSON result)."""
    err = workdir / ("once-%d.stderr" % i)
    cmd = [a.bin, "operator", "--kubeconfig", str(kapi.kubeconfig("admin")), "--once",
           "--dry-run", "--output", "json", "--static-hp-frac", str(a.frac)] + page_args(a)
    with open(err, "wb") as fe:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=fe)
    try:
        def synced():
            t.load.sample()
            if proc.poll() is not None and "caches synced" not in err.read_text():
                raise RuntimeError("operator --once exited %s:\n%s" % (
                    proc.returncode, err.read_text()[-3000:]))
            return "caches synced" in err.read_text(errors="replace")
        wait_for(synced, 600, 0.01, "caches synced")
        sync = time.monotonic() - t0
        try:  # the dry-run pass takes milliseconds: the process may already be gone
            rss, hwm = rss_bytes(proc.pid), hwm_bytes(proc.pid)
        except (OSError, RuntimeError):
            rss = hwm = None
        out, _ = proc.communicate(timeout=600)
        total = time.monotonic() - t0
    finally:
        stop(proc)
    line = pass_lines(err.read_text())
    return sync, total, rss, hwm, (line[0] if line else {}), json.loads(out)


def sync_at_default_qps(a, t, kapi, workdir):
    """`joulie operator --once --dry-run` at the default client rate limit: time to sync,
    ``a.sync_runs`` times against the same server."""
    runs = [one_sync_at_default_qps(a, t, kapi, workdir, i) for i in range(a.sync_runs)]
    syncs = [r[0] for r in runs]
    worst = max(syncs)
    shown_mib = lambda v: benchlib.mib(v) if v is not None else "?"
    each = "; ".join("%.2f s (RSS %s, peak %s)" % (r[0], shown_mib(r[2]), shown_mib(r[3]))
                     for r in runs)
    last = runs[-1]
    t.check("initial sync at the binary's default --kube-qps / --kube-burst%s%s" % (
                page_label(a), " (max of %d runs)" % len(runs) if len(runs) > 1 else ""),
            worst, "%.2f s" % worst, "<= 10 s", worst <= 10,
            "joulie operator --once --dry-run; every list page is a request through the "
            "client's rate limiter; runs: %s; whole run %.1f s, dry-run pass %s ms over %d "
            "managed nodes" % (each, last[1], last[4].get("duration_ms", "?"),
                               last[5].get("managed", 0)))


def run(a, t):
    workdir = Path(tempfile.mkdtemp(prefix="joulie-bench-operator-"))
    kapi = op = None
    try:
        objs, stats = cluster(a.nodes, a.pods, a.frac)
        seed = workdir / "seed.jsonl"
        with open(seed, "w") as f:
            for i, o in enumerate(objs):
                if a.realistic_size:
                    realistic_size(o, i)
                f.write(json.dumps(o, separators=(",", ":")) + "\n")
        del objs
        t.info("cluster", "%d nodes, %d pods" % (a.nodes, a.pods),
               "managed %d (reserved/cordoned excluded), seed file %s; pods: %s, %d pending, "
               "%d Succeeded; %d eco-half nodes keep a performance pod (drain)%s" % (
                   stats["managed"], benchlib.mib(seed.stat().st_size),
                   ", ".join("%s %d" % kv for kv in sorted(stats["classes"].items())),
                   stats["pending"], stats["succeeded"], stats["draining"],
                   "; --realistic-size: managedFields, last-applied, node images"
                   if a.realistic_size else ""))
        t0 = time.monotonic()
        kapi = ApiServer(workdir / "kapi", certs=None, tls=False, users={}, seed=seed).start(timeout=900)
        kapi.apply_crds()
        t.info("test API server start incl. seeding", "%.1f s" % (time.monotonic() - t0),
               "server RSS %s" % benchlib.mib(rss_bytes(kapi.proc.pid)))
        patch_ms = write_latency(a, t, kapi)[0] * 1000
        if a.kube_qps:
            sync_at_default_qps(a, t, kapi, workdir)
        kapi.reset_counters()
        err = workdir / "operator.stderr"
        cmd = [a.bin, "operator", "--kubeconfig", str(kapi.kubeconfig("admin")),
               "--metrics-addr", "127.0.0.1:0", "--interval", a.interval,
               "--static-hp-frac", str(a.frac)]
        if a.kube_qps:
            cmd += ["--kube-qps", str(a.kube_qps), "--kube-burst", str(2 * a.kube_qps)]
        cmd += page_args(a)
        t.info("command", " ".join(["joulie"] + cmd[1:3] + ["K"] + cmd[4:]))
        with open(err, "wb") as fe:
            t0 = time.monotonic()
            op = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=fe)

        def log():
            if op.poll() is not None:
                raise RuntimeError("operator exited %s:\n%s" % (op.returncode,
                                                                 err.read_text()[-3000:]))
            t.load.sample()
            return err.read_text(errors="replace")
        wait_for(lambda: "caches synced" in log(), 600, 0.01, "caches synced")
        sync = time.monotonic() - t0
        rss_sync = rss_bytes(op.pid)
        port = benchlib.log_port(err, op)
        wait_for(lambda: len(pass_lines(log())) >= 1, 1800, 0.02, "the first pass")
        first_done = time.monotonic() - t0
        first = pass_lines(log())[0]
        settle_writes(kapi)
        converged = time.monotonic() - t0
        writes_first = kapi.counters()
        changed = first.get("changed", "")
        n_changed = len(changed.split(",")) if changed != "none" else 0
        m = re.search(r"\(\+(\d+)\)", changed)
        if m:
            n_changed += int(m.group(1)) - 1
        if a.floor:
            t.check("floor: start -> converged (all nodes written, events sent)", converged,
                    "%.1f s" % converged, "<= 60 s", converged <= 60,
                    "first pass logged after %.1f s" % first_done)
        t.check("initial sync (start -> caches synced)%s%s" % (
                    ", --kube-qps %d" % a.kube_qps if a.kube_qps else "", page_label(a)), sync,
                "%.2f s" % sync,
                "<= 10 s", sync <= 10, "nodes + pods + NodePowerProfiles listed; RSS then %s"
                % benchlib.mib(rss_sync))
        per_write = float(first.get("duration_ms", 0)) / max(1, int(first.get("writes", 0)))
        t.info("converging pass", "%s ms" % first.get("duration_ms"),
               "%s writes in the pass (%d write requests incl. events by the server's count), "
               "%s nodes changed, %s deferred; %.1f ms per write (sequential) against the "
               "server's %.1f ms alone" % (first.get("writes"), writes_first["writes"], n_changed,
                                           first.get("deferred"), per_write, patch_ms))
        # ---- no-change passes
        kapi.reset_counters()
        before = len(pass_lines(log()))
        rss_samples = []

        def more():
            rss_samples.append(rss_bytes(op.pid))
            return len(pass_lines(log())) >= before + a.passes
        wait_for(more, 600, 0.1, "%d further passes" % a.passes)
        steady = pass_lines(log())[before:before + a.passes]
        c = kapi.counters()
        durations = sorted(float(p["duration_ms"]) for p in steady)
        writes = sum(int(p.get("writes", 0)) for p in steady)
        text = benchlib.scrape(port)
        hsum = benchlib.metric(text, "joulie_operator_reconcile_duration_seconds_sum")
        hcount = benchlib.metric(text, "joulie_operator_reconcile_duration_seconds_count")
        t.check("plan+guard pass, no change (max of %d)" % len(durations), durations[-1],
                "%.2f ms" % durations[-1], "<= 50 ms", durations[-1] <= 50,
                "median %.2f ms, min %.2f ms (pass log duration_ms; histogram over all %d "
                "passes incl. the converging one: sum %.2f s)" % (
                    durations[len(durations) // 2], durations[0], hcount or 0, hsum or 0))
        t.check("writes on no-change passes", c["writes"], "%d (pass log: %d)" % (c["writes"],
                                                                                  writes),
                "0", c["writes"] == 0 and writes == 0, "test API server counters, %d passes"
                % len(steady))
        reqs = {"%s %s" % (v, r): n for v, by in c["requests"].items() for r, n in by.items()}
        t.info("API requests during the no-change passes", c["total"],
               "%.1f per pass: %s" % (c["total"] / len(steady), ", ".join(
                   "%s=%d" % kv for kv in sorted(reqs.items())) or "none"))
        rss_now, hwm = rss_bytes(op.pid), hwm_bytes(op.pid)
        rss_max = max(rss_samples + [rss_now, rss_sync])
        limit = 128 if a.floor else 150
        t.check("RSS steady (max over the no-change passes)", rss_max, benchlib.mib(rss_max),
                "<= %d MiB" % limit, rss_max <= limit * MIB,
                "after sync %s, peak (VmHWM, incl. the initial list) %s" % (
                    benchlib.mib(rss_sync), benchlib.mib(hwm)))
        t.check("RSS peak (VmHWM)", hwm, benchlib.mib(hwm), "<= %d MiB" % limit,
                hwm <= limit * MIB, "the most the process ever held")
        if a.kube_qps:
            t.note("run with --kube-qps %d --kube-burst %d so that the converging pass (~%d "
                   "writes) is not paced by the default rate limit (see bench_convergence.py); it does not change "
                   "the no-change figures" % (a.kube_qps, 2 * a.kube_qps, writes_first["writes"]))
        t.note("the pass duration excludes building the snapshot the pass reads (a copy of "
               "the managed nodes and the per-node counts, kept incrementally by the informers)")
    finally:
        stop(op)
        if kapi is not None:
            kapi.close()
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=benchlib.default_binary())
    p.add_argument("--nodes", type=int)
    p.add_argument("--pods", type=int)
    p.add_argument("--floor", action="store_true", help="200 nodes + 1 000 pods, default QPS")
    p.add_argument("--frac", type=float, default=0.5, help="--static-hp-frac")
    p.add_argument("--interval", default="3s")
    p.add_argument("--passes", type=int, default=5, help="no-change passes to measure")
    p.add_argument("--kube-qps", type=int, help="default 1000 (5 000 nodes) / unset (floor)")
    p.add_argument("--list-page-size", type=int,
                   help="pass --kube-list-page-size N to every operator run (default: the "
                   "binary's own default)")
    p.add_argument("--realistic-size", action="store_true",
                   help="pad pods (~8 KB) and nodes (~9 KB) with managedFields, a last-applied "
                   "annotation and node images, as on a real cluster (memory per list page); "
                   "use with fewer --pods, the test API server holds ~10x the seed")
    p.add_argument("--sync-runs", type=int, default=1,
                   help="initial syncs at the default --kube-qps to time (5 000 nodes)")
    p.add_argument("--json")
    a = p.parse_args()
    if a.floor:
        a.nodes = a.nodes or 200
        a.pods = a.pods or 1000
    else:
        a.nodes = a.nodes or 5000
        a.pods = a.pods if a.pods is not None else 150000
        if a.kube_qps is None:
            a.kube_qps = 1000
    t = Table("operator: %d nodes + %d pods%s" % (a.nodes, a.pods, " (floor)" if a.floor else ""))
    run(a, t)
    return t.print(a.json)


if __name__ == "__main__":
    sys.exit(main())
