"""`joulie agent` in daemonset mode against the test API server, a fake sysfs tree and the power
simulator (docs/design.md#agent): RAPL caps, clamping, reporting written only on change,
event-driven application, the field-selector fallback (docs/design.md#what-the-agent-watches),
simulate-only and --once."""

import time

from agent_support import (NPP, ORIGINAL_LIMIT_UW, SUBZONE_LIMIT, applied_condition, create_npp,
                           create_tp, limit_files, limit_uw, make_tree, metric_value, metrics_port,
                           npp_status, scrape, set_cap, snapshot, start_agent, tp_cpu_status,
                           http_status)
from harness import wait_for


def limits(tree, packages=2):
    return [limit_uw(tree, n) for n in range(packages)]


def test_eco_cap_is_written_to_every_package_and_reported(apiserver, procs, joulie_bin, tmp_path):
    apiserver.apply_crds()
    tree = make_tree(tmp_path / "sys", packages=2, mmio=True)
    sub_before = tree.path(SUBZONE_LIMIT).read_bytes()
    create_tp(apiserver, "tp-n1", {"target": {"scope": "node", "nodeName": "n1"},
                                   "sources": {"cpu": {"type": "host"}},
                                   "controls": {"cpu": {"type": "host"}}})
    create_npp(apiserver, "n1", cap=180, policy="static_partition")
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree)
    port = metrics_port(agent)

    # The agent writes the package zones, then the mmio zone: wait for the whole apply.
    wait_for(lambda: limits(tree) == [180_000_000, 180_000_000]
             and limit_uw(tree, 0, mmio=True) == 180_000_000,
             what="both package caps and the mmio zone")
    assert tree.path(SUBZONE_LIMIT).read_bytes() == sub_before  # sub-zones never written

    status = wait_for(lambda: (lambda s: s if s.get("result") == "applied" else None)(
        npp_status(apiserver, "node-n1")), what="NodePowerProfile status")
    assert status["backend"] == "rapl"
    assert status["appliedCapWatts"] == 180
    assert status["observedGeneration"] >= 1
    cond = applied_condition(status)
    assert cond["status"] == "True" and cond["lastTransitionTime"]
    tp = wait_for(lambda: (lambda s: s if s.get("result") else None)(tp_cpu_status(apiserver, "tp-n1")),
                  what="TelemetryProfile status.control.cpu")
    assert tp["backend"] == "rapl" and tp["result"] == "applied"

    assert http_status(port, "/readyz") == 200
    text = scrape(port)
    assert metric_value(text, "joulie_backend_mode", node="n1", mode="rapl") == 1
    assert metric_value(text, "joulie_policy_cap_watts", node="n1", policy="static_partition") == 180
    assert metric_value(text, "joulie_agent_apply_total", node="n1", backend="rapl",
                        result="applied") >= 1
    assert metric_value(text, "process_resident_memory_bytes") > 0

    assert agent.stop() == 0
    assert limits(tree) == [ORIGINAL_LIMIT_UW, ORIGINAL_LIMIT_UW]


def test_cap_above_the_constraint_maximum_is_clamped(apiserver, procs, joulie_bin, tmp_path):
    apiserver.apply_crds()
    tree = make_tree(tmp_path / "sys", packages=1, max_power_uw=150_000_000)
    create_npp(apiserver, "n1", cap=180)
    start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree)
    wait_for(lambda: limit_uw(tree, 0) == 150_000_000, what="the clamped cap")
    status = wait_for(lambda: (lambda s: s if s.get("result") == "applied" else None)(
        npp_status(apiserver, "node-n1")), what="status")
    assert "clamped" in status["message"]
    assert status["appliedCapWatts"] == 150


def test_change_is_applied_within_a_second_and_status_written_only_on_change(
        apiserver, procs, joulie_bin, tmp_path):
    apiserver.apply_crds()
    tree = make_tree(tmp_path / "sys", packages=1)
    create_npp(apiserver, "n1", cap=180)
    # A short interval: many re-applications, none of which may write status again.
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree, interval="200ms")
    port = metrics_port(agent)
    wait_for(lambda: npp_status(apiserver, "node-n1").get("appliedCapWatts") == 180, what="status")

    def applies():
        return metric_value(scrape(port), "joulie_agent_apply_total", node="n1", backend="rapl",
                            result="applied") or 0
    apiserver.reset_counters()
    start = applies()
    wait_for(lambda: applies() >= start + 5, what="five more re-applications")
    assert apiserver.count("patch", "nodepowerprofiles/status") == 0
    assert apiserver.writes_since_reset() == 0

    t0 = time.monotonic()
    set_cap(apiserver, "node-n1", 160)
    wait_for(lambda: limit_uw(tree, 0) == 160_000_000, timeout=1.0, interval=0.01,
             what="the new cap within 1 s")
    assert time.monotonic() - t0 <= 1.0
    wait_for(lambda: npp_status(apiserver, "node-n1").get("appliedCapWatts") == 160, what="status")
    start = applies()
    wait_for(lambda: applies() >= start + 3, what="three more re-applications")
    assert apiserver.count("patch", "nodepowerprofiles/status") == 1


def test_field_selector_refused_falls_back_to_all_profiles(apiserver_factory, procs, joulie_bin,
                                                           tmp_path):
    server = apiserver_factory(refuse_selectable_fields=True)
    server.apply_crds()
    code, _ = server.api("GET", NPP + "?fieldSelector=spec.nodeName%3Dn1")
    assert code == 400  # the server really behaves like an old one
    tree = make_tree(tmp_path / "sys", packages=1)
    create_npp(server, "other", cap=90)
    create_npp(server, "n1", cap=170)
    agent = start_agent(procs, joulie_bin, server, tmp_path, tree=tree)
    wait_for(lambda: limit_uw(tree, 0) == 170_000_000, what="the node's own cap")
    set_cap(server, "node-other", 95)
    set_cap(server, "node-n1", 175)
    wait_for(lambda: limit_uw(tree, 0) == 175_000_000, what="the node's own change")
    assert agent.output().count("refused the spec.nodeName field selector") == 1
    assert "status" not in server.get(NPP + "/node-other")  # other nodes' objects untouched
    port = metrics_port(agent)
    assert metric_value(scrape(port), "joulie_agent_field_selector_fallback") == 1


def test_no_profile_at_start_leaves_the_host_alone_and_simulate_only_touches_nothing(
        apiserver, procs, joulie_bin, tmp_path):
    apiserver.apply_crds()
    tree = make_tree(tmp_path / "sys", packages=2)
    before = snapshot(tree, limit_files())
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree, interval="200ms")
    port = metrics_port(agent)
    wait_for(lambda: http_status(port, "/readyz") == 200, what="readiness")
    assert agent.stop() == 0
    assert snapshot(tree, limit_files()) == before
    assert not (tmp_path / "state" / "n1.json").exists()

    create_npp(apiserver, "n1", cap=120)
    sim = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree, args=["--simulate-only"],
                      name="simulate")
    status = wait_for(lambda: (lambda s: s if s.get("result") else None)(
        npp_status(apiserver, "node-n1")), what="status")
    assert (status["backend"], status["result"], status["message"]) == ("none", "applied",
                                                                       "simulate-only")
    sim.wait_for_log(r"simulate-only: would apply.*cap=120W")
    assert sim.stop() == 0
    assert snapshot(tree, limit_files()) == before


def test_once_applies_one_pass_and_leaves_settings(apiserver, procs, joulie_bin, tmp_path):
    apiserver.apply_crds()
    tree = make_tree(tmp_path / "sys", packages=2)
    create_npp(apiserver, "n1", cap=140)
    once = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree, args=["--once"])
    assert once.wait(30) == 0
    assert limits(tree) == [140_000_000, 140_000_000]
    assert npp_status(apiserver, "node-n1")["result"] == "applied"
    # Settings stay applied, and the fail-safe record still holds the originals.
    assert (tmp_path / "state" / "n1.json").exists()


def test_api_server_unreachable_holds_the_last_setting(apiserver, procs, joulie_bin, tmp_path):
    apiserver.apply_crds()
    tree = make_tree(tmp_path / "sys", packages=1)
    create_npp(apiserver, "n1", cap=145)
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree, interval="200ms")
    port = metrics_port(agent)
    wait_for(lambda: limit_uw(tree, 0) == 145_000_000, what="the cap")

    def applies():
        return metric_value(scrape(port), "joulie_agent_apply_total", node="n1", backend="rapl",
                            result="applied") or 0
    apiserver.stop_listening()
    start = applies()
    wait_for(lambda: applies() >= start + 5, what="re-applications while the server is away")
    assert limit_uw(tree, 0) == 145_000_000 and agent.alive()
    apiserver.start_listening()
    set_cap(apiserver, "node-n1", 135)
    wait_for(lambda: limit_uw(tree, 0) == 135_000_000, timeout=30, what="the change after recovery")
    assert "joulie_kube_requests_total{" in scrape(port)  # the client's own metrics
