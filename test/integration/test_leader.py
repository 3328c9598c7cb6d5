"""Leader election between informer_probe processes contending for one Lease.

Each probe, while leading, merge-patches a node annotation with "<identity>/<seq>" every 200 ms.
The history of that annotation (watched through the API) and the probes' own logs must show one
writer at a time; a killed leader is replaced within lease duration + retry period (+ margin).

Handover runs on both tiers (``kube``; on a real cluster the Lease and the heartbeat node carry the
run's name suffix, the node its label, and both are deleted afterwards); a leader that cannot
renew needs the test server to stop listening.
"""

import signal
import threading
import time

import pytest

from harness import wait_for

NODES = "/api/v1/nodes"
LEASE_NAMESPACE = "default"
LEASE, RENEW, RETRY = 3.0, 2.0, 0.5
ANNOTATION = "joulie.io/probe-heartbeat"


def lines(proc, kind):
    """[(epoch seconds, rest...)] of the probe's stdout lines starting with ``kind``."""
    out = []
    for line in proc.output("stdout").splitlines():
        parts = line.split()
        if parts and parts[0] == kind:
            out.append((int(parts[1]) / 1000.0, *parts[2:]))
    return out


class HeartbeatHistory(threading.Thread):
    """Records every value of the heartbeat annotation, in the API server's order."""

    def __init__(self, kube, node):
        super().__init__(daemon=True)
        self.kube = kube
        self.node = node
        self.values = []
        self.stopping = threading.Event()

    def run(self):
        rv = self.kube.get("%s/%s" % (NODES, self.node))["metadata"]["resourceVersion"]
        while not self.stopping.is_set():
            try:
                with self.kube.watch(NODES, timeout=5, resourceVersion=rv,
                                     fieldSelector="metadata.name=" + self.node) as w:
                    while not self.stopping.is_set():
                        ev = w.next(0.5)
                        if ev is None:
                            if w.ended:
                                break
                            continue
                        md = ev["object"].get("metadata", {})
                        rv = md.get("resourceVersion", rv)
                        value = (md.get("annotations") or {}).get(ANNOTATION)
                        if value and (not self.values or self.values[-1] != value):
                            self.values.append(value)
            except OSError:
                time.sleep(0.1)

    def writers(self):
        """Identities in write order, consecutive repeats collapsed."""
        out = []
        for v in self.values:
            who = v.split("/")[0]
            if not out or out[-1] != who:
                out.append(who)
        return out

    def stop(self):
        self.stopping.set()
        self.join(10)


class Election:
    """Candidates contending for a Lease of this test's own, heartbeating a node of its own whose
    annotation history ``history`` records."""

    def __init__(self, kube, procs, informer_probe):
        self.kube, self.procs, self.informer_probe = kube, procs, informer_probe
        self.lease = kube.unique_name("probe-lease")
        self.node = kube.unique_name("hb-node")
        # The probes create the Lease; it cannot carry the run's label.
        kube.delete_later("/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s"
                          % (LEASE_NAMESPACE, self.lease))
        r = kube.request("POST", NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": self.node, "labels": dict(kube.test_labels)}})
        assert r.code == 201, r
        self.history = HeartbeatHistory(kube, self.node)
        self.history.start()

    def candidate(self, identity):
        return self.procs.start(identity, [
            self.informer_probe, "leader", "--kubeconfig", self.kube.kubeconfig("admin"),
            "--identity", identity, "--lease-namespace", LEASE_NAMESPACE,
            "--lease-name", self.lease, "--lease-duration", "%gs" % LEASE,
            "--renew-deadline", "%gs" % RENEW, "--retry-period", "%gms" % (RETRY * 1000),
            "--heartbeat-node", self.node, "--heartbeat-interval", "200ms"])

    def close(self):
        self.history.stop()
        # Before the kube fixture deletes the Lease: a running candidate would recreate it.
        self.procs.stop_all()


@pytest.fixture
def election(kube, procs, informer_probe):
    e = Election(kube, procs, informer_probe)
    yield e
    e.close()


@pytest.fixture
def server_election(apiserver, procs, informer_probe):
    e = Election(apiserver, procs, informer_probe)
    yield e
    e.close()


@pytest.mark.slow
def test_one_leader_at_a_time_and_fast_takeover(kube, election):
    a = election.candidate("cand-a")
    a.wait_for_log(r"^LEADING ", 10, stream="stdout")
    b = election.candidate("cand-b")
    b.wait_for_log(r"^CANDIDATE ", 10, stream="stdout")
    if not kube.external:
        wait_for(lambda: kube.count("get", "leases") >= 4, 10, what="both candidates polling")
    time.sleep(2 * LEASE)  # a period of known length in which b must stay a follower
    assert not lines(b, "LEADING"), "b led while a was renewing:\n" + b.tail()
    assert len(lines(a, "HEARTBEAT")) >= 10

    # kill -9 the leader: no release, b must wait for expiry, then take over.
    killed_at = time.time()
    a.signal(signal.SIGKILL)
    a.wait(5)
    b.wait_for_log(r"^LEADING ", LEASE + 2 * RETRY + 5, stream="stdout")
    takeover = lines(b, "LEADING")[0][0] - killed_at
    assert takeover <= LEASE + 2 * RETRY + 1.0, "takeover took %.2fs" % takeover
    assert takeover >= LEASE - RENEW - 0.5  # b did wait for the lease (observed change) to lapse

    # A clean stop releases the lease: the next candidate takes over without waiting for expiry.
    wait_for(lambda: len(lines(b, "HEARTBEAT")) >= 3, 10, what="b's heartbeats")
    c = election.candidate("cand-c")
    c.wait_for_log(r"^CANDIDATE ", 10, stream="stdout")
    time.sleep(2 * RETRY)  # let c observe the lease
    stopped_at = time.time()
    assert b.stop(signal.SIGTERM, 10) == 0
    assert lines(b, "STOPPED"), b.tail()
    c.wait_for_log(r"^LEADING ", 10, stream="stdout")
    assert lines(c, "LEADING")[0][0] - stopped_at <= RETRY * 1.2 + 1.0
    wait_for(lambda: len(lines(c, "HEARTBEAT")) >= 3, 10, what="c's heartbeats")
    history = election.history
    wait_for(lambda: history.writers()[-1:] == ["cand-c"], 10, what="c's heartbeat in the API")

    # Never two writers: in the API's history each identity writes in one uninterrupted run...
    assert history.writers() == ["cand-a", "cand-b", "cand-c"], history.values
    # ...and by the probes' own clocks each leader's heartbeats end before the next one's begin.
    a_last = lines(a, "HEARTBEAT")[-1][0]
    b_beats, c_beats = lines(b, "HEARTBEAT"), lines(c, "HEARTBEAT")
    assert a_last < b_beats[0][0]
    assert b_beats[-1][0] <= lines(b, "STOPPED")[0][0] <= lines(c, "LEADING")[0][0]
    assert lines(b, "STOPPED")[0][0] < c_beats[0][0]


def test_leader_that_cannot_renew_stops_within_the_deadline(apiserver, server_election):
    a = server_election.candidate("cand-a")
    a.wait_for_log(r"^LEADING ", 10, stream="stdout")
    wait_for(lambda: len(lines(a, "HEARTBEAT")) >= 3, 10, what="a's heartbeats")
    cut_at = time.time()
    apiserver.stop_listening()
    try:
        a.wait_for_log(r"^STOPPED ", RENEW + 5, stream="stdout")
        stopped = lines(a, "STOPPED")[0][0]
        # Stopped at the renew deadline after its last renew (which preceded the cut).
        assert stopped - cut_at <= RENEW + 0.5, "stopped %.2fs after the cut" % (stopped - cut_at)
        assert a.wait(10) == 0  # exits like the operator does
        beats = lines(a, "HEARTBEAT")
        assert beats[-1][0] <= stopped
    finally:
        apiserver.start_listening()
