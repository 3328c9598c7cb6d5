"""Outside input the agent must survive (docs/design.md#quality-bars): garbage in sysfs files,
invalid caps that an API server without the CRD schema would store, unknown TelemetryProfile fields.
Clear messages, no crash."""

import signal
import time

from agent_support import (NPP, create_npp, http_status, limit_uw, make_tree, metric_value,
                           metrics_port, npp_status, scrape, start_agent)
from harness import wait_for


def test_garbage_in_sysfs_gives_a_clear_status_and_no_crash(apiserver, procs, joulie_bin,
                                                            tmp_path):
    apiserver.apply_crds()
    tree = make_tree(tmp_path / "sys", packages=1, policies=1)
    tree.write("class/powercap/intel-rapl:0/constraint_0_max_power_uw", "\x00garbage\n")
    tree.write("class/powercap/intel-rapl:0/energy_uj", "-12\n")
    tree.write("devices/system/cpu/cpufreq/policy0/cpuinfo_max_freq", "lots\n")
    create_npp(apiserver, "n1", cap=150)
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree, interval="200ms")
    port = metrics_port(agent)
    status = wait_for(lambda: (lambda s: s if s.get("result") else None)(
        npp_status(apiserver, "node-n1")), what="a status")
    assert status["result"] in ("applied", "blocked", "error")
    assert status["backend"] in ("none", "rapl", "dvfs")
    assert status["message"]
    # Keeps running through several passes and still serves probes.
    wait_for(lambda: agent.output().count("control") >= 1, what="a control log line")
    assert agent.alive()
    assert http_status(port, "/healthz") == 200


def test_invalid_caps_and_unknown_fields_are_reported_not_fatal(apiserver, procs, joulie_bin,
                                                                tmp_path):
    apiserver.apply_crds()
    tree = make_tree(tmp_path / "sys", packages=1)
    before = limit_uw(tree, 0)
    # Stored without validation, as an API server lacking the schema would.
    apiserver.seed([
        {"apiVersion": "joulie.io/v1alpha1", "kind": "NodePowerProfile",
         "metadata": {"name": "node-n1", "uid": "u-n1", "generation": 1},
         "spec": {"nodeName": "n1", "profile": "eco", "cpu": {"packagePowerCapWatts": -40}}},
        {"apiVersion": "joulie.io/v1alpha1", "kind": "TelemetryProfile",
         "metadata": {"name": "tp"},
         "spec": {"target": {"scope": "cluster"}, "fromTheFuture": {"x": [1, 2]},
                  "controls": {"cpu": {"type": "host", "novel": True}}}},
    ])
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree, interval="200ms")
    # The reason is logged; the status cannot be stored on an object the server now rejects
    # (status writes validate the whole object), and the agent says so instead of retrying.
    agent.wait_for_log(r"control not applied node=n1 backend=none result=error "
                       r"message=.*invalid NodePowerProfile.*packagePowerCapWatts")
    agent.wait_for_log(r"status rejected by the API server")
    port = metrics_port(agent)
    assert metric_value(scrape(port), "joulie_reconcile_errors_total", node="n1") >= 1
    assert limit_uw(tree, 0) == before
    assert agent.alive()
    # A valid replacement is applied (the unknown TelemetryProfile fields do not matter).
    code, _ = apiserver.api("DELETE", NPP + "/node-n1")
    assert code in (200, 202)
    create_npp(apiserver, "n1", cap=111)
    wait_for(lambda: limit_uw(tree, 0) == 111_000_000, what="the valid cap")


def test_once_with_a_status_write_stuck_stops_promptly_on_sigterm(apiserver, procs, joulie_bin,
                                                                 tmp_path):
    """`agent --once` waits up to 15 s for its status writes; SIGTERM must end that wait at once
    (an operator's Ctrl-C or a Job's deadline), with a message saying the status was not written."""
    apiserver.apply_crds()
    tree = make_tree(tmp_path / "sys", packages=1)
    create_npp(apiserver, "n1", cap=120)
    # Every status write fails, so the one-shot run keeps retrying inside its flush wait.
    apiserver.fail_next(1000, code=500, verb="patch", resource="nodepowerprofiles/status")
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree, args=("--once",))
    wait_for(lambda: limit_uw(tree, 0) == 120_000_000, what="the cap applied by the one-shot pass")
    agent.wait_for_log(r"status write failed; will retry", timeout=10)
    assert agent.alive(), "the one-shot run ended before its status wait; the test proves nothing"
    started = time.monotonic()
    agent.signal(signal.SIGTERM)
    code = agent.wait(timeout=5)
    assert time.monotonic() - started < 5
    assert code == 1
    assert "stopped by a signal before the status was written" in agent.output()
