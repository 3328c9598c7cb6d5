"""The agent never lies about a node's power state (issue 21): an honest restore (exit status,
last log line, metric, status), bounded caps, one owner per node, a DVFS throttle carried across
a crash, and the operator putting a deleted profile back within seconds.

Every fake sysfs tree here holds odd originals (values no default would produce), and files are
compared byte for byte after a restore."""

import os
import re
import signal
import time

import pytest
import yaml

from agent_support import (NPP, PowerSim, create_npp, create_tp, delete_npp, freq_files,
                           http_status, http_tp_spec, limit_files, limit_uw, max_freq, metric_value,
                           metrics_port, npp_status, scrape, snapshot, start_agent)
from fake_sysfs import FakeSysfs
from harness import REPO, wait_for

ODD_LIMIT_UW = 173_456_789
ODD_MAX_FREQ = 2_345_678
MAX_POWER_UW = 250_000_000
CPUINFO_MAX = 3_000_000


def odd_tree(root, packages=2, policies=2, min_power_uw=0):
    tree = FakeSysfs(root)
    for n in range(packages):
        tree.add_rapl_package(n, limit_uw=ODD_LIMIT_UW + n, max_power_uw=MAX_POWER_UW,
                              min_power_uw=min_power_uw)
    for n in range(policies):
        tree.add_cpufreq_policy(n, scaling_max_khz=ODD_MAX_FREQ + n)
    return tree


def all_files(packages=2, policies=2):
    return limit_files(packages) + freq_files(policies)


def last_line(proc):
    lines = [line for line in proc.output("stderr").splitlines() if line.strip()]
    assert lines, proc.tail()
    return lines[-1]


def record(tmp_path, node="n1"):
    return tmp_path / "state" / (node + ".json")


# 1. Honest restore ------------------------------------------------------------------------------
def test_torn_record_means_originals_unknown_caps_lifted_to_the_hardware_maximum(
        apiserver, procs, joulie_bin, tmp_path):
    apiserver.apply_crds()
    tree = odd_tree(tmp_path / "sys")
    create_npp(apiserver, "n1", cap=120)
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree)
    wait_for(lambda: limit_uw(tree, 1) == 120_000_000, what="the cap")
    agent.signal(signal.SIGKILL)
    agent.wait()
    # The record cut short, as `head -c 60` leaves it.
    data = record(tmp_path).read_bytes()
    record(tmp_path).write_bytes(data[:60])

    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree)
    agent.wait_for_log(r"fail-safe record unusable: originals unknown")
    agent.wait_for_log(r"control applied node=n1 backend=rapl")
    assert agent.stop(signal.SIGTERM, timeout=30) == 3, agent.tail()
    line = last_line(agent)
    assert "originals unknown" in line and "hardware maximum" in line, line
    # Never the last cap: every limit is the hardware's own maximum, byte for byte.
    for n in range(2):
        assert tree.path(FakeSysfs.rapl_limit_file(n)).read_bytes() == b"%d\n" % MAX_POWER_UW
        assert tree.path(FakeSysfs.policy_file(n, "scaling_max_freq")).read_bytes() == \
            b"%d\n" % CPUINFO_MAX
    assert (tmp_path / "state" / "n1.json.unusable").read_bytes() == data[:60]
    assert not record(tmp_path).exists()


def test_restore_flag_with_a_torn_record_lifts_caps_and_exits_3(procs, joulie_bin, tmp_path):
    tree = odd_tree(tmp_path / "sys", packages=1, policies=1)
    tree.write(FakeSysfs.rapl_limit_file(0), "120000000\n")  # a dead agent's cap
    (tmp_path / "state").mkdir()
    record(tmp_path).write_text('{"node":"n1","files":{"class/powercap/intel-rapl:0/cons')
    restore = procs.start("restore", [joulie_bin, "agent", "--restore", "--node", "n1",
                                      "--sysfs-root", tree.root, "--state-dir", tmp_path / "state"])
    assert restore.wait(10) == 3, restore.tail()
    assert "originals unknown" in last_line(restore)
    assert tree.path(FakeSysfs.rapl_limit_file(0)).read_bytes() == b"%d\n" % MAX_POWER_UW


def test_a_restore_that_fails_is_retried_reported_and_exits_nonzero_when_it_gives_up(
        apiserver, procs, joulie_bin, tmp_path):
    apiserver.apply_crds()
    tree = odd_tree(tmp_path / "sys")
    originals = snapshot(tree, all_files())
    create_npp(apiserver, "n1", cap=120)

    # a) The host refuses the write for a while: retried with backoff, reported, then restored.
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree)
    port = metrics_port(agent)
    wait_for(lambda: limit_uw(tree, 0) == 120_000_000 and limit_uw(tree, 1) == 120_000_000,
             what="the cap")
    tree.lock(FakeSysfs.rapl_limit_file(0))
    agent.signal(signal.SIGTERM)
    agent.wait_for_log(r"settings not restored yet; retrying")
    wait_for(lambda: metric_value(scrape(port), "joulie_agent_restore_pending", node="n1") == 1,
             what="joulie_agent_restore_pending 1")
    wait_for(lambda: "NOT restored" in npp_status(apiserver, "node-n1").get("message", ""),
             what="the status saying the node is left capped")
    status = npp_status(apiserver, "node-n1")
    assert status["result"] == "error", status
    assert "intel-rapl:0/constraint_0_power_limit_uw" in status["message"], status
    tree.unlock(FakeSysfs.rapl_limit_file(0))
    assert agent.wait(30) == 0, agent.tail()
    line = last_line(agent)
    assert "original settings restored; exiting" in line, line
    assert "intel-rapl:0/constraint_0_power_limit_uw" in line, line
    assert snapshot(tree, all_files()) == originals

    # b) It never gets through: the agent gives up after --restore-timeout, exit 1, and the last
    #    line names what is back and what is not.
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree,
                        args=["--restore-timeout", "2s"])
    wait_for(lambda: limit_uw(tree, 0) == 120_000_000 and limit_uw(tree, 1) == 120_000_000,
             what="the cap")
    tree.lock(FakeSysfs.rapl_limit_file(0))
    assert agent.stop(signal.SIGTERM, timeout=20) == 1, agent.tail()
    line = last_line(agent)
    assert "giving up: settings NOT restored" in line, line
    m = re.search(r"not_restored=(\S+)", line)
    assert m and m.group(1) == "n1:class/powercap/intel-rapl:0/constraint_0_power_limit_uw", line
    assert re.search(r"restored=\S*n1:class/powercap/intel-rapl:1/constraint_0_power_limit_uw",
                     line), line
    assert record(tmp_path).exists()  # kept for `joulie agent --restore`
    tree.unlock(FakeSysfs.rapl_limit_file(0))
    restore = procs.start("restore", [joulie_bin, "agent", "--restore", "--node", "n1",
                                      "--sysfs-root", tree.root, "--state-dir", tmp_path / "state"])
    assert restore.wait(10) == 0, restore.tail()
    assert snapshot(tree, all_files()) == originals


def test_unwritable_state_dir_at_shutdown_and_at_start(apiserver, procs, joulie_bin, tmp_path):
    apiserver.apply_crds()
    tree = odd_tree(tmp_path / "sys")
    originals = snapshot(tree, all_files())
    create_npp(apiserver, "n1", cap=120)
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree)
    wait_for(lambda: limit_uw(tree, 1) == 120_000_000, what="the cap")
    # The state dir goes away under the agent (root ignores mode bits: a file takes its place).
    state = tmp_path / "state"
    os.rename(state, tmp_path / "state.moved")
    state.write_text("not a directory\n")
    assert agent.stop(signal.SIGTERM, timeout=30) == 0, agent.tail()
    # The settings are back, and the line says so; the record's fate is a warning, not a lie.
    line = last_line(agent)
    assert "original settings restored; exiting" in line, line
    agent.wait_for_log(r"settings restored, but the fail-safe record could not be removed")
    assert snapshot(tree, all_files()) == originals

    # A torn record that cannot even be set aside: nothing is written, and SIGTERM does not
    # pretend the node is back.
    state.unlink()
    os.rename(tmp_path / "state.moved", state)
    tree.write(FakeSysfs.rapl_limit_file(0), "120000000\n")  # a dead agent's cap
    record(tmp_path).write_text('{"node":"n1","fi')
    (state / "n1.json.unusable").mkdir()
    (state / "n1.json.unusable" / "keep").write_text("x")
    capped = snapshot(tree, all_files())
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree,
                        args=["--restore-timeout", "1s"])
    wait_for(lambda: npp_status(apiserver, "node-n1").get("result") == "error", what="error status")
    assert "fail-safe record unusable" in npp_status(apiserver, "node-n1")["message"]
    assert agent.stop(signal.SIGTERM, timeout=20) == 1, agent.tail()
    line = last_line(agent)
    assert "giving up: settings NOT restored" in line and "may be left capped" in line, line
    assert snapshot(tree, all_files()) == capped


# 2. Bounded caps --------------------------------------------------------------------------------
def test_a_cap_below_the_zone_minimum_is_refused_and_never_written(
        apiserver, procs, joulie_bin, tmp_path):
    apiserver.apply_crds()
    tree = odd_tree(tmp_path / "sys", min_power_uw=50_000_000)
    originals = snapshot(tree, all_files())
    create_npp(apiserver, "n1", cap=40)
    start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree)
    status = wait_for(lambda: (lambda s: s if s.get("result") else None)(
        npp_status(apiserver, "node-n1")), what="a status")
    assert status["result"] == "blocked", status
    assert "below intel-rapl:0's minimum of 50 W" in status["message"], status
    assert status.get("backend") != "dvfs", status  # DVFS does not enforce a refused cap either
    assert snapshot(tree, all_files()) == originals
    assert not record(tmp_path).exists()

    # The API refuses what the agent's floor and ceiling refuse (CRD minimum 10, maximum 100 kW).
    for bad in (1, 9.5, 1.8e308):
        code, obj = apiserver.api("PATCH", NPP + "/node-n1",
                                  {"spec": {"cpu": {"packagePowerCapWatts": bad}}})
        assert code == 422, (bad, code, obj)


def test_without_the_crd_schema_the_agent_refuses_caps_outside_its_range(
        apiserver, procs, joulie_bin, tmp_path):
    # An API server with an older CRD (no minimum): the agent's own floor holds.
    crds = tmp_path / "crds"
    crds.mkdir()
    for f in (REPO / "crds").glob("*.yaml"):
        text = f.read_text()
        if "nodepowerprofiles" in f.name:
            doc = yaml.safe_load(text)
            cpu = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
                "properties"]["cpu"]["properties"]["packagePowerCapWatts"]
            cpu.pop("minimum")
            cpu.pop("maximum")
            text = yaml.safe_dump(doc)
        (crds / f.name).write_text(text)
    apiserver.apply_crds(crds)
    tree = odd_tree(tmp_path / "sys")
    originals = snapshot(tree, all_files())
    create_npp(apiserver, "n1", cap=1)
    start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree)
    status = wait_for(lambda: (lambda s: s if s.get("result") else None)(
        npp_status(apiserver, "node-n1")), what="a status")
    assert status["result"] == "error", status
    assert "must be between 10 and 100000 W" in status["message"], status
    # 1.8e308 overflows a double (the test server would serve it as Infinity): 1e300 stands in.
    code, obj = apiserver.api("PATCH", NPP + "/node-n1",
                              {"spec": {"cpu": {"packagePowerCapWatts": 1e300}}})
    assert code == 200, (code, obj)
    wait_for(lambda: "got 1e+300" in npp_status(apiserver, "node-n1").get("message", ""),
             what="the huge cap refused")
    assert snapshot(tree, all_files()) == originals


# 3. One owner per node --------------------------------------------------------------------------
def test_only_the_canonical_profile_is_ever_applied(apiserver, procs, joulie_bin, tmp_path):
    apiserver.apply_crds()
    tree = odd_tree(tmp_path / "sys")
    originals = snapshot(tree, all_files())
    create_npp(apiserver, "n1", cap=150)
    create_npp(apiserver, "n1", cap=90, name="manual-n1")
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree)
    wait_for(lambda: limit_uw(tree, 0) == 150_000_000, what="the operator's cap")
    foreign = wait_for(lambda: (lambda s: s if s.get("result") else None)(
        npp_status(apiserver, "manual-n1")), what="the foreign profile's status")
    assert foreign["result"] == "blocked", foreign
    assert "only the NodePowerProfile named node-n1 controls node n1" in foreign["message"]
    # The two statuses are separate writes: the owner's may land after the foreign one's.
    wait_for(lambda: "conflicting NodePowerProfiles for this node: manual-n1" in
             npp_status(apiserver, "node-n1").get("message", ""),
             what="the owner's status naming the conflicting profile")
    agent.wait_for_log(r"not applied: not named node-<node>.*ignored=manual-n1")

    # Uninstall deletes the operator's profile: the node is restored, the stray one stays unused.
    delete_npp(apiserver, "node-n1")
    wait_for(lambda: "keeps its original settings" in
             npp_status(apiserver, "manual-n1").get("message", ""),
             what="the foreign profile reported as not applied, alone")
    agent.wait_for_log(r"NodePowerProfile gone: original settings restored")
    assert snapshot(tree, all_files()) == originals
    assert agent.stop(signal.SIGTERM) == 0
    assert snapshot(tree, all_files()) == originals


# 5. DVFS state across a crash --------------------------------------------------------------------
def test_a_restarted_agent_resumes_the_dead_agents_dvfs_throttle(
        apiserver, procs, joulie_bin, tmp_path):
    apiserver.apply_crds()
    sim = PowerSim(procs, tmp_path)
    sim.load("n1", load=1.0)  # far above the cap
    tree = odd_tree(tmp_path / "sys", packages=1)
    tree.lock_rapl()
    originals = snapshot(tree, freq_files())
    create_tp(apiserver, "tp", http_tp_spec(sim, control="host", source="http"))
    create_npp(apiserver, "n1", cap=120)
    dvfs = ["--dvfs-trip-count", "1", "--dvfs-cooldown", "1h"]
    # 60 % at once (floor 1.5 GHz: 3.0 GHz - 0.6 × 1.5 GHz = 2.1 GHz), then it holds.
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree, interval="200ms",
                        args=dvfs + ["--dvfs-step-pct", "60"])
    wait_for(lambda: max_freq(tree, 0) == 2_100_000 and max_freq(tree, 1) == 2_100_000,
             what="a 60 % throttle")
    agent.signal(signal.SIGKILL)
    agent.wait()
    throttled = snapshot(tree, freq_files())

    # Same load, a 10 % step: starting from 0 would loosen the throttle to 10 %.
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree, interval="200ms",
                        args=dvfs + ["--dvfs-step-pct", "10"])
    agent.wait_for_log(r"DVFS throttle left by an earlier agent resumed node=n1 throttle_pct=60")
    agent.wait_for_log(r"control applied node=n1 backend=dvfs .*DVFS throttle 60% holding")
    assert snapshot(tree, freq_files()) == throttled
    assert agent.stop(signal.SIGTERM, timeout=30) == 0, agent.tail()
    assert snapshot(tree, freq_files()) == originals


# 4. Fast re-cap ----------------------------------------------------------------------------------
def test_the_operator_puts_a_deleted_or_edited_profile_back_within_seconds(
        apiserver, procs, joulie_bin):
    from operator_support import create_node, npp, start_operator, wait_labels
    apiserver.apply_crds()
    create_node(apiserver, "n1")
    start_operator(procs, joulie_bin, apiserver, "--static-hp-frac", "0", "--interval", "1h")
    wait_labels(apiserver, {"n1": "eco"})
    wait_for(lambda: (npp(apiserver, "node-n1") or {}).get("spec", {}).get("profile") == "eco",
             15, what="the eco profile")
    delete_npp(apiserver, "node-n1")
    t0 = time.monotonic()
    wait_for(lambda: npp(apiserver, "node-n1"), 10, 0.02, what="the profile re-created")
    recreated = time.monotonic() - t0
    t0 = time.monotonic()
    code, obj = apiserver.api("PATCH", NPP + "/node-n1",
                              {"spec": {"cpu": {"packagePowerCapWatts": 4000}}})
    assert code == 200, (code, obj)
    wait_for(lambda: npp(apiserver, "node-n1")["spec"]["cpu"]["packagePowerCapWatts"] == 120, 10,
             0.02, what="the edited cap put back")
    reverted = time.monotonic() - t0
    print("re-cap: re-created %.3f s after deletion, edit reverted in %.3f s" % (recreated,
                                                                               reverted))
    assert recreated < 5 and reverted < 5, (recreated, reverted)


# 6. Staleness ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_silent_api_server_is_reported_within_30s_and_recovery_needs_no_restart(
        apiserver, procs, joulie_bin, tmp_path):
    from operator_support import create_node, start_operator
    from operator_support import metrics_port as operator_metrics_port
    apiserver.apply_crds()
    create_node(apiserver, "n1")
    op = start_operator(procs, joulie_bin, apiserver, "--interval", "1h")
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path)
    ports = {"operator": operator_metrics_port(op), "agent": metrics_port(agent)}
    for name, port in ports.items():
        wait_for(lambda: http_status(port, "/readyz") == 200, 30, what=name + " ready")
    apiserver.proc.send_signal(signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        seen = {}

        def detected():
            for name, port in ports.items():
                if name not in seen and http_status(port, "/readyz") == 503:
                    seen[name] = time.monotonic() - t0
            return len(seen) == len(ports)
        wait_for(detected, 40, 0.2, what="/readyz false in both processes")
        for name, port in ports.items():
            assert metric_value(scrape(port), "joulie_kube_api_stale") == 1, name
        op.wait_for_log(r"the API server is not answering; the cached view is stale")
        agent.wait_for_log(r"the API server is not answering; the cached view is stale")
    finally:
        apiserver.proc.send_signal(signal.SIGCONT)
    print("staleness detected after: operator %.1f s, agent %.1f s" % (seen["operator"],
                                                                        seen["agent"]))
    assert max(seen.values()) <= 30, seen
    for name, port in ports.items():
        wait_for(lambda: http_status(port, "/readyz") == 200, 30, what=name + " ready again")
        assert metric_value(scrape(port), "joulie_kube_api_stale") == 0, name
    op.wait_for_log(r"the API server answers again; ready")
    agent.wait_for_log(r"the API server answers again; ready")
    assert op.alive() and agent.alive()
