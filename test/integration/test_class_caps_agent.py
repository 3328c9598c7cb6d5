"""Hardware-class caps given as fractions, end to end (docs/policies.md, "Hardware classes"): the
agent reports the package maximum in status.packageMaxPowerWatts, the operator turns the
class's fractions into watts per node in the NodePowerProfiles, and the agent applies those watts
-- on RAPL (a fake sysfs tree) and through the simulator's HTTP route -- while a node outside
every class keeps the default caps. `kubectl get npp` shows each node's watts."""

import json

from agent_support import PowerSim, create_tp, http_tp_spec, limit_uw, make_tree, start_agent
from harness import kubectl_path, wait_for
from operator_support import create_node, npp, patch_node, start_operator

CLASS = "joulie.io/test-class"
POLICY = """policy: context_aware_v1
performance: {baseFraction: 0, min: 0, max: 100, performanceCapWatts: 300, ecoCapWatts: 150}
hardwareClasses:
  - {name: frac, selector: "joulie.io/test-class=frac", performanceCapFraction: 0.8,
     ecoCapFraction: 0.5}
"""
RAPL_MAX_W = 250  # the fake tree's constraint_0_max_power_uw
SIM_MAX_W = 60 + 140  # the simulator's idle + dynamic watts: its reported package maximum


def cap(kube, node):
    return ((npp(kube, "node-" + node) or {}).get("spec") or {}).get("cpu", {}).get(
        "packagePowerCapWatts")


def reported_max(kube, node):
    return ((npp(kube, "node-" + node) or {}).get("status") or {}).get("packageMaxPowerWatts")


def wait_caps(kube, tree, sim, profile, fraction, plain_watts):
    """`fraction` of each class node's own maximum in its NodePowerProfile, on both RAPL packages
    of r1 and on s1's simulator; the node outside every class at `plain_watts`."""
    r1_w, s1_w = round(fraction * RAPL_MAX_W), round(fraction * SIM_MAX_W)
    wait_for(lambda: (cap(kube, "r1"), cap(kube, "s1"), cap(kube, "plain")) ==
             (r1_w, s1_w, plain_watts), 20,
             what="per-node %s watts from the class fraction (%s, %s, %s)"
             % (profile, r1_w, s1_w, plain_watts))
    wait_for(lambda: [limit_uw(tree, n) for n in (0, 1)] == [r1_w * 1_000_000] * 2, 20,
             what="RAPL limits at %s x %s W on both packages" % (fraction, RAPL_MAX_W))
    wait_for(lambda: sim.state("s1").get("capWatts") == s1_w, 20,
             what="the simulator's cap at %s x %s W" % (fraction, SIM_MAX_W))


def test_fraction_caps_reach_rapl_and_the_simulator(apiserver, procs, joulie_bin, tmp_path):
    kube = apiserver
    kube.apply_crds()
    sim = PowerSim(procs, tmp_path)
    tree = make_tree(tmp_path / "sysfs", packages=2, max_power_uw=RAPL_MAX_W * 1_000_000)
    create_node(kube, "r1", {CLASS: "frac"})
    create_node(kube, "s1", {CLASS: "frac"})
    create_node(kube, "plain")  # outside every class: the defaults
    create_tp(kube, "sim-s1", http_tp_spec(sim, scope="node", node="s1"))
    start_agent(procs, joulie_bin, kube, tmp_path, node="r1", tree=tree, interval="1s",
                name="agent-r1", state_dir=tmp_path / "state-r1")
    start_agent(procs, joulie_bin, kube, tmp_path, node="s1", interval="1s", name="agent-s1",
                state_dir=tmp_path / "state-s1")
    f = tmp_path / "policy.yaml"
    f.write_text(POLICY)
    # A tick of an hour: the agent's first report of its maximum re-plans by itself.
    start_operator(procs, joulie_bin, kube, "--policy-config", f, "--interval", "1h",
                   "--downgrade-settle", "0s")

    # No demand: every node eco. Before an agent reports, the fraction falls back to the default
    # eco watts; once it has, the eco cap is half of that node's own package maximum.
    wait_for(lambda: reported_max(kube, "r1") == RAPL_MAX_W, 20,
             what="r1's agent reporting the RAPL package maximum")
    wait_for(lambda: reported_max(kube, "s1") == SIM_MAX_W, 20,
             what="s1's agent reporting the simulator's package maximum")
    wait_caps(kube, tree, sim, "eco", 0.5, plain_watts=150)

    # Pinned performance: the class's performance fraction of each node's own maximum.
    for n in ("r1", "s1"):
        patch_node(kube, n, {"metadata": {"annotations": {"joulie.io/pin": "performance"}}})
    wait_caps(kube, tree, sim, "performance", 0.8, plain_watts=150)

    # kubectl get npp: the CPU-Watts column is each node's own watts.
    if kubectl_path():
        rows = kube.kubectl("get", "npp", "--no-headers").stdout.splitlines()
        watts = {r.split()[1]: r.split()[3] for r in rows}
        assert watts == {"r1": "200", "s1": "160", "plain": "150"}, rows
    code, obj = kube.api("GET", "/apis/joulie.io/v1alpha1/nodepowerprofiles")
    assert code == 200, obj
    assert {o["spec"]["nodeName"]: o["spec"]["cpu"]["packagePowerCapWatts"]
            for o in obj["items"]} == {"r1": 200, "s1": 160, "plain": 150}, json.dumps(obj)
