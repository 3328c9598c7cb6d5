"""Supply that fits demand on the test API server (docs/policies.md): with three node types (one
tainted), pending performance pods that require type C and tolerate its taint make only type-C
nodes performance, enough to fit their requests; a pod that fits no node is named with the
scheduler's reason and upgrades nothing; a hardware class's caps reach the NodePowerProfiles."""

import json

import pytest

from harness import wait_for
from operator_support import (PROFILE, create_node, events, label, labels_of, npp, run_once,
                              start_operator, wait_passes)

TYPE = "node.kubernetes.io/instance-type"


@pytest.fixture
def crds(kube):
    kube.apply_crds()
    return kube


def typed_node(kube, name, kind, cpus, tainted=False):
    create_node(kube, name, {TYPE: kind, PROFILE: "eco"})
    status = {"status": {"allocatable": {"cpu": str(cpus), "memory": "256Gi", "pods": "110"}}}
    code, obj = kube.api("PATCH", "/api/v1/nodes/%s/status" % name, status)
    assert code == 200, (code, obj)
    if tainted:
        spec = {"spec": {"taints": [{"key": "pool", "value": "c", "effect": "NoSchedule"}]}}
        code, obj = kube.api("PATCH", "/api/v1/nodes/" + name, spec)
        assert code == 200, (code, obj)


def pending_pod(kube, name, cpus, kind="C", tolerate=True):
    spec = {"containers": [{"name": "c", "image": "busybox",
                            "resources": {"requests": {"cpu": str(cpus), "memory": "1Gi"}}}],
            "nodeSelector": {TYPE: kind, PROFILE: "performance"}}
    if tolerate:
        spec["tolerations"] = [{"key": "pool", "operator": "Equal", "value": "c",
                                "effect": "NoSchedule"}]
    body = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": labels_of(kube)},
            "spec": spec, "status": {"phase": "Pending"}}
    code, obj = kube.api("POST", "/api/v1/namespaces/default/pods", body)
    assert code == 201, (code, obj)


POLICY = """policy: context_aware_v1
performance: {baseFraction: 0, min: 0, max: 100, performanceCapWatts: 5000, ecoCapWatts: 120}
hardwareClasses:
  - {name: c, selector: "node.kubernetes.io/instance-type=C", performanceCapWatts: 400,
     ecoCapWatts: 200}
"""


def test_pending_pods_requiring_type_c_upgrade_only_type_c_nodes(crds, procs, joulie_bin,
                                                                   tmp_path):
    for name, kind, cpus, tainted in [("a1", "A", 32, False), ("a2", "A", 32, False),
                                      ("b1", "B", 64, False), ("c1", "C", 96, True),
                                      ("c2", "C", 96, True), ("c3", "C", 96, True)]:
        typed_node(crds, name, kind, cpus, tainted)
    for i in range(3):
        pending_pod(crds, "train-%d" % i, 40)
    pending_pod(crds, "huge", 500)             # fits no node at all
    pending_pod(crds, "untolerated", 1, tolerate=False)
    f = tmp_path / "policy.yaml"
    f.write_text(POLICY)

    code, out, err = run_once(procs, joulie_bin, crds, "--policy-config", f, "--output", "json",
                              "--dry-run")
    assert code == 0, err
    plan = json.loads(out)
    by_node = {n["node"]: n for n in plan["nodes"]}
    performance = sorted(n for n, v in by_node.items() if v["profile"] == "performance")
    # Three 40-CPU pods, two per 96-CPU node: two type-C nodes, none of type A or B.
    assert performance == ["c1", "c2"], plan
    assert "2 pending performance pod(s) fit here" in by_node["c1"]["reasons"]
    reasons = plan["context"]["reasons"]
    assert any(r.startswith("unschedulable: default/huge fits no managed node even at "
                            "performance: 0/6 nodes are available: 3 Insufficient cpu, 3 node(s) "
                            "didn't match Pod's node affinity/selector.") for r in reasons), reasons
    assert any(r.startswith("unschedulable: default/untolerated") and
               "3 node(s) had untolerated taint {pool: c}" in r for r in reasons), reasons
    # Per-class caps: type-C nodes 400 W / 200 W, the others the defaults.
    assert by_node["c1"]["capWatts"] == 400
    assert by_node["c3"]["capWatts"] == 200
    assert by_node["a1"]["capWatts"] == 120

    # Written for real: the NodePowerProfiles carry the class caps.
    code, out, err = run_once(procs, joulie_bin, crds, "--policy-config", f)
    assert code == 0, err
    caps = {n: (npp(crds, "node-" + n) or {}).get("spec", {}).get("cpu", {})
            .get("packagePowerCapWatts") for n in ("a1", "c1", "c3")}
    assert caps == {"a1": 120, "c1": 400, "c3": 200}, caps


def test_a_pod_that_fits_no_node_gets_one_event_across_passes(crds, procs, joulie_bin, tmp_path):
    """The long-running operator re-plans every 200 ms; the pod that fits nowhere is told once
    (one Warning Event on the Pod, with why), not once per pass, and no node is upgraded."""
    for name, kind, cpus, tainted in [("a1", "A", 32, False), ("c1", "C", 96, True)]:
        typed_node(crds, name, kind, cpus, tainted)
    pending_pod(crds, "huge", 500)
    code, pod = crds.api("GET", "/api/v1/namespaces/default/pods/huge")
    assert code == 200, pod
    f = tmp_path / "policy.yaml"
    f.write_text(POLICY)
    # Dry run first: the plan names the pod, but nothing is written -- Events included.
    code, _, err = run_once(procs, joulie_bin, crds, "--policy-config", f, "--dry-run")
    assert code == 0, err
    assert events(crds, "NoPerformanceNodeFits") == []

    op = start_operator(procs, joulie_bin, crds, "--policy-config", f, "--interval", "200ms")
    found = wait_for(lambda: events(crds, "NoPerformanceNodeFits"), 15,
                     what="a NoPerformanceNodeFits Event")
    start = op.output("stderr").count("reconcile pass")
    wait_passes(op, start + 5, 30)
    got = events(crds, "NoPerformanceNodeFits")
    assert len(got) == 1, got
    e = got[0]
    assert e["type"] == "Warning"
    assert e["involvedObject"]["kind"] == "Pod"
    assert e["involvedObject"]["name"] == "huge"
    assert e["involvedObject"]["namespace"] == "default"
    assert e["involvedObject"]["uid"] == pod["metadata"]["uid"]
    assert e["metadata"]["namespace"] == "default"
    assert e["count"] == 1, e
    assert e["message"] == (
        "fits no managed node even at performance, so no node is made performance for it: "
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node "
        "affinity/selector. It requests cpu 500, memory 1Gi; nodeSelector "
        "node.kubernetes.io/instance-type=C; 1 toleration(s). Of the 1 node(s) matching its "
        "placement, the most free has cpu 96, memory 256Gi (allocatable minus the bound pods' "
        "requests)."), e["message"]
    assert found[0]["metadata"]["name"] == e["metadata"]["name"]
    # Nothing was upgraded for it.
    assert [label(crds, n) for n in ("a1", "c1")] == ["eco", "eco"]
    assert all((npp(crds, "node-" + n) or {}).get("spec", {}).get("profile") != "performance"
               for n in ("a1", "c1"))
