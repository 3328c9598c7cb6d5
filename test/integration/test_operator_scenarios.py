"""``joulie operator`` end to end against the API (docs/design.md#operator): eligibility, policies,
the drain state machine, writes and garbage collection, --once/--dry-run output. Scenarios are
written through the API so they run on the external tier too; tests that need the test server's
counters or faults skip there."""

import json
import time

import pytest

from harness import wait_for
from operator_support import (annotation, create_node, create_pod, delete_node, delete_pod,
                              events, label, npp, npps, passes, patch_node, profile_of, run_once,
                              start_operator, wait_labels, wait_passes)


@pytest.fixture
def crds(kube):
    kube.apply_crds()
    return kube


def four_plus_three(kube):
    for n in ("n1", "n2", "n3", "n4"):
        create_node(kube, n)
    create_node(kube, "reserved", {"joulie.io/reserved": "true"})
    create_node(kube, "cordoned", unschedulable=True)
    create_node(kube, "unselected", managed=False)


# 1 ---------------------------------------------------------------------------------------------
def test_static_partition_assigns_managed_nodes_only(crds, procs, joulie_bin):
    kube = crds
    four_plus_three(kube)
    op = start_operator(procs, joulie_bin, kube, "--policy", "static_partition",
                        "--static-hp-frac", "0.5", "--interval", "1m")
    wait_labels(kube, {"n1": "performance", "n2": "performance", "n3": "eco", "n4": "eco"})
    wait_for(lambda: all(npp(kube, "node-" + n) for n in ("n1", "n2", "n3", "n4")), 10,
             what="four NodePowerProfiles")
    for n, profile, cap in (("n1", "performance", 5000), ("n3", "eco", 120)):
        o = npp(kube, "node-" + n)
        assert o["metadata"]["labels"]["joulie.io/managed-by"] == "operator"
        assert o["spec"] == {"nodeName": n, "profile": profile,
                             "cpu": {"packagePowerCapWatts": cap},
                             "policy": {"name": "static-partition-v1"}}
    for n in ("reserved", "cordoned", "unselected"):
        assert label(kube, n) is None
        assert npp(kube, "node-" + n) is None
    assert len(npps(kube)) == 4
    op.wait_for_log(r"reconcile pass .*policy=static_partition managed=4 performance=2")


# 2 ---------------------------------------------------------------------------------------------
def test_busy_node_drains_and_reaches_eco_when_its_last_pod_leaves(crds, procs, joulie_bin):
    kube = crds
    create_node(kube, "n1")
    op = start_operator(procs, joulie_bin, kube, "--static-hp-frac", "1", "--interval", "1h")
    wait_labels(kube, {"n1": "performance"})
    op.stop()
    create_pod(kube, "perf", node="n1", profile="performance")
    create_pod(kube, "general", node="n1")

    op = start_operator(procs, joulie_bin, kube, "--static-hp-frac", "0", "--interval", "1h")
    wait_labels(kube, {"n1": "draining-performance"})
    assert annotation(kube, "n1")
    assert profile_of(kube, "n1") == "performance"
    assert npp(kube, "node-n1")["spec"]["cpu"]["packagePowerCapWatts"] == 5000
    wait_for(lambda: events(kube, "DowngradeDeferred", "n1"), 10, what="a DowngradeDeferred event")

    delete_pod(kube, "perf")
    start = time.monotonic()
    wait_labels(kube, {"n1": "eco"}, timeout=5)
    assert time.monotonic() - start <= 2.5, "the drain completion must not wait for the tick"
    wait_for(lambda: profile_of(kube, "n1") == "eco", 2, what="profile eco")
    assert annotation(kube, "n1") is None
    wait_for(lambda: events(kube, "PowerProfileChanged", "n1"), 10,
             what="a PowerProfileChanged event")
    assert len(events(kube, "DowngradeDeferred", "n1")) == 1


# 3 ---------------------------------------------------------------------------------------------
def test_drain_cancel_restart_and_forced_completion(crds, procs, joulie_bin):
    kube = crds
    create_node(kube, "n1", {"joulie.io/power-profile": "performance"})
    create_pod(kube, "perf", node="n1", profile="performance")

    # Cancelled: the policy wants performance again.
    op = start_operator(procs, joulie_bin, kube, "--static-hp-frac", "0", "--interval", "1h")
    wait_labels(kube, {"n1": "draining-performance"})
    op.stop()
    op = start_operator(procs, joulie_bin, kube, "--static-hp-frac", "1", "--interval", "1h")
    wait_labels(kube, {"n1": "performance"})
    wait_for(lambda: annotation(kube, "n1") is None, 5, what="draining-since removed")
    op.stop()

    # A restart mid-drain keeps the original draining-since; the timeout then forces eco.
    op = start_operator(procs, joulie_bin, kube, "--static-hp-frac", "0", "--interval", "1h")
    wait_labels(kube, {"n1": "draining-performance"})
    since = wait_for(lambda: annotation(kube, "n1"), 5, what="draining-since set")
    op.stop()
    # The timeout must outlast the stop and restart (seconds under the sanitizers on a loaded
    # machine) for the first pass to see the drain still running.
    op = start_operator(procs, joulie_bin, kube, "--static-hp-frac", "0", "--interval", "1s",
                        "--drain-timeout", "10s")
    wait_passes(op, 1)
    assert annotation(kube, "n1") == since
    wait_labels(kube, {"n1": "eco"}, timeout=20)
    wait_for(lambda: profile_of(kube, "n1") == "eco", 5, what="profile eco (written after the label)")
    wait_for(lambda: events(kube, "DrainForced", "n1"), 10, what="a DrainForced event")


# 4 ---------------------------------------------------------------------------------------------
def test_queue_aware_follows_the_performance_queue(crds, procs, joulie_bin):
    kube = crds
    for i in range(1, 6):
        create_node(kube, "q%d" % i)
    # N=5, base 0.2 → 1; perPerHP 2 → P pods need ceil(P/2) nodes.
    op = start_operator(procs, joulie_bin, kube, "--policy", "queue_aware_v1",
                        "--queue-hp-base-frac", "0.2", "--queue-perf-per-hp-node", "2",
                        "--queue-hp-min", "1", "--queue-hp-max", "5", "--interval", "1s")

    def perf_count():
        return sum(1 for i in range(1, 6) if label(kube, "q%d" % i) == "performance")
    wait_for(lambda: perf_count() == 1, 10, what="1 performance node")
    for i in range(5):
        create_pod(kube, "queued-%d" % i, profile="performance")  # pending: the queue
    wait_for(lambda: perf_count() == 3, 10, what="3 performance nodes for 5 queued pods")
    op.wait_for_log(r"policy=queue_aware_v1 managed=5 performance=3")


# 5 ---------------------------------------------------------------------------------------------
def test_node_leaving_management_is_released(crds, procs, joulie_bin):
    kube = crds
    for n in ("n1", "n2"):
        create_node(kube, n)
    start_operator(procs, joulie_bin, kube, "--static-hp-frac", "0", "--interval", "1h")
    wait_labels(kube, {"n1": "eco", "n2": "eco"})
    wait_for(lambda: npp(kube, "node-n2"), 5, what="n2's profile")
    patch_node(kube, "n2", {"metadata": {"labels": {"joulie.io/managed": None}}})
    wait_for(lambda: npp(kube, "node-n2") is None, 5, what="n2's profile deleted")
    wait_labels(kube, {"n2": None, "n1": "eco"})
    assert annotation(kube, "n2") is None
    # A deleted node's profile goes too.
    delete_node(kube, "n1")
    wait_for(lambda: npp(kube, "node-n1") is None, 5, what="n1's profile deleted")


# 6 ---------------------------------------------------------------------------------------------
def test_pass_without_changes_makes_zero_writes(crds, procs, joulie_bin):
    kube = crds
    for n in ("n1", "n2", "n3"):
        create_node(kube, n)
    op = start_operator(procs, joulie_bin, kube, "--interval", "1s")
    wait_labels(kube, {"n1": "performance", "n2": "performance", "n3": "eco"})
    # Converged once the eco cap follows the settled eco label (--downgrade-settle, 2 s).
    wait_for(lambda: [profile_of(kube, n) for n in ("n1", "n2", "n3")] ==
             ["performance", "performance", "eco"], 10, what="the three profiles")
    wait_passes(op, passes(op) + 1)
    n = passes(op)
    kube.reset_counters()
    wait_passes(op, n + 2)
    c = kube.counters()
    assert c["writes"] == 0, c


# 7 ---------------------------------------------------------------------------------------------
def test_converges_through_faults(crds, procs, joulie_bin):
    kube = crds
    for n in ("n1", "n2", "n3", "n4"):
        create_node(kube, n)
    op = start_operator(procs, joulie_bin, kube, "--interval", "1s")
    wait_labels(kube, {"n1": "performance", "n2": "performance", "n3": "eco", "n4": "eco"})

    for n in ("n5", "n6"):
        create_node(kube, n)
    kube.fail_next(1, code=409, verb="patch", resource="nodes")
    kube.fail_next(6, code=500)
    kube.cut_watches()
    wait_labels(kube, {"n1": "performance", "n2": "performance", "n3": "performance",
                       "n4": "eco", "n5": "eco", "n6": "eco"}, timeout=30)
    wait_for(lambda: all(npp(kube, "node-n%d" % i) for i in range(1, 7)), 10,
             what="six profiles")
    assert op.alive()


# 9 ---------------------------------------------------------------------------------------------
def test_once_json_output_and_dry_run(crds, procs, joulie_bin):
    kube = crds
    four_plus_three(kube)
    kube.reset_counters()
    code, out, err = run_once(procs, joulie_bin, kube, "--dry-run", "--output", "json")
    assert code == 0, err
    assert kube.writes_since_reset() == 0
    doc = json.loads(out)
    assert out.strip().count("\n") == 0
    assert doc["dryRun"] is True
    assert {n["result"] for n in doc["nodes"]} == {"planned"}  # nothing was applied
    assert label(kube, "n1") is None

    code, out, err = run_once(procs, joulie_bin, kube, "--output", "json")
    assert code == 0, err
    doc = json.loads(out)
    # The keys of docs/design.md#one-shot-output, then the explain of #context-aware-policy:
    # per-node reasons and a top-level context.
    assert list(doc) == ["policy", "dryRun", "managed", "performance", "nodes", "context"]
    assert doc["policy"] == "static_partition" and doc["dryRun"] is False
    assert doc["managed"] == 4 and doc["performance"] == 2
    assert [n["node"] for n in doc["nodes"]] == ["n1", "n2", "n3", "n4"]
    assert doc["nodes"][0] == {"node": "n1", "state": "ActivePerformance", "profile": "performance",
                               "label": "performance", "capWatts": 5000, "perfPods": 0,
                               "changed": True, "result": "applied", "reasons": []}
    assert doc["context"]["timeZone"] == "UTC" and doc["context"]["window"] is None
    assert doc["context"]["signals"] == {}  # no policy file: no signals
    assert doc["nodes"][3]["state"] == "ActiveEco" and doc["nodes"][3]["capWatts"] == 120
    assert label(kube, "n1") == "performance"

    code, out, _ = run_once(procs, joulie_bin, kube, "--output", "json")
    assert code == 0
    assert all(n["changed"] is False and n["result"] == "unchanged"
               for n in json.loads(out)["nodes"])

    code, out, _ = run_once(procs, joulie_bin, kube)
    assert code == 0
    assert out.startswith("policy=static_partition dryRun=false managed=4 performance=2")


def test_bad_selector_is_a_usage_error(joulie_bin, procs, apiserver):
    p = procs.start("bad", [joulie_bin, "operator", "--once", "--kubeconfig", apiserver.kubeconfig(),
                            "--node-selector", "a in (b"])
    assert p.wait(10) == 2
    assert "--node-selector" in p.output("stderr")
