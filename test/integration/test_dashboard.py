"""The Grafana dashboard (examples/monitoring/grafana-dashboard.json) against the real Prometheus
(Debian's /usr/bin/prometheus) scraping a running operator, a pool-mode agent and the power
simulator, as the demo runs them: every panel's PromQL must evaluate without an error, and every
panel must show data once the system has run (a query naming a metric the binary does not export,
or a label it does not carry, comes back empty and fails here)."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

import promtest
from agent_support import PowerSim, create_tp, http_tp_spec, start_agent
from harness import wait_for
from operator_support import create_node, create_pod, start_operator

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "examples" / "monitoring" / "grafana-dashboard.json"
NODES = ["d1", "d2", "d3", "d4"]


def panels():
    doc = json.loads(DASHBOARD.read_text())
    return doc, [p for p in doc["panels"] if p.get("type") != "row"]


def queries():
    return [(p["title"], t["refId"], t["expr"]) for p in panels()[1] for t in p["targets"]]


def test_the_dashboard_is_importable_as_is():
    doc, ps = panels()
    assert doc["uid"] and doc["title"] and doc["schemaVersion"] >= 30
    names = {v["name"] for v in doc["templating"]["list"]}
    assert "datasource" in names, "the Prometheus data source is chosen on import"
    assert len({p["id"] for p in ps}) == len(ps), "panel ids are unique"
    for p in ps:
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        assert p["targets"] and p["description"], p["title"]
    titles = " | ".join(p["title"] for p in ps)
    for needed in ("IT power", "Capped nodes", "supply vs demand", "transitions",
                   "cap vs applied vs measured", "apply errors", "Signal health",
                   "Policy reloads", "latency"):
        assert needed.lower() in titles.lower(), needed


def test_every_metric_the_dashboard_names_is_exported_by_the_code():
    exported = set()
    for path in list((REPO / "src").rglob("*.cpp")) + list((REPO / "test/support/powersim").glob("*.py")):
        exported |= set(re.findall(r'"(joulie_[a-z_]+)"', path.read_text()))
    for title, ref, expr in queries():
        for name in re.findall(r"\b(joulie_[a-z_]+?)(?:_bucket)?\b", expr):
            base = re.sub(r"_bucket$", "", name)
            assert base in exported, "%s/%s names %s, which nothing exports" % (title, ref, base)


@pytest.fixture
def running(apiserver, procs, joulie_bin, tmp_path):
    if not os.path.exists(promtest.PROMETHEUS):
        pytest.skip("Debian's prometheus is not installed (%s)" % promtest.PROMETHEUS)
    apiserver.apply_crds()
    sim = PowerSim(procs, tmp_path)
    for n in NODES:
        create_node(apiserver, n)
    create_pod(apiserver, "web", node="d1", profile="performance")
    create_pod(apiserver, "queued", profile="performance")
    create_tp(apiserver, "sim", http_tp_spec(sim))
    op_port, agent_port = promtest.free_port(), promtest.free_port()
    prom = promtest.RealPrometheus(
        {"operator": ["127.0.0.1:%d" % op_port], "agent": ["127.0.0.1:%d" % agent_port],
         "powersim": ["127.0.0.1:%d" % sim.port]}, workdir=str(tmp_path / "prom"))
    # A signal read from the same Prometheus, so that "Signal health" has a source.
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "policy: queue_aware_v1\nperformance: {baseFraction: 0.25, ecoCapWatts: 120}\n"
        "signals:\n  prometheus: {endpoint: \"%s\"}\n"
        "  ambient: {query: \"max(joulie_sim_ambient_temperature_celsius)\", maxAge: 5m}\n"
        % prom.url)
    policy_v2 = policy.read_text().replace("0.25", "0.5")
    start_operator(procs, joulie_bin, apiserver, "--policy-config", policy,
                        "--policy-config-poll", "200ms", "--interval", "1s",
                        "--context-interval", "1s", "--metrics-addr", "127.0.0.1:%d" % op_port)
    start_agent(procs, joulie_bin, apiserver, tmp_path, node=None, interval="1s", name="pool",
                user="agent-pool", args=["--mode", "pool", "--metrics-addr",
                                         "127.0.0.1:%d" % agent_port])
    yield prom, policy, policy_v2
    prom.close()


def test_every_panel_query_runs_and_shows_data(running):
    prom, policy, policy_v2 = running
    # Some history for the rates and increases: transitions happened (a fresh cluster), one
    # policy reload, several passes.
    prom.wait_for_series('joulie_operator_state_transitions_total', 1, timeout=30)
    policy.write_text(policy_v2)
    prom.wait_for_series('joulie_operator_config_reloads_total > 0', 1, timeout=30)
    prom.wait_for_series('joulie_sim_node_cap_watts', 1, timeout=30)
    prom.wait_for_series('joulie_context_source_up == 1', 1, timeout=30)
    failures = {}

    def all_have_data():
        failures.clear()
        for title, ref, expr in queries():
            try:
                result = prom.query(expr)
            except Exception as e:   # HTTP 400 / status: error (a PromQL syntax or type error)
                pytest.fail("%s/%s: query error %s\n%s" % (title, ref, e, expr), pytrace=False)
            if not result:
                failures["%s/%s" % (title, ref)] = expr
        return not failures
    wait_for(all_have_data, 60, 1.0, "every panel query to return data (still empty: %s)" % failures)


def test_status_shows_the_measured_power_the_dashboard_shows(running, apiserver, joulie_bin):
    """`kubectl joulie status --prometheus URL`: the POWER column is the dashboard's per-node
    measured power, read from the same Prometheus; an unreachable one is said, not fatal."""
    prom, _, _ = running
    panel = [e for _, _, e in queries() if "joulie_sim_node_package_power_watts" in e]
    assert panel, "the dashboard's measured-power query"
    prom.wait_for_series("joulie_sim_node_package_power_watts", len(NODES), timeout=30)
    kubeconfig = str(apiserver.kubeconfig("admin"))

    def status(*args):
        r = subprocess.run([str(joulie_bin), "ctl", "status", "--kubeconfig", kubeconfig] +
                           list(args), capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def measured():
        doc = json.loads(status("--prometheus", prom.url, "-o", "json"))
        got = {n["name"]: n["measuredPowerWatts"] for n in doc["nodes"]}
        return got if set(got) == set(NODES) and all(v is not None for v in got.values()) else None
    watts = wait_for(measured, 30, 0.5, "measured power for every node in `status -o json`")
    want = {r["metric"]["node"]: float(r["value"][1]) for r in prom.query(panel[0])}
    for n in NODES:  # the same series, sampled a scrape or two apart
        assert watts[n] > 0 and abs(watts[n] - want[n]) <= max(50.0, 0.5 * want[n]), (watts, want)
    table = status("--prometheus", prom.url)
    row = next(l.split() for l in table.splitlines() if l.startswith("d1 "))
    assert row[6].endswith("W") and row[6] != "-", table

    down = status("--prometheus", "http://127.0.0.1:%d" % promtest.free_port())
    assert "Power:    unknown (http://127.0.0.1:" in down, down
    assert next(l.split() for l in down.splitlines() if l.startswith("d1 "))[6] == "-"
