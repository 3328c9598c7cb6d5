"""The operator's two-phase writes with a real agent (docs/decisions.md, "Downgrade settle,
upgrade apply-wait"): an upgrade publishes the `performance` label only once the node's agent has
reported the raised cap, and the agent's status update -- not the timeout -- is what brings it;
a downgrade writes the eco label first and the eco cap after the settle."""

import os
import signal
import time

from agent_support import PowerSim, create_tp, http_tp_spec, start_agent
from harness import wait_for
from operator_support import create_node, label, npp, start_operator

NODES = ["tp-1", "tp-2"]


def write(path, text):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def policy(fraction):
    return "policy: static_partition\nperformance: {baseFraction: %s, ecoCapWatts: 120}\n" % fraction


def test_labels_wait_for_the_agent_and_the_eco_cap_for_the_settle(apiserver, procs, joulie_bin,
                                                                    tmp_path):
    apiserver.apply_crds()
    sim = PowerSim(procs, tmp_path)
    for n in NODES:
        create_node(apiserver, n)
    create_tp(apiserver, "sim", http_tp_spec(sim))
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, node=None, interval="1s",
                        name="pool", user="agent-pool", args=["--mode", "pool"])
    f = tmp_path / "policy.yaml"
    write(f, policy(0.0))
    # Timeouts far beyond the test's waits: whatever happens in time is the mechanism, not them.
    op = start_operator(procs, joulie_bin, apiserver, "--policy-config", f, "--policy-config-poll",
                        "200ms", "--interval", "1h", "--downgrade-settle", "3s",
                        "--upgrade-apply-timeout", "60s")

    def reported(n):
        o = npp(apiserver, "node-" + n) or {}
        st = o.get("status") or {}
        return (o.get("spec", {}).get("profile"),
                st.get("observedGeneration") == o.get("metadata", {}).get("generation"))

    # A fresh cluster: labels first, the eco caps once the labels have settled.
    wait_for(lambda: all(label(apiserver, n) == "eco" for n in NODES), 15, what="eco labels")
    labelled = time.monotonic()
    wait_for(lambda: all(reported(n) == ("eco", True) for n in NODES), 15,
             what="eco profiles applied by the agent")
    assert time.monotonic() - labelled >= 2.0, "the eco cap came before the label settled"
    wait_for(lambda: all(sim.state(n).get("capWatts") == 120 for n in NODES), 10,
             what="the eco cap in the simulator")

    # The agent stops acting; the policy wants performance: the cap is raised in the profile,
    # the label stays eco.
    os.kill(agent.pid, signal.SIGSTOP)
    try:
        write(f, policy(1.0))
        wait_for(lambda: all(reported(n) == ("performance", False) for n in NODES), 15,
                 what="performance profiles the agent has not acted on")
        # The pass that raised the caps has ended without the labels (it counts them as caps);
        # nothing but the agent's report or the 60 s deadline wakes the nodes again.
        op.wait_for_log(r"reconcile pass .*caps=2", 10)
        assert [label(apiserver, n) for n in NODES] == ["eco", "eco"]
    finally:
        os.kill(agent.pid, signal.SIGCONT)
    resumed = time.monotonic()
    # The agent applies the cap and reports; its status update brings the labels, well before
    # the 60 s timeout.
    wait_for(lambda: all(label(apiserver, n) == "performance" for n in NODES), 15,
             what="performance labels after the agent's report")
    assert time.monotonic() - resumed < 15
    for n in NODES:
        assert sim.state(n).get("capWatts") != 120, "a performance label on an eco-capped node"
    assert "has not reported the performance cap" not in op.output()
