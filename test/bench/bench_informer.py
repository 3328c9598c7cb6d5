#!/usr/bin/python3
"""docs/design.md#quality-bars: initial sync of the informer (src/kube) over a large cluster.

Seeds the test API server with N nodes and M pods (seed_cluster.py's cluster), then runs
build-bench/test/support/informer_probe once per resource and reports:
  * seconds from process start to the "listed" log line (initial list done, cache populated);
  * RSS after the sync and the peak (VmHWM);
  * bytes per cached object = (RSS with the full cache - RSS of the same probe whose label
    selector matches nothing) / objects. The probe keeps labels for nodes and (node, phase) for
    pods, as the operator does; RSS also holds whatever malloc kept from parsing the pages.
The test API server's own time to serve the same pages to a Python client is measured too, so
that the share of the (Python) server in the sync time is visible.

    test/bench/bench_informer.py [--nodes 5000 --pods 150000] [--probe PATH] [--json FILE]
"""

import argparse
import http.client
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib
from benchlib import Table, rss_bytes, hwm_bytes, stop, wait_for
from harness import ApiServer
import seed_cluster

QPS, BURST = 20.0, 40  # joulie::kube::ClientOptions defaults, used by informer_probe


def list_all(kapi, path, limit=500):
    """Page through a list like an informer does; returns (items, pages, seconds)."""
    items, token, pages = 0, None, 0
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", kapi.port, timeout=300)
    try:
        while True:
            q = "%s?limit=%d" % (path, limit) + ("&continue=" + token if token else "")
            conn.request("GET", q)
            r = conn.getresponse()
            body = r.read()
            if r.status != 200:
                raise RuntimeError("list %s: %s %s" % (path, r.status, body[:200]))
            doc = json.loads(body)
            items += len(doc["items"])
            pages += 1
            token = doc["metadata"].get("continue")
            if not token:
                return items, pages, time.monotonic() - t0
    finally:
        conn.close()


def run_probe(args, kapi, workdir, resource, selector, table):
    err = workdir / ("probe-%s-%s.stderr" % (resource, "empty" if selector else "full"))
    cmd = [args.probe, "--kubeconfig", str(kapi.kubeconfig("admin")), "informer", "--resource",
           resource, "--dump", str(workdir / "dump.jsonl"), "--page-size", str(args.page_size)]
    if selector:
        cmd += ["--label-selector", selector]
    with open(err, "wb") as fe:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=fe)
    try:
        def listed():
            table.load.sample()
            if proc.poll() is not None:
                raise RuntimeError("informer_probe exited: %s" % err.read_text()[-2000:])
            return re.search(r"listed .*items=(\d+) pages=(\d+)", err.read_text(errors="replace"))
        m = wait_for(listed, 600, 0.01, "the probe's initial list")
        seconds = time.monotonic() - t0
        cpu = benchlib.cpu_seconds(proc.pid)
        time.sleep(2)  # let the watch start and the allocator settle before reading RSS
        return {"seconds": seconds, "cpu": cpu, "items": int(m.group(1)), "pages": int(m.group(2)),
                "rss": rss_bytes(proc.pid), "hwm": hwm_bytes(proc.pid)}
    finally:
        stop(proc)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=5000)
    p.add_argument("--pods", type=int, default=150000)
    p.add_argument("--page-size", type=int, default=500)
    p.add_argument("--probe", default=benchlib.default_probe())
    p.add_argument("--json")
    a = p.parse_args()
    t = Table("informer initial sync: %d nodes + %d pods (informer_probe)" % (a.nodes, a.pods))
    workdir = Path(tempfile.mkdtemp(prefix="joulie-bench-informer-"))
    kapi = None
    try:
        seed = workdir / "seed.jsonl"
        seed_cluster.write(str(seed), a.nodes, a.pods)
        t0 = time.monotonic()
        kapi = ApiServer(workdir / "kapi", certs=None, tls=False, users={}, seed=seed).start(timeout=600)
        t.info("test API server start incl. seeding", "%.1f s" % (time.monotonic() - t0),
               "server RSS %s" % benchlib.mib(rss_bytes(kapi.proc.pid)))
        for resource, path in (("nodes", "/api/v1/nodes"), ("pods", "/api/v1/pods")):
            items, pages, secs = list_all(kapi, path, a.page_size)
            t.info("server alone: list %s (Python client, %d pages)" % (resource, pages),
                   "%.2f s" % secs, "%d items; the floor under the informer's figure" % items)
            t.load.sample()
            empty = run_probe(a, kapi, workdir, resource, "bench.joulie.io/none=x", t)
            full = run_probe(a, kapi, workdir, resource, None, t)
            floor = max(0, full["pages"] - BURST) / QPS
            t.info("informer %s: initial list" % resource, "%.2f s" % full["seconds"],
                   "%d items, %d pages of %d; probe CPU %.2f s; the client's rate limiter "
                   "(%g QPS, burst %d) alone needs %.1f s for %d pages" % (
                       full["items"], full["pages"], a.page_size, full["cpu"], QPS, BURST, floor,
                       full["pages"]))
            t.info("informer %s: RSS after sync" % resource, benchlib.mib(full["rss"]),
                   "peak %s; empty-cache baseline %s" % (benchlib.mib(full["hwm"]),
                                                         benchlib.mib(empty["rss"])))
            per = (full["rss"] - empty["rss"]) / max(1, full["items"])
            t.check("informer %s: bytes per cached object" % resource, per, "%.0f B" % per,
                    "hundreds of bytes", per < 1000,
                    "(RSS full - RSS empty) / items; includes allocator slack")
        t.note("informer_probe uses the client's default rate limit (%g QPS, burst %d): "
               "every list page is a request, so a list of more than %d pages is paced by the "
               "limiter, not by the server or by parsing (compare 'server alone' and the probe "
               "CPU)" % (QPS, BURST, BURST))
    finally:
        if kapi is not None:
            kapi.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return t.print(a.json)


if __name__ == "__main__":
    sys.exit(main())
