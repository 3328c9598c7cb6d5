"""The node informer (test/support/informer_probe): its cache must end equal to a fresh list.

On both tiers (``kube``): a paginated initial sync, and nodes created, relabelled and deleted in
the background (on a real cluster the informer selects the run's label, so only the test's nodes
count). On the test server only (``apiserver``), the same churn under faults: the watch is cut,
history is compacted (410), list requests fail with 500 and 429 + Retry-After, and the server
stops and starts listening.
"""

import json
import random
import signal
import threading
import time
from urllib.parse import urlencode

import pytest

from harness import wait_for

NODES = "/api/v1/nodes"


def node(kube, name, labels):
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": dict(kube.test_labels, **labels)}}


class Probe:
    def __init__(self, proc, dump_path):
        self.proc = proc
        self.dump_path = dump_path

    def dump(self):
        """Ask for a dump (SIGUSR1) and return (status, {key: labels})."""
        if self.dump_path.exists():
            self.dump_path.unlink()
        self.proc.signal(signal.SIGUSR1)
        wait_for(lambda: self.dump_path.exists() or not self.proc.alive(), 10,
                 what="the probe's cache dump")
        assert self.proc.alive(), "probe exited:\n" + self.proc.tail()
        lines = self.dump_path.read_text().splitlines()
        status = json.loads(lines[0])["status"]
        return status, {d["key"]: d["labels"] for d in map(json.loads, lines[1:])}


def start_probe(procs, informer_probe, kube, tmp_path, *extra):
    dump = tmp_path / "cache.jsonl"
    selector = ["--label-selector", kube.selector()] if kube.selector() else []
    proc = procs.start("informer", [informer_probe, "informer", "--kubeconfig",
                                    kube.kubeconfig("admin"), "--dump", dump, *selector, *extra])
    proc.wait_for_log(r"^READY$", 10, stream="stdout")  # SIGUSR1 before its handler would kill it
    return Probe(proc, dump)


def fresh_list(kube):
    query = "?" + urlencode({"labelSelector": kube.selector()}) if kube.selector() else ""
    items = kube.get(NODES + query)["items"]
    return {n["metadata"]["name"]: n["metadata"].get("labels") or {} for n in items}


class Churn(threading.Thread):
    """Creates, relabels and deletes nodes until stopped; errors (injected faults, a server that
    is not listening) are ignored: the final fresh list is the truth."""

    def __init__(self, kube):
        super().__init__(daemon=True)
        self.kube = kube
        self.stopping = threading.Event()
        self.paused = threading.Event()
        self.quiet = threading.Event()  # acknowledges `paused`: no write in flight
        self.rng = random.Random(7)
        self.writes = 0

    def run(self):
        names = sorted(fresh_list(self.kube))  # then tracked locally: no list requests
        i = 0
        while not self.stopping.is_set():
            if self.paused.is_set():
                self.quiet.set()
                time.sleep(0.02)
                continue
            self.quiet.clear()
            i += 1
            try:
                op = self.rng.choice(["create", "create", "label", "delete"])
                if op == "create" or not names:
                    name = self.kube.unique_name("churn-%04d" % i)
                    r = self.kube.request("POST", NODES, node(self.kube, name, {"gen": str(i)}),
                                          timeout=3)
                    if r.code < 300:
                        names.append(name)
                elif op == "label":
                    name = self.rng.choice(names)
                    r = self.kube.request(
                        "PATCH", "%s/%s" % (NODES, name),
                        {"metadata": {"labels": {"gen": str(i), "joulie.io/power-profile":
                                                 self.rng.choice(["eco", "performance"])}}},
                        timeout=3)
                else:
                    name = self.rng.choice(names)
                    r = self.kube.request("DELETE", "%s/%s" % (NODES, name), timeout=3)
                    if r.code < 300:
                        names.remove(name)
                if r.code < 300:
                    self.writes += 1
            except (OSError, ValueError):
                pass
            time.sleep(0.02)

    def stop(self):
        self.stopping.set()
        self.join(10)


def converge(probe, kube, timeout=60):
    """Wait until the probe's cache equals a fresh list; return the last status."""
    last = {}

    def equal():
        status, cache = probe.dump()
        last["status"], last["diff"] = status, None
        expected = fresh_list(kube)
        if cache == expected:
            return status
        missing = sorted(set(expected) - set(cache))[:5]
        extra = sorted(set(cache) - set(expected))[:5]
        changed = sorted(k for k in set(cache) & set(expected) if cache[k] != expected[k])[:5]
        last["diff"] = "missing %s extra %s changed %s" % (missing, extra, changed)
        return None

    try:
        return wait_for(equal, timeout, 0.3, "the informer cache to equal a fresh list")
    finally:
        if last.get("diff"):
            print("last difference:", last["diff"], "status:", last.get("status"))


def create_nodes(kube, prefix, n):
    for i in range(n):
        r = kube.request("POST", NODES, node(kube, kube.unique_name("%s%02d" % (prefix, i)),
                                             {"i": str(i)}))
        assert r.code == 201, r


def test_initial_sync_paginated(kube, procs, informer_probe, tmp_path):
    create_nodes(kube, "n", 23)
    if not kube.external:
        kube.reset_counters()
    probe = start_probe(procs, informer_probe, kube, tmp_path, "--page-size", "5")
    status = converge(probe, kube, 20)
    assert status["synced"] and status["healthy"]
    assert status["size"] == 23
    if not kube.external:
        assert kube.count("list", "nodes") >= 5  # 23 nodes in pages of 5


def test_informer_follows_churn(kube, procs, informer_probe, tmp_path):
    create_nodes(kube, "base-", 10)
    probe = start_probe(procs, informer_probe, kube, tmp_path, "--page-size", "4")
    converge(probe, kube, 20)
    churn = Churn(kube)
    churn.start()
    try:
        wait_for(lambda: churn.writes >= 40, 60, what="40 writes by the background churn")
    finally:
        churn.stop()
    status = converge(probe, kube, 30)
    assert status["synced"] and status["healthy"]
    assert probe.proc.alive()


@pytest.mark.slow
def test_informer_survives_faults_and_converges(apiserver, procs, informer_probe, tmp_path):
    create_nodes(apiserver, "base-", 40)
    # Backoff capped at 4 s (instead of 30 s) to keep the test short; the constants themselves
    # are unit-tested.
    probe = start_probe(procs, informer_probe, apiserver, tmp_path, "--page-size", "7",
                        "--backoff-max", "4s")
    converge(probe, apiserver, 20)

    churn = Churn(apiserver)
    churn.start()
    try:
        def restarts():
            return probe.dump()[0]["restarts"]

        t0 = time.monotonic()

        def phase(name):
            print("%6.1fs %s" % (time.monotonic() - t0, name))

        # 1. An abruptly cut watch.
        before = restarts()
        wait_for(lambda: apiserver.open_watches() >= 1, 10, what="the informer's watch")
        apiserver.cut_watches()
        wait_for(lambda: restarts() > before, 20, what="a watch restart after the cut")

        phase("cut watch handled")
        # 2. The stream ends cleanly; while the resumed watch is held up in the server (latency
        # injection), a write happens and history is compacted: the resumed watch gets 410.
        churn.paused.set()
        churn.quiet.wait(10)
        wait_for(lambda: probe.dump()[0]["healthy"] and apiserver.open_watches() >= 1, 20,
                 what="the informer to be watching again")
        relists = probe.dump()[0]["relists"]
        apiserver.add_latency(1.5, verb="watch", resource="nodes")
        apiserver.cut_watches(graceful=True)
        assert apiserver.request("POST", NODES,
                                 node(apiserver, "while-compacting", {"x": "1"})).code == 201
        apiserver.compact()
        probe.proc.wait_for_log(r"watch expired \(410\)", 20)
        apiserver.add_latency(0)
        wait_for(lambda: probe.dump()[0]["relists"] > relists, 30, what="a relist after 410")
        churn.paused.clear()
        phase("410 handled")
        # 3. A burst of 500s on lists, then of 429s with Retry-After, each after a cut watch.
        for code in (500, 429):
            wait_for(lambda: apiserver.open_watches() >= 1, 30, what="the informer's watch")
            before = restarts()
            apiserver.fail_next(6, code=code, retry_after=1 if code == 429 else None, verb="list",
                                resource="nodes")
            apiserver.cut_watches()
            wait_for(lambda: restarts() > before, 30, what="a restart during %d errors" % code)

        phase("500/429 bursts handled")
        # 4. The server goes away and comes back on the same port.
        wait_for(lambda: apiserver.open_watches() >= 1, 30, what="the informer's watch")
        apiserver.stop_listening()
        time.sleep(1.5)  # an outage of a known length (not synchronisation)
        apiserver.start_listening()
        apiserver.clear_faults()
        phase("server restarted")
    finally:
        churn.stop()

    assert churn.writes > 20, "the background churn made too few writes to prove anything"
    status = converge(probe, apiserver, 90)
    phase("converged")
    assert status["synced"]
    assert status["relists"] >= 2
    assert status["restarts"] >= 5
    wait_for(lambda: probe.dump()[0]["healthy"], 30, what="the informer to report healthy")
    assert probe.proc.alive()
