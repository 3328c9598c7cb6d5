#!/usr/bin/python3
"""Make a large cluster for benchmarks and measure the test API server on it.

    seed_cluster.py write FILE [--nodes 5000 --pods 150000]   # JSON lines for kapi --seed
    seed_cluster.py measure [--nodes 5000 --pods 150000]      # start kapi, seed, print figures

Nodes are named worker-00001..; a third are labelled joulie.io/managed=true; pods are spread over
the nodes, 1 in 10 with a performance annotation, all Running.
"""

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SUPPORT = os.path.join(HERE, "..", "support")


def objects(n_nodes, n_pods):
    for i in range(n_nodes):
        labels = {"kubernetes.io/hostname": "worker-%05d" % i}
        if i % 3 == 0:
            labels["joulie.io/managed"] = "true"
        yield {"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": "worker-%05d" % i, "labels": labels},
               "status": {"conditions": [{"type": "Ready", "status": "True"}],
                          "capacity": {"cpu": "64", "memory": "256Gi"}}}
    for j in range(n_pods):
        ann = {"joulie.io/workload-class": "performance"} if j % 10 == 0 else {}
        yield {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "pod-%06d" % j, "namespace": "ns-%02d" % (j % 20),
                            "labels": {"app": "app-%03d" % (j % 300)}, "annotations": ann},
               "spec": {"nodeName": "worker-%05d" % (j % max(n_nodes, 1)),
                        "containers": [{"name": "main", "image": "registry.example/app:1",
                                        "resources": {"requests": {"cpu": "500m",
                                                                   "memory": "1Gi"}}}]},
               "status": {"phase": "Running"}}


def write(path, n_nodes, n_pods):
    with open(path, "w", encoding="utf-8") as f:
        for o in objects(n_nodes, n_pods):
            f.write(json.dumps(o, separators=(",", ":")) + "\n")


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def list_all(port, path, limit=500):
    items, token, pages = 0, None, 0
    while True:
        q = "%s?limit=%d" % (path, limit) + ("&continue=" + token if token else "")
        code, body = get(port, q)
        assert code == 200, body[:200]
        doc = json.loads(body)
        items += len(doc["items"])
        pages += 1
        token = doc["metadata"].get("continue")
        if not token:
            return items, pages


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def measure(n_nodes, n_pods):
    tmp = tempfile.mkdtemp(prefix="kapi-bench-")
    seed = os.path.join(tmp, "seed.jsonl")
    t0 = time.monotonic()
    write(seed, n_nodes, n_pods)
    t_write = time.monotonic() - t0
    port_file = os.path.join(tmp, "port")
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "kapi", "--port", "0", "--port-file", port_file,
                             "--seed", seed], env=dict(os.environ, PYTHONPATH=SUPPORT),
                            stderr=subprocess.DEVNULL)
    try:
        while not os.path.exists(port_file):
            if proc.poll() is not None:
                raise SystemExit("kapi exited")
            time.sleep(0.05)
        port = int(open(port_file).read())
        t_start = time.monotonic() - t0
        rows = [("objects seeded (nodes + pods)", "%d + %d" % (n_nodes, n_pods)),
                ("write seed file", "%.1f s" % t_write),
                ("server start incl. seeding", "%.1f s" % t_start),
                ("server RSS after seeding", "%.0f MiB" % (rss_kb(proc.pid) / 1024))]
        t0 = time.monotonic()
        n, pages = list_all(port, "/api/v1/nodes")
        rows.append(("list nodes, limit=500 (%d items, %d pages)" % (n, pages),
                     "%.2f s" % (time.monotonic() - t0)))
        t0 = time.monotonic()
        n, pages = list_all(port, "/api/v1/pods")
        dt = time.monotonic() - t0
        rows.append(("list pods, limit=500 (%d items, %d pages)" % (n, pages),
                     "%.2f s (%.1f ms/page)" % (dt, 1000 * dt / pages)))
        t0 = time.monotonic()
        for i in range(200):
            get(port, "/api/v1/nodes/worker-%05d" % (i % n_nodes))
        rows.append(("GET one node (mean of 200, new connection each)",
                     "%.2f ms" % ((time.monotonic() - t0) * 1000 / 200)))
        t0 = time.monotonic()
        code, body = get(port, "/api/v1/pods?fieldSelector=spec.nodeName%3Dworker-00007")
        rows.append(("list pods with fieldSelector spec.nodeName (full scan)",
                     "%.0f ms" % ((time.monotonic() - t0) * 1000)))
        # Watch fan-out: 200 watchers with a per-node field selector + 5 unfiltered; 500 patches.
        watchers = []
        received = [0]
        lock = threading.Lock()

        def watch(path):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            c.request("GET", path)
            r = c.getresponse()
            watchers.append(c)
            while True:
                try:
                    line = r.readline()
                except Exception:
                    return
                if not line:
                    return
                with lock:
                    received[0] += 1
        base = "/api/v1/nodes?watch=true&resourceVersion=%s"
        rv = json.loads(get(port, "/api/v1/nodes?limit=1")[1])["metadata"]["resourceVersion"]
        threads = []
        for i in range(200):
            threads.append(threading.Thread(target=watch, args=(
                (base % rv) + "&fieldSelector=metadata.name%%3Dworker-%05d" % i,), daemon=True))
        for i in range(5):
            threads.append(threading.Thread(target=watch, args=(base % rv,), daemon=True))
        for t in threads:
            t.start()
        while True:
            code, body = get(port, "/_test/state")
            if json.loads(body)["watches"] >= 205:
                break
            time.sleep(0.05)
        t0 = time.monotonic()
        for i in range(500):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.request("PATCH", "/api/v1/nodes/worker-%05d" % (i % 400),
                      body=json.dumps({"metadata": {"labels": {"bench": str(i)}}}),
                      headers={"Content-Type": "application/merge-patch+json"})
            c.getresponse().read()
            c.close()
        expected = 500 * 5 + sum(1 for i in range(500) if i % 400 < 200)
        while received[0] < expected and time.monotonic() - t0 < 60:
            time.sleep(0.01)
        dt = time.monotonic() - t0
        rows.append(("500 node patches, 205 open watches (%d events delivered)" % received[0],
                     "%.2f s (%.1f ms/patch incl. delivery)" % (dt, dt * 2)))
        rows.append(("server RSS at the end", "%.0f MiB" % (rss_kb(proc.pid) / 1024)))
        width = max(len(r[0]) for r in rows)
        for k, v in rows:
            print("%s  %s" % (k.ljust(width), v))
    finally:
        proc.terminate()
        proc.wait(10)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["write", "measure"])
    p.add_argument("file", nargs="?")
    p.add_argument("--nodes", type=int, default=5000)
    p.add_argument("--pods", type=int, default=150000)
    a = p.parse_args()
    if a.mode == "write":
        if not a.file:
            p.error("write needs FILE")
        write(a.file, a.nodes, a.pods)
    else:
        measure(a.nodes, a.pods)


if __name__ == "__main__":
    main()
