"""The policy file and ``context_aware_v1`` with the real binary (docs/design.md#policy-file,
#context-aware-policy): start-up validation, hot reload with the last good version kept, a time
window crossed during the run at the right local time, the change budget, performance-pod hosts
kept, and the explain output."""

import datetime
import json
import re
import time
import zoneinfo

import pytest

from harness import wait_for
from operator_support import (create_node, create_pod, events, label, metrics_port, npp,
                              run_once, scrape, start_operator, wait_labels, wait_passes)


@pytest.fixture
def crds(kube):
    kube.apply_crds()
    return kube


def write(path, text):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)  # atomic, like a ConfigMap's symlink swap


def labels(kube, names):
    return {n: label(kube, n) for n in names}


def counter(port, name):
    _, text = scrape(port)
    m = re.search(r"^%s(?:\{\})? (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def pass_lines(proc):
    return [l for l in proc.output("stderr").splitlines() if "reconcile pass" in l]


# 1 ---------------------------------------------------------------------------------------------
def test_a_bad_policy_file_is_a_usage_error_naming_file_line_and_key(crds, procs, joulie_bin,
                                                                      tmp_path):
    f = tmp_path / "policy.yaml"
    f.write_text("apiVersion: joulie.io/v1alpha1\nkind: PolicyConfig\n"
                 "windows:\n  - {name: n, days: [Mon, Moonday], start: \"22:00\", end: \"06:00\"}\n")
    code, out, err = run_once(procs, joulie_bin, crds, "--policy-config", f)
    assert code == 2, err
    assert "%s:4: windows[0].days[1]: unknown weekday \"Moonday\"" % f in err
    f.write_text("timeZone: Mars/Olympus_Mons\n")
    p = procs.start("env-config", [joulie_bin, "operator", "--once"],
                    env={"POLICY_CONFIG": str(f)})
    assert p.wait(30) == 2
    assert "POLICY_CONFIG" in p.output("stderr")
    assert "%s:1: timeZone: unknown time zone \"Mars/Olympus_Mons\"" % f in p.output("stderr")


# 2 ---------------------------------------------------------------------------------------------
def test_a_bad_edit_is_refused_at_runtime_and_the_last_good_version_keeps_running(
        crds, procs, joulie_bin, tmp_path):
    kube = crds
    names = ["r1", "r2", "r3", "r4"]
    for n in names:
        create_node(kube, n)
    f = tmp_path / "policy.yaml"
    write(f, "policy: static_partition\nperformance: {baseFraction: 0.5, ecoCapWatts: 110}\n")
    op = start_operator(procs, joulie_bin, kube, "--policy-config", f, "--policy-config-poll",
                        "200ms", "--interval", "1s",
                        env={"POD_NAME": "joulie-operator-0", "ECO_CAP_WATTS": "200"})
    port = metrics_port(op)
    # The file's ecoCapWatts wins over ECO_CAP_WATTS, and the operator says so once at start-up.
    op.wait_for_log(r"setting overridden by the policy file.*ECO_CAP_WATTS.*performance\.ecoCapWatts", 10)
    wait_labels(kube, {"r1": "performance", "r2": "performance", "r3": "eco", "r4": "eco"})
    # The eco cap follows the eco label once it has settled (--downgrade-settle).
    wait_for(lambda: (npp(kube, "node-r3") or {}).get("spec", {}).get("profile") == "eco", 10,
             what="r3's eco profile")
    assert npp(kube, "node-r3")["spec"]["cpu"]["packagePowerCapWatts"] == 110
    assert counter(port, "joulie_operator_config_reload_failures_total") == 0

    # An edit with a typo: refused once, counted, an Event on the operator's Pod; the plan stays.
    write(f, "policy: static_partition\nperformance: {baseFraction: 1.0, ecoCapWats: 90}\n")
    op.wait_for_log(r"policy file change refused.*performance\.ecoCapWats: unknown key", 10)
    wait_for(lambda: counter(port, "joulie_operator_config_reload_failures_total") == 1, 10,
             what="the reload failure counted")
    ev = wait_for(lambda: events(kube, "PolicyConfigRejected"), 10,
                  what="a PolicyConfigRejected event")
    assert ev[0]["involvedObject"]["kind"] == "Pod"
    assert ev[0]["involvedObject"]["name"] == "joulie-operator-0"
    assert ev[0]["type"] == "Warning"
    wait_passes(op, len(pass_lines(op)) + 3)  # several passes later...
    assert labels(kube, names) == {"r1": "performance", "r2": "performance", "r3": "eco",
                                   "r4": "eco"}
    assert counter(port, "joulie_operator_config_reload_failures_total") == 1  # once, not per poll
    assert op.alive()

    # The fix: put in force and re-planned at once.
    write(f, "policy: static_partition\nperformance: {baseFraction: 1.0, ecoCapWatts: 90}\n")
    op.wait_for_log(r"policy file reloaded", 10)
    wait_labels(kube, {n: "performance" for n in names})
    assert counter(port, "joulie_operator_config_reloads_total") == 1
    wait_for(lambda: events(kube, "PolicyConfigReloaded"), 10, what="a PolicyConfigReloaded event")


# 3 ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_window_boundary_crossed_during_the_run_changes_the_count_at_the_local_time(
        crds, procs, joulie_bin, tmp_path):
    kube = crds
    names = ["w1", "w2", "w3", "w4"]
    for n in names:
        create_node(kube, n)
    zone = zoneinfo.ZoneInfo("Europe/Rome")  # a zone with DST: the offset is not fixed
    now = datetime.datetime.now(datetime.timezone.utc)
    boundary = (now + datetime.timedelta(seconds=70)).replace(second=0, microsecond=0)
    if (boundary - now).total_seconds() < 15:
        boundary += datetime.timedelta(minutes=1)
    start_local = boundary.astimezone(zone)
    end_local = start_local + datetime.timedelta(minutes=30)
    day = start_local.strftime("%a")
    f = tmp_path / "policy.yaml"
    write(f, (
        "policy: static_partition\ntimeZone: Europe/Rome\n"
        "performance: {baseFraction: 0.25}\n"
        "windows:\n"
        "  - {name: rush, days: [%s], start: \"%s\", end: \"%s\", baseFraction: 1.0,"
        " ecoCapWatts: 100}\n") % (day, start_local.strftime("%H:%M"),
                                   "24:00" if end_local.day != start_local.day
                                   else end_local.strftime("%H:%M")))
    # An hour-long interval: the boundary itself must trigger the re-plan, not a tick.
    op = start_operator(procs, joulie_bin, kube, "--policy-config", f, "--interval", "1h")
    wait_labels(kube, {"w1": "performance", "w2": "eco", "w3": "eco", "w4": "eco"})
    op.wait_for_log(r"reconcile pass .*window=none local_time=\S+\+0[12]:00", 10)

    # Poll until the window's count shows up; the moment must not precede the boundary.
    def all_performance():
        return all(v == "performance" for v in labels(kube, names).values())
    wait_for(all_performance, (boundary - now).total_seconds() + 20, 0.1,
             "the window's count after %s" % boundary.isoformat())
    seen = datetime.datetime.now(datetime.timezone.utc)
    assert seen >= boundary, "the window started %s before its time" % (boundary - seen)
    assert (seen - boundary).total_seconds() < 10
    op.wait_for_log(r"reconcile pass .*window=rush local_time=%s" %
                    re.escape(start_local.strftime("%Y-%m-%dT%H:%M")), 10)


# 4 ---------------------------------------------------------------------------------------------
def test_the_change_budget_spreads_a_downgrade_and_an_upgrade_burst_goes_through_at_once(
        crds, procs, joulie_bin, tmp_path):
    kube = crds
    names = ["b%02d" % i for i in range(10)]
    for n in names:
        create_node(kube, n)
    f = tmp_path / "policy.yaml"
    base = ("policy: context_aware_v1\nstability: {changeBudget: 3}\n"
            "performance: {baseFraction: %s, min: 1}\n")
    write(f, base % "1.0")
    op = start_operator(procs, joulie_bin, kube, "--policy-config", f, "--policy-config-poll",
                        "200ms", "--interval", "2s")
    wait_labels(kube, {n: "performance" for n in names})

    already = len(pass_lines(op))
    write(f, base % "0.0")  # 9 downgrades wanted
    wait_labels(kube, dict({n: "eco" for n in names[1:]}, b00="performance"), timeout=30)
    downgrades = [l.count("=eco") for l in pass_lines(op)[already:]]
    assert max(downgrades) == 3, downgrades
    assert sum(1 for d in downgrades if d > 0) == 3, downgrades  # 3 + 3 + 3

    already = len(pass_lines(op))
    write(f, base % "1.0")  # 9 upgrades wanted: none waits for the budget
    wait_labels(kube, {n: "performance" for n in names}, timeout=15)
    upgrades = [l.count("=performance") for l in pass_lines(op)[already:]]
    assert 9 in upgrades, upgrades


# 5 ---------------------------------------------------------------------------------------------
def test_a_node_hosting_a_performance_only_pod_is_not_chosen_for_eco(crds, procs, joulie_bin,
                                                                     tmp_path):
    kube = crds
    names = ["h1", "h2", "h3", "h4"]
    for n in names:
        create_node(kube, n)
    create_pod(kube, "needs-performance", node="h3", profile="performance")
    f = tmp_path / "policy.yaml"
    write(f, "policy: context_aware_v1\ntimeZone: Europe/Rome\n"
             "performance: {baseFraction: 0.25, min: 1, perfPodsPerNode: 10}\n")

    code, out, err = run_once(procs, joulie_bin, kube, "--policy-config", f, "--output", "json",
                              "--dry-run")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["policy"] == "context_aware_v1"
    by_node = {n["node"]: n for n in plan["nodes"]}
    assert by_node["h3"]["profile"] == "performance"
    assert by_node["h3"]["reasons"][0] == "hosts 1 performance-sensitive pod(s)"
    for n in ("h1", "h2", "h4"):
        assert by_node[n]["profile"] == "eco"
        assert by_node[n]["reasons"], n
    ctx = plan["context"]
    assert ctx["timeZone"] == "Europe/Rome"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00$", ctx["localTime"])
    assert ctx["abbreviation"] in ("CET", "CEST")
    assert ctx["window"] is None
    assert ctx["reasons"][0].startswith("demand: 1 performance-sensitive pod(s)")

    # static_partition, by name, would have put h3 in eco; the running operator does not.
    op = start_operator(procs, joulie_bin, kube, "--policy-config", f, "--interval", "1s")
    wait_labels(kube, {"h1": "eco", "h2": "eco", "h3": "performance", "h4": "eco"})
    wait_passes(op, 3)
    assert label(kube, "h3") == "performance"


# 6 ---------------------------------------------------------------------------------------------
TEMPS = {"t1": 80.0, "t2": 85.0, "t3": 90.0,   # zone z1: all hot
         "t4": 40.0, "t5": 45.0, "t6": 50.0}   # zone z2: all cool


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    """Debian's real Prometheus scraping a test exporter of node temperatures every second."""
    import promtest
    if not promtest.os.path.exists(promtest.PROMETHEUS):
        pytest.skip("Debian's prometheus is not installed (scripts/deps.sh installs it)")
    exporter = promtest.Exporter(
        lambda: [("node_hwmon_temp_celsius", {"node": n, "sensor": s}, t - 5 * s)
                 for n, t in sorted(TEMPS.items()) for s in (0, 1)])
    prom = promtest.RealPrometheus({"exporter": [exporter.target]},
                                   workdir=str(tmp_path_factory.mktemp("prometheus")))
    prom.wait_for_series("max by (node) (node_hwmon_temp_celsius)", count=len(TEMPS))
    yield prom
    prom.close()
    exporter.close()


def temperature_policy(prometheus, topology="", base=0.5,
                       query="max by (node) (node_hwmon_temp_celsius)"):
    return ("policy: context_aware_v1\n"
            "performance: {baseFraction: %s, min: 1}\n" % base + topology +
            "signals:\n"
            "  prometheus: {endpoint: \"%s\", timeout: 5s}\n"
            "  nodeTemperature: {query: \"%s\","
            " nodeLabel: node, maxAge: 1m}\n" % (prometheus.url, query))


def test_the_hottest_nodes_from_a_real_prometheus_are_the_eco_ones_and_zone_minimums_hold(
        prometheus, crds, procs, joulie_bin, tmp_path):
    kube = crds
    for n in sorted(TEMPS):
        create_node(kube, n, {"topology.kubernetes.io/zone": "z1" if TEMPS[n] > 60 else "z2"})
    f = tmp_path / "policy.yaml"

    # Temperatures alone: the three hottest (all of z1) are eco.
    write(f, temperature_policy(prometheus))
    code, out, err = run_once(procs, joulie_bin, kube, "--policy-config", f, "--output", "json",
                              "--dry-run")
    assert code == 0, err
    plan = json.loads(out)
    profiles = {n["node"]: n["profile"] for n in plan["nodes"]}
    assert profiles == {"t1": "eco", "t2": "eco", "t3": "eco",
                        "t4": "performance", "t5": "performance", "t6": "performance"}
    sig = plan["context"]["signals"]["nodeTemperature"]
    assert sig["health"] == "ok" and sig["nodes"]["ok"] == 6 and sig["source"] == "prometheus"
    t3 = next(n for n in plan["nodes"] if n["node"] == "t3")
    assert "temperature 90.0 °C, 25.0 °C above median" in t3["reasons"]

    # A query too long for a URL (here ~12 KiB encoded) goes to the real Prometheus as a POST
    # form and gives the same answer.
    write(f, temperature_policy(prometheus, query="max by (node) (node_hwmon_temp_celsius)" +
                                " + 0" * 1200))
    code, out, err = run_once(procs, joulie_bin, kube, "--policy-config", f, "--output", "json",
                              "--dry-run")
    assert code == 0, err
    long_plan = json.loads(out)
    assert {n["node"]: n["profile"] for n in long_plan["nodes"]} == profiles
    assert long_plan["context"]["signals"]["nodeTemperature"]["nodes"]["ok"] == 6

    # One performance node wanted: without a zone minimum it is the coolest (z2's t4); with a
    # minimum of one per zone the all-hot z1 keeps its coolest too, and the all-cool z2 keeps one
    # rather than giving its place to the hot zone.
    for topology, expected in (("", {"t4"}), ("topology: {minPerformancePerZone: 1}\n", {"t1", "t4"})):
        write(f, temperature_policy(prometheus, topology, base=0.1))
        code, out, err = run_once(procs, joulie_bin, kube, "--policy-config", f, "--output",
                                  "json", "--dry-run")
        assert code == 0, err
        performance = {n["node"] for n in json.loads(out)["nodes"] if n["profile"] == "performance"}
        assert performance == expected, (topology, performance)

    # With a zone minimum of 1, z1 keeps its coolest node; the hottest two overall stay eco.
    write(f, temperature_policy(prometheus, "topology: {minPerformancePerZone: 1}\n"))
    op = start_operator(procs, joulie_bin, kube, "--policy-config", f, "--interval", "1s")
    wait_labels(kube, {"t1": "performance", "t2": "eco", "t3": "eco",
                       "t4": "performance", "t5": "performance", "t6": "eco"}, timeout=30)
    op.wait_for_log(r"first signal round done; planning", 10)
    op.wait_for_log(r'reconcile pass .*signals="nodeTemperature=ok"', 10)
    wait_passes(op, 3)
    # The first plan already had the signals: no node moved twice.
    moved = [l.split('changed="')[1].split('"')[0] for l in pass_lines(op) if 'changed="' in l]
    assert len(moved) == 1, moved
    assert labels(kube, sorted(TEMPS)) == {"t1": "performance", "t2": "eco", "t3": "eco",
                                           "t4": "performance", "t5": "performance",
                                           "t6": "eco"}


# 1b --------------------------------------------------------------------------------------------
def test_the_change_budget_converges_a_fresh_cluster_one_pass_at_a_time(crds, procs, joulie_bin,
                                                                           tmp_path):
    # Unlabelled nodes, a small base and a budget of one: every pass starts one more downgrade
    # until the plan is reached (a budget spreads downgrades; it must never freeze them).
    kube = crds
    names = ["f%02d" % i for i in range(6)]
    for n in names:
        create_node(kube, n)
    f = tmp_path / "policy.yaml"
    write(f, "policy: context_aware_v1\nstability: {minDwell: 2s, changeBudget: 1}\n"
             "performance: {baseFraction: 0.2, min: 1}\n")
    op = start_operator(procs, joulie_bin, kube, "--policy-config", f, "--interval", "1s")
    wait_labels(kube, dict({n: "eco" for n in names[1:]}, f00="performance"), timeout=30)
    downgrades = [l.count("=eco") for l in pass_lines(op)]
    assert max(downgrades) == 1, downgrades
