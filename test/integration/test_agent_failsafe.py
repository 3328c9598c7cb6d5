"""Fail-safe (docs/design.md#fail-safe-restore): the original host settings come back on SIGTERM,
after kill -9 and a restart, when the NodePowerProfile is deleted, and with `joulie agent
--restore`; locked RAPL falls back to DVFS and scaling_max_freq is restored too."""

import signal

from agent_support import (PowerSim, create_npp, create_tp, delete_npp, freq_files, http_tp_spec,
                           limit_files, limit_uw, make_tree, max_freq, npp_status, snapshot,
                           start_agent)
from harness import wait_for


def test_sigterm_kill9_restart_and_restore_flag_give_back_the_true_originals(
        apiserver, procs, joulie_bin, tmp_path):
    apiserver.apply_crds()
    tree = make_tree(tmp_path / "sys", packages=2)
    originals = snapshot(tree, limit_files())
    create_npp(apiserver, "n1", cap=150)

    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree)
    wait_for(lambda: limit_uw(tree, 1) == 150_000_000, what="the cap")
    assert agent.stop(signal.SIGTERM) == 0
    assert snapshot(tree, limit_files()) == originals
    assert not (tmp_path / "state" / "n1.json").exists()

    # Crash with the cap in force; the restarted agent must not record the capped values.
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree)
    wait_for(lambda: limit_uw(tree, 1) == 150_000_000, what="the cap")
    agent.signal(signal.SIGKILL)
    agent.wait()
    assert (tmp_path / "state" / "n1.json").exists()
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree)
    agent.wait_for_log(r"control applied node=n1 backend=rapl")
    assert agent.stop(signal.SIGTERM) == 0
    assert snapshot(tree, limit_files()) == originals

    # Crash again, then restore offline (no API access needed).
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree)
    wait_for(lambda: limit_uw(tree, 0) == 150_000_000, what="the cap")
    agent.signal(signal.SIGKILL)
    agent.wait()
    restore = procs.start("restore", [joulie_bin, "agent", "--restore", "--node", "n1",
                                      "--sysfs-root", tree.root, "--state-dir", tmp_path / "state"])
    assert restore.wait(10) == 0
    assert snapshot(tree, limit_files()) == originals
    assert not (tmp_path / "state" / "n1.json").exists()
    again = procs.start("restore-again", [joulie_bin, "agent", "--restore", "--node", "n1",
                                          "--sysfs-root", tree.root, "--state-dir",
                                          tmp_path / "state"])
    assert again.wait(10) == 0  # nothing recorded: nothing to do


def test_deleting_the_profile_restores_the_node(apiserver, procs, joulie_bin, tmp_path):
    apiserver.apply_crds()
    tree = make_tree(tmp_path / "sys", packages=2)
    originals = snapshot(tree, limit_files())
    create_npp(apiserver, "n1", cap=130)
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree)
    wait_for(lambda: limit_uw(tree, 0) == 130_000_000, what="the cap")
    delete_npp(apiserver, "node-n1")
    wait_for(lambda: snapshot(tree, limit_files()) == originals, what="the originals back")
    agent.wait_for_log(r"NodePowerProfile gone: original settings restored")
    assert agent.alive()
    # A new object is applied again.
    create_npp(apiserver, "n1", cap=125)
    wait_for(lambda: limit_uw(tree, 0) == 125_000_000, what="the new cap")


def test_locked_rapl_falls_back_to_dvfs_and_sigterm_restores_frequencies(
        apiserver, procs, joulie_bin, tmp_path):
    apiserver.apply_crds()
    sim = PowerSim(procs, tmp_path)
    sim.load("n1", load=1.0)  # 200 W, far above the cap
    tree = make_tree(tmp_path / "sys", packages=1, policies=2)
    tree.lock_rapl()
    rapl_before = snapshot(tree, limit_files(1))
    freq_before = snapshot(tree, freq_files())
    # Host control, power input from the simulator's telemetry.
    create_tp(apiserver, "tp", http_tp_spec(sim, control="host", source="http"))
    create_npp(apiserver, "n1", cap=120)
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree, interval="200ms",
                        args=["--dvfs-cooldown", "200ms", "--dvfs-trip-count", "1"])
    wait_for(lambda: (max_freq(tree, 0) or 3_000_000) < 3_000_000, what="a DVFS throttle on policy0")
    wait_for(lambda: (lambda a, b: a is not None and a == b)(max_freq(tree, 0), max_freq(tree, 1)),
             what="both policies capped alike")
    status = wait_for(lambda: (lambda s: s if s.get("backend") == "dvfs" else None)(
        npp_status(apiserver, "node-n1")), what="dvfs status")
    assert status["result"] == "applied"
    assert "RAPL unavailable" in status["message"]
    assert snapshot(tree, limit_files(1)) == rapl_before
    assert agent.stop(signal.SIGTERM) == 0
    assert snapshot(tree, freq_files()) == freq_before
