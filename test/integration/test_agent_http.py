"""The HTTP route (docs/design.md#http-simulator-contract) against the power simulator: DVFS in
closed loop with the simulator's power model, and control replies that are blocked, errors, 500s or
never come."""

import re
from datetime import datetime

import pytest

from agent_support import (PowerSim, create_npp, create_tp, http_tp_spec, metric_value,
                           metrics_port, npp_status, scrape, set_cap, start_agent)
from harness import wait_for

DVFS = "dvfs.set_throttle_pct"
RAPL = "rapl.set_power_cap_watts"


def throttle_changes(agent):
    """[(time, pct)] from the agent's "DVFS throttle changed" log lines."""
    out = []
    for line in agent.output().splitlines():
        if "DVFS throttle changed" not in line:
            continue
        ts = datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
        out.append((ts, int(re.search(r"throttle_pct=(\d+)", line).group(1))))
    return out


def test_dvfs_closed_loop_against_the_power_model(apiserver, procs, joulie_bin, tmp_path):
    apiserver.apply_crds()
    sim = PowerSim(procs, tmp_path)
    sim.load("n1", load=1.0)  # 60 + 140 = 200 W unthrottled
    create_tp(apiserver, "tp-n1", http_tp_spec(sim, scope="node", node="n1", mode="dvfs"))
    create_npp(apiserver, "n1", cap=150)  # band: above 160 W raise, below 135 W lower
    cooldown = 0.5
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, interval="100ms",
                        args=["--dvfs-cooldown", "500ms", "--dvfs-trip-count", "2",
                              "--dvfs-ema-alpha", "1", "--dvfs-step-pct", "10"])
    port = metrics_port(agent)

    # Throttle rises while power is above cap + margin, then settles inside the band.
    wait_for(lambda: sim.state("n1")["powerWatts"] <= 160, timeout=30,
             what="power brought under cap + margin")
    high = sim.state("n1")["throttlePct"]
    assert 0 < high < 100
    status = wait_for(lambda: (lambda s: s if s.get("backend") == "dvfs" else None)(
        npp_status(apiserver, "node-n1")), what="dvfs status")
    assert status["result"] == "applied" and "throttle" in status["message"]

    # Load drops: power falls below cap - margin, the throttle comes back down to 0.
    sim.load("n1", load=0.3)
    wait_for(lambda: sim.state("n1")["throttlePct"] == 0, timeout=30, what="throttle back to 0")

    # At the bound nothing more is written, however many samples come in.
    calls = sim.state("n1")["controlCalls"][DVFS]
    seen = sim.state("n1")["telemetryCalls"]
    wait_for(lambda: sim.state("n1")["telemetryCalls"] >= seen + 10, what="ten more samples")
    assert sim.state("n1")["controlCalls"][DVFS] == calls

    changes = throttle_changes(agent)
    assert [p for _, p in changes][:1] == [10]
    assert max(p for _, p in changes) == high
    for (t0, _), (t1, _) in zip(changes, changes[1:]):
        # Log lines are written after the simulator answered: allow for that latency. Without
        # the cooldown, changes would come every 2 samples (0.2 s).
        assert (t1 - t0).total_seconds() >= cooldown - 0.1, changes
    text = scrape(port)
    assert metric_value(text, "joulie_dvfs_actions_total", node="n1", action="raise") >= 1
    assert metric_value(text, "joulie_dvfs_actions_total", node="n1", action="lower") >= 1
    assert metric_value(text, "joulie_dvfs_throttle_pct", node="n1") == 0
    assert metric_value(text, "joulie_backend_mode", node="n1", mode="dvfs") == 1


def test_control_replies_blocked_error_500_and_hang(apiserver, procs, joulie_bin, tmp_path):
    apiserver.apply_crds()
    sim = PowerSim(procs, tmp_path, hang_seconds=10)
    create_tp(apiserver, "tp", http_tp_spec(sim, mode="rapl", timeout=1))
    create_npp(apiserver, "n1", cap=150)
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, interval="300ms")
    wait_for(lambda: sim.state("n1")["capWatts"] == 150, what="the cap through HTTP")
    wait_for(lambda: npp_status(apiserver, "node-n1").get("backend") == "rapl", what="status")

    gens = {}

    for fault, cap, expected in (("blocked", 151, "blocked"), ("error", 152, "error"),
                                 ("500", 153, "error"), ("hang", 154, "error")):
        sim.faults("n1", rapl=fault)
        obj = set_cap(apiserver, "node-n1", cap)
        gens[cap] = obj["metadata"]["generation"]
        status = wait_for(lambda: (lambda s: s if s.get("observedGeneration") == gens[cap] else None)(
            npp_status(apiserver, "node-n1")), timeout=10, what="status for fault " + fault)
        assert status["result"] == expected, (fault, status)
        assert status["backend"] in ("none", "rapl", "dvfs")
        if fault == "hang":
            assert "timed out" in status["message"] or "timeout" in status["message"], status
        assert agent.alive()

    sim.faults("n1", rapl="none")
    set_cap(apiserver, "node-n1", 140)
    wait_for(lambda: sim.state("n1")["capWatts"] == 140, what="recovery")
    wait_for(lambda: npp_status(apiserver, "node-n1").get("result") == "applied", what="applied")
    port = metrics_port(agent)
    assert metric_value(scrape(port), "joulie_reconcile_errors_total", node="n1") >= 3


@pytest.mark.slow
def test_transient_control_failures_keep_rapl_in_auto_mode(apiserver, procs, joulie_bin, tmp_path):
    """auto mode: a control endpoint that answers 500 once, later hangs once, gave no verdict on
    RAPL. The node is not moved to DVFS: the error is reported, RAPL is retried (backoff from
    5 s) and the cap ends applied through RAPL; no DVFS action is ever posted."""
    apiserver.apply_crds()
    sim = PowerSim(procs, tmp_path, hang_seconds=3)
    sim.faults("n1", rapl="500")  # in force for the agent's first pass
    create_tp(apiserver, "tp", http_tp_spec(sim, mode="auto", timeout=1))
    create_npp(apiserver, "n1", cap=150)
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, interval="300ms")

    def transient_status(word):
        status = npp_status(apiserver, "node-n1")
        message = status.get("message", "")
        if status.get("result") == "error" and "unreachable" in message and word in message:
            return status
        return None

    def rapl_applied():
        status = npp_status(apiserver, "node-n1")
        wanted = (status.get("backend"), status.get("result")) == ("rapl", "applied")
        return status if wanted else None

    # 30 s: the agent's start-up and first pass come first (slow under the sanitizers).
    status = wait_for(lambda: transient_status("HTTP 500"), timeout=30,
                      what="the 500 reported as transient")
    assert status["backend"] == "rapl", status
    assert sim.state("n1")["capWatts"] is None
    sim.faults("n1", rapl="none")
    wait_for(lambda: sim.state("n1")["capWatts"] == 150, timeout=30,
             what="RAPL retried after the 500")
    wait_for(rapl_applied, what="rapl/applied status after the 500")

    applied = sim.state("n1")["appliedCalls"][RAPL]  # RAPL is re-applied every pass
    sim.faults("n1", rapl="hang")
    status = wait_for(lambda: transient_status("timeout"), what="the hang reported as transient")
    assert status["backend"] == "rapl", status
    sim.faults("n1", rapl="none")
    wait_for(lambda: sim.state("n1")["appliedCalls"][RAPL] > applied, timeout=30,
             what="RAPL retried after the hang")
    wait_for(rapl_applied, what="rapl/applied status after the hang")

    state = sim.state("n1")
    assert state["controlCalls"][DVFS] == 0, state
    assert state["throttlePct"] == 0, state
    assert state["capWatts"] == 150, state
    assert "DVFS throttle changed" not in agent.output()
    assert agent.alive()
