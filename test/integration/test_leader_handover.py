"""A leader handover in the middle of the operator's work (docs/decisions.md, "Per-node memory in
annotations"): the node's memory lives in its annotations, not in the process, so the new leader
neither caps a settling node early nor lets it wait a fresh settle, and holds a node for the
minDwell the old leader started."""

import os
import signal
import time

import pytest

from harness import MANIFESTS_NAMESPACE, wait_for
from operator_support import (create_node, create_pod, delete_pod, label, node, passes,
                              profile_of, start_operator)

# The manifests' Role allows the Lease only in the operator's own namespace (joulie-system).
LEASE_ENV = {"POD_NAMESPACE": MANIFESTS_NAMESPACE}
# A short lease, so the standby takes over a killed leader within seconds.
LEASE = ["--leader-elect", "--leader-elect-lease-duration", "3s",
         "--leader-elect-renew-deadline", "2s", "--leader-elect-retry-period", "500ms"]
STATE_SINCE = "joulie.io/state-since"


@pytest.fixture
def kube(apiserver):
    apiserver.apply_crds()
    apiserver.ensure_namespace(MANIFESTS_NAMESPACE)
    apiserver.add_user("operator-b", "tok-operator-b", apiserver.users["operator"])
    return apiserver


def write(path, text):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def state_since(kube, name):
    return ((node(kube, name) or {}).get("metadata", {}).get("annotations") or {}).get(STATE_SINCE)


def two_operators(procs, joulie_bin, kube, *args):
    """A leader and a ready standby with the same configuration."""
    a = start_operator(procs, joulie_bin, kube, *LEASE, *args, name="op-a", env=LEASE_ENV)
    a.wait_for_log(r"became the leader", 20)
    b = start_operator(procs, joulie_bin, kube, *LEASE, *args, user="operator-b", name="op-b",
                       env=LEASE_ENV)
    b.wait_for_log(r"leader election enabled", 20)
    return a, b


def kill_leader(a, b):
    """SIGKILL: no lease release, no goodbye. Returns when the standby leads."""
    a.stop(signal.SIGKILL)
    b.wait_for_log(r"became the leader", 20)
    return time.monotonic()


@pytest.mark.slow
def test_the_new_leader_keeps_the_settle_of_a_downgrade_in_progress(kube, procs, joulie_bin,
                                                                    tmp_path):
    settle = 10.0
    for n in ("n1", "n2"):
        create_node(kube, n)
    f = tmp_path / "policy.yaml"
    write(f, "policy: static_partition\nperformance: {baseFraction: 1.0}\n")
    a, b = two_operators(procs, joulie_bin, kube, "--policy-config", f, "--policy-config-poll",
                         "200ms", "--interval", "1s", "--downgrade-settle", "%ds" % settle)
    wait_for(lambda: all(profile_of(kube, n) == "performance" and label(kube, n) == "performance"
                         for n in ("n1", "n2")), 15, what="both nodes performance")

    # The policy wants eco: the leader writes the eco labels (phase one) and records when.
    write(f, "policy: static_partition\nperformance: {baseFraction: 0.0}\n")
    wait_for(lambda: all(label(kube, n) == "eco" for n in ("n1", "n2")), 15, what="eco labels")
    labelled = time.monotonic()
    records = {n: state_since(kube, n) for n in ("n1", "n2")}
    assert all(r and r.startswith("eco ") for r in records.values()), records
    assert [profile_of(kube, n) for n in ("n1", "n2")] == ["performance", "performance"]

    # Killed between the label and the cap; the standby takes over seconds later.
    took_over = kill_leader(a, b)
    assert took_over - labelled >= 2.5, "the handover must come well inside the settle"
    wait_for(lambda: passes(b) >= 1, 10, what="the new leader's first pass")

    # The new leader waits for the rest of the old settle: the caps are not lowered early...
    wait_for(lambda: all(profile_of(kube, n) == "eco" for n in ("n1", "n2")), settle + 10, 0.05,
             what="the eco caps after the settle")
    capped = time.monotonic()
    assert capped - labelled >= settle - 0.5, "capped %.1fs after the label" % (capped - labelled)
    # ...nor after a fresh settle counted from the takeover (what a leader without memory does).
    assert capped < took_over + settle - 1.0, (
        "capped %.1fs after the takeover: the settle was started over" % (capped - took_over))
    # The memory is the old leader's record, read, not rewritten.
    assert {n: state_since(kube, n) for n in ("n1", "n2")} == records


@pytest.mark.slow
def test_the_new_leader_holds_a_node_for_the_min_dwell_the_old_one_started(kube, procs, joulie_bin,
                                                                          tmp_path):
    dwell = 16.0
    for n in ("n1", "n2"):
        create_node(kube, n)
    f = tmp_path / "policy.yaml"
    write(f, "policy: context_aware_v1\n"
             "performance: {baseFraction: 0, min: 0, perfPodsPerNode: 10}\n"
             "stability: {minDwell: %ds}\n" % dwell)
    a, b = two_operators(procs, joulie_bin, kube, "--policy-config", f, "--interval", "1s",
                         "--downgrade-settle", "0")
    wait_for(lambda: all(label(kube, n) == "eco" for n in ("n1", "n2")), 15, what="both eco")

    # Demand for one performance node: the leader upgrades one and records when.
    create_pod(kube, "job", profile="performance")
    wait_for(lambda: [label(kube, n) for n in ("n1", "n2")].count("performance") == 1, 15,
             what="one node upgraded")
    upgraded_at = time.monotonic()
    up = next(n for n in ("n1", "n2") if label(kube, n) == "performance")
    assert state_since(kube, up).startswith("performance ")

    # The demand is gone; minDwell keeps the node performance. The leader dies.
    delete_pod(kube, "job")
    seen = passes(a)
    wait_for(lambda: passes(a) >= seen + 2, 10, what="the leader's passes without demand")
    assert label(kube, up) == "performance", "released before minDwell"
    took_over = kill_leader(a, b)
    assert took_over - upgraded_at < dwell - 4, "the handover must come well inside the dwell"

    # The new leader holds it for the rest of the dwell, then releases it.
    wait_for(lambda: passes(b) >= 2, 10, what="the new leader's passes")
    assert time.monotonic() - upgraded_at < dwell - 1 and label(kube, up) == "performance", (
        "the new leader released the node before minDwell")
    wait_for(lambda: label(kube, up) == "eco", dwell + 10, 0.05, what="the node released at minDwell")
    released = time.monotonic() - upgraded_at
    assert released >= dwell - 0.5, "released %.1fs after the upgrade" % released
