#!/usr/bin/python3
"""Supply follows demand (issue 9, docs/design.md#upgrades-first): how fast the operator writes what
the policy wants on a large cluster, with default rate-limit flags, for one or more binaries side by
side.

For each binary (``--bin NAME=PATH``, repeatable; e.g. ``before=/tmp/old/joulie
after=build/joulie``), on a fresh test API server seeded with the same cluster (bench_operator's
generator: 5 000 nodes, unlabelled, and ``--pods`` pods):

1. **First convergence**: start ``joulie operator --policy queue_aware_v1
   --queue-hp-base-frac 0 --queue-perf-per-hp-node 1`` (one performance node per
   performance-sensitive pod; every rate-limit flag at the binary's default) and time process
   start -> the last ``performance`` label (performance pods can schedule everywhere the policy
   wants) -> every managed node labelled and every write (events included) done.
2. **Demand step**: create ``--step`` pending performance-only pods at once (the policy then wants
   ``--step`` more performance nodes) and time the first create -> the last new ``performance``
   label. Pod events do not re-plan; the next ``--interval`` tick does, so the figure includes up
   to one interval.

Labels are observed by polling the server (label selector, every 0.2 s); writes from its counters.

    test/bench/bench_convergence.py --bin before=/tmp/k8s-before/build/joulie --bin after=build/joulie
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import benchlib
from bench_operator import POD_KINDS, cluster, make_pod, settle_writes
from benchlib import Table, stop, wait_for
from harness import ApiServer

KEY = "joulie.io/power-profile"


def count_labelled(kapi, value=None):
    sel = "%s=%s" % (KEY, value) if value else KEY
    code, body = kapi.api("GET", "/api/v1/nodes", query={"labelSelector": sel})
    assert code == 200, body
    return len(body["items"])


def wanted_performance(log_text):
    lines = [l for l in log_text.splitlines() if "reconcile pass" in l]
    for l in reversed(lines):
        for part in l.split():
            if part.startswith("performance="):
                return int(part.split("=", 1)[1])
    return None


def create_pods(kapi, n, start_index):
    """n pending performance-only pods, created by 8 threads; returns (first create, duration)."""
    kind = POD_KINDS[4]            # nodeSelector joulie.io/power-profile: performance
    kapi.ensure_namespace("step")
    errors = []

    def worker(indices):
        for j in indices:
            pod = make_pod(start_index + j, kind, None, "Pending")
            pod["metadata"]["namespace"] = "step"
            pod["metadata"]["name"] = "step-%06d" % j
            r = kapi.request("POST", "/api/v1/namespaces/step/pods", pod)
            if r.code != 201:
                errors.append(r)
    threads = [threading.Thread(target=worker, args=(range(k, n, 8),)) for k in range(8)]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise RuntimeError("creating step pods: %s" % errors[:3])
    return t0, time.monotonic() - t0


def run_one(name, binary, a, seed, workdir, t):
    kapi = op = None
    out = {}
    try:
        kapi = ApiServer(workdir / ("kapi-" + name), certs=None, tls=False, users={},
                         seed=seed).start(timeout=900)
        kapi.apply_crds()
        if a.write_latency_ms:
            # A real API server answers a write in ~5-20 ms (admission, etcd); the test server
            # in ~1 ms. Every write verb (node and profile writes, Events, the step's pod
            # creates) waits this long before it is handled.
            kapi.add_latency(a.write_latency_ms / 1000.0, ["create", "update", "patch", "delete"])
        managed = a.managed
        err = workdir / ("operator-%s.stderr" % name)
        cmd = [binary, "operator", "--kubeconfig", str(kapi.kubeconfig("admin")),
               "--metrics-addr", "127.0.0.1:0", "--interval", a.interval,
               "--policy", "queue_aware_v1", "--queue-hp-base-frac", "0",
               "--queue-perf-per-hp-node", "1"]
        version = subprocess.run([binary, "version"], capture_output=True, text=True).stdout.strip()
        t.info("%s: binary" % name, version, "%s; command: joulie %s" % (
            binary, " ".join(cmd[1:3] + ["K"] + cmd[4:])))
        kapi.reset_counters()
        with open(err, "wb") as fe:
            t0 = time.monotonic()
            op = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=fe)

        def log():
            if op.poll() is not None:
                raise RuntimeError("%s operator exited %s:\n%s" % (name, op.returncode,
                                                                    err.read_text()[-3000:]))
            t.load.sample()
            return err.read_text(errors="replace")
        wait_for(lambda: "caches synced" in log(), 600, 0.01, "caches synced")
        sync = time.monotonic() - t0
        want = a.want
        last_perf = None
        while True:
            log()
            if last_perf is None and count_labelled(kapi, "performance") >= want:
                last_perf = time.monotonic() - t0
            if last_perf is not None and count_labelled(kapi) >= managed:
                break
            if time.monotonic() - t0 > 3600:
                raise RuntimeError("%s: no convergence within an hour" % name)
            time.sleep(0.2)
        all_labelled = time.monotonic() - t0
        settle_writes(kapi)
        converged = time.monotonic() - t0 - 1.5     # settle_writes waits 1.5 s of quiet
        c = kapi.counters()
        logged = wanted_performance(log())
        if logged != want:
            raise RuntimeError("%s: the operator wants %s performance nodes, the benchmark "
                               "expected %d" % (name, logged, want))
        out.update(sync=sync, last_perf=last_perf, all_labelled=all_labelled, converged=converged,
                   writes=c["writes"], performance=want)
        t.check("%s: first convergence: start -> last performance label" % name, last_perf,
                "%.1f s" % last_perf, "", True,
                "%d performance nodes wanted; caches synced after %.2f s" % (want or 0, sync))
        t.check("%s: first convergence: start -> all %d managed nodes labelled, writes done" % (
                    name, managed), converged, "%.1f s" % converged, "<= 120 s", converged <= 120,
                "%d write requests (events included) by the server's count; every node "
                "labelled after %.1f s" % (c["writes"], all_labelled))
        # ---- demand step
        time.sleep(float(a.interval.rstrip("s")) + 0.5)   # a no-change pass in between
        before = count_labelled(kapi, "performance")
        kapi.reset_counters()
        t_step, creating = create_pods(kapi, a.step, 10_000_000)
        target = before + a.step
        wait_for(lambda: log() is not None and count_labelled(kapi, "performance") >= target,
                 3600, 0.2, "%d performance labels" % target)
        step = time.monotonic() - t_step
        settle_writes(kapi)
        c = kapi.counters()
        out.update(step=step)
        t.check("%s: demand step +%d performance nodes: first pod create -> last new "
                "performance label" % (name, a.step), step, "%.1f s" % step, "", True,
                "%d -> %d performance labels; creating the %d pods took %.1f s; --interval %s "
                "(pods do not re-plan, the tick does); %d write requests incl. pod creates "
                "and events" % (before, target, a.step, creating, a.interval, c["writes"]))
        return out
    finally:
        stop(op)
        if kapi is not None:
            kapi.close()


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", action="append", default=[],
                   help="NAME=PATH (repeatable; default after=<build>/joulie)")
    p.add_argument("--nodes", type=int, default=5000)
    p.add_argument("--pods", type=int, default=15000,
                   help="seeded pods (performance-sensitive ones decide the first plan)")
    p.add_argument("--step", type=int, default=500, help="pending performance pods to add")
    p.add_argument("--interval", default="3s")
    p.add_argument("--write-latency-ms", type=float, default=0,
                   help="added to every write request by the test API server (real servers: "
                        "~5-20 ms)")
    p.add_argument("--json")
    a = p.parse_args()
    bins = [b.split("=", 1) if "=" in b else ("after", b) for b in a.bin] or \
        [("after", benchlib.default_binary())]
    t = Table("supply follows demand: %d nodes (unlabelled), %d pods, step +%d%s" % (
        a.nodes, a.pods, a.step,
        ", +%g ms per write" % a.write_latency_ms if a.write_latency_ms else ""))
    workdir = Path(tempfile.mkdtemp(prefix="joulie-bench-convergence-"))
    try:
        objs, stats = cluster(a.nodes, a.pods, 0.5)
        a.managed = stats["managed"]
        # queue_aware_v1 with base 0 and one node per pod: as many performance nodes as
        # non-terminal performance-sensitive pods (performance-only and unknown classes).
        sensitive = sum(1 for o in objs if o["kind"] == "Pod"
                        and o["metadata"]["labels"]["class"] in ("performance-only", "unknown")
                        and o["status"]["phase"] not in ("Succeeded", "Failed"))
        a.want = min(sensitive, a.managed)
        if a.want + a.step > a.managed:
            p.error("--pods %d gives %d performance nodes: no room for a step of %d on %d "
                    "managed nodes" % (a.pods, a.want, a.step, a.managed))
        seed = workdir / "seed.jsonl"
        with open(seed, "w") as f:
            for o in objs:
                f.write(json.dumps(o, separators=(",", ":")) + "\n")
        del objs
        t.info("cluster", "%d nodes, %d pods" % (a.nodes, a.pods),
               "managed %d, %d performance-sensitive pods -> %d performance nodes wanted; "
               "pods: %s, %d pending" % (
                   stats["managed"], sensitive, a.want, ", ".join("%s %d" % kv for kv in sorted(
                       stats["classes"].items())), stats["pending"]))
        results = {}
        for name, path in bins:
            results[name] = run_one(name, path, a, seed, workdir, t)
        if len(results) > 1:
            names = list(results)
            for key, what in (("last_perf", "start -> last performance label"),
                              ("converged", "start -> converged"),
                              ("step", "demand step -> last performance label")):
                t.info("side by side: " + what, " / ".join(
                    "%s %.1f s" % (n, results[n][key]) for n in names))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return t.print(a.json)


if __name__ == "__main__":
    sys.exit(main())
