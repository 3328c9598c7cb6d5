"""The agent's TelemetryProfile `prometheus` source (docs/design.md#prometheus) against Debian's
real Prometheus: RAPL firmware-locked on a fake sysfs tree, the node's package power exported by a
test exporter as a function of the frequency the agent writes, scraped by Prometheus every second,
and read back by the agent through a PromQL query with {node} — the DVFS controller closes the loop.
Faults (several series, NaN, no series, 5xx, Prometheus down) use the fake Prometheus: the input
is missing, the controller holds, nothing is throttled because of it."""

import pytest

from agent_support import (create_npp, create_tp, make_tree, metric_value, metrics_port,
                           npp_status, scrape, set_cap, start_agent)
from fake_sysfs import FakeSysfs
from harness import wait_for
import promtest

MAX_KHZ = 3_000_000
POWER_QUERY = 'node_package_power_watts{node="{node}"}'


def max_freq(tree):
    return tree.read_int(FakeSysfs.policy_file(0, "scaling_max_freq"))


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    """One real Prometheus for the module, scraping one exporter whose series tests set."""
    if not promtest.os.path.exists(promtest.PROMETHEUS):
        pytest.skip("Debian's prometheus is not installed (scripts/deps.sh installs it)")
    power = {}  # node → callable giving watts

    def series():
        out = [("node_package_power_watts", {"node": n}, f()) for n, f in sorted(power.items())]
        out.append(("node_hwmon_temp_celsius", {"node": "n1"}, 61.5))
        return out
    exporter = promtest.Exporter(series)
    prom = promtest.RealPrometheus({"exporter": [exporter.target]},
                                   workdir=str(tmp_path_factory.mktemp("prometheus")))
    prom.power = power
    yield prom
    prom.close()
    exporter.close()


def locked_tree(tmp_path):
    tree = make_tree(tmp_path / "sys", packages=1, policies=2)
    tree.lock_rapl()
    return tree


def prom_tp(endpoint, query=POWER_QUERY, thermal=None):
    spec = {"target": {"scope": "node", "nodeName": "n1"},
            "sources": {"cpu": {"type": "prometheus",
                                "prometheus": {"endpoint": endpoint, "query": query}}},
            "controls": {"cpu": {"type": "host"}}}
    if thermal:
        spec["sources"]["thermal"] = {"type": "prometheus",
                                      "prometheus": {"endpoint": endpoint, "query": thermal}}
    return spec


DVFS_ARGS = ["--dvfs-cooldown", "1s", "--dvfs-trip-count", "1", "--dvfs-ema-alpha", "1",
             "--dvfs-min-freq-khz", "800000", "--telemetry-ttl", "30s"]


@pytest.mark.slow
def test_closed_dvfs_loop_through_a_real_promql_query(prometheus, apiserver, procs, joulie_bin,
                                                       tmp_path):
    apiserver.apply_crds()
    tree = locked_tree(tmp_path)
    # 60 W idle + 140 W at full frequency: 200 W unthrottled, ~97 W at the 800 MHz floor.
    prometheus.power["n1"] = lambda: 60 + 140 * max_freq(tree) / MAX_KHZ
    prometheus.wait_for_series('node_package_power_watts{node="n1"}')

    create_tp(apiserver, "tp-n1", prom_tp(prometheus.url,
                                          thermal='node_hwmon_temp_celsius{node="{node}"}'))
    create_npp(apiserver, "n1", cap=150)  # above 160 W: throttle; below 135 W: release
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree, interval="1s",
                        args=DVFS_ARGS)
    port = metrics_port(agent)

    # Above the cap: the DVFS controller lowers scaling_max_freq until Prometheus shows the
    # power under cap + margin.
    wait_for(lambda: max_freq(tree) < MAX_KHZ, timeout=30, what="scaling_max_freq lowered")
    status = wait_for(lambda: (lambda s: s if s.get("backend") == "dvfs" else None)(
        npp_status(apiserver, "node-n1")), what="dvfs status")
    assert status["result"] == "applied", status
    assert "RAPL" in status["message"]  # says why DVFS holds the cap
    wait_for(lambda: float(prometheus.query('node_package_power_watts{node="n1"}')[0]["value"][1])
             <= 160, timeout=60, what="power brought under cap + margin through the loop")
    text = scrape(port)
    assert metric_value(text, "joulie_dvfs_throttle_pct", node="n1") > 0
    assert metric_value(text, "joulie_dvfs_observed_power_watts", node="n1") > 0
    assert metric_value(text, "joulie_node_temperature_celsius", node="n1") == 61.5

    # A cap far above the power: below the band, the controller releases the frequency.
    set_cap(apiserver, "node-n1", 400)
    wait_for(lambda: max_freq(tree) == MAX_KHZ, timeout=60, what="scaling_max_freq released")
    assert agent.stop() == 0


@pytest.fixture
def fake_prom():
    fake = promtest.FakePrometheus()
    yield fake
    fake.close()


@pytest.mark.parametrize("fault,says", [
    ("several", "2 series, expected exactly one"),
    ("nan", "not a finite number"),
    ("none", "no series"),
    ("5xx", "HTTP 503"),
    ("status_error", "bad_data"),
    ("down", "cannot connect"),
])
def test_a_bad_prometheus_answer_is_a_missing_input_never_a_throttle(
        fault, says, fake_prom, apiserver, procs, joulie_bin, tmp_path):
    apiserver.apply_crds()
    tree = locked_tree(tmp_path)
    endpoint = fake_prom.url
    if fault == "several":
        fake_prom.set(body=promtest.vector([({"node": "n1", "i": "a"}, 300),
                                            ({"node": "n1", "i": "b"}, 300)]))
    elif fault == "nan":
        fake_prom.set(body=promtest.vector([({"node": "n1"}, "NaN")]))
    elif fault == "5xx":
        fake_prom.set(status=503, body="overloaded")
    elif fault == "status_error":
        fake_prom.set(status=400, body='{"status":"error","errorType":"bad_data","error":"x"}')
    elif fault == "down":
        down = promtest.RefusedEndpoint()  # bound until the test returns
        endpoint = down.url
    create_tp(apiserver, "tp-n1", prom_tp(endpoint))
    create_npp(apiserver, "n1", cap=100)
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree, interval="200ms",
                        args=DVFS_ARGS)
    status = wait_for(lambda: (lambda s: s if says in s.get("message", "") else None)(
        npp_status(apiserver, "node-n1")), timeout=15, what="status naming the missing input")
    assert status["backend"] == "dvfs" and "power input missing" in status["message"], status
    if fault != "down":
        queries = wait_for(lambda: len(fake_prom.queries) >= 5 and fake_prom.queries,
                           what="several samples")
        assert queries[0] == 'node_package_power_watts{node="n1"}'
    assert max_freq(tree) == MAX_KHZ  # held: nothing throttled because of a bad input
    assert agent.alive()
    # Status is written on change only: the same fault is not re-reported every sample.
    assert agent.stop() == 0


def test_a_stale_sample_holds_the_controller(fake_prom, apiserver, procs, joulie_bin, tmp_path):
    apiserver.apply_crds()
    tree = locked_tree(tmp_path)
    # A sample far above the cap, but timestamped ten minutes ago (TTL 30 s).
    fake_prom.set(body=promtest.vector([({"node": "n1"}, 400)],
                                       ts=promtest.time.time() - 600))
    create_tp(apiserver, "tp-n1", prom_tp(fake_prom.url))
    create_npp(apiserver, "n1", cap=100)
    agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree, interval="200ms",
                        args=DVFS_ARGS)
    wait_for(lambda: "power input stale" in npp_status(apiserver, "node-n1").get("message", ""),
             timeout=15, what="stale input reported")
    wait_for(lambda: len(fake_prom.queries) >= 5, what="several samples")
    assert max_freq(tree) == MAX_KHZ
    assert agent.stop() == 0


def thermal_tp(endpoint, **auth):
    prom = {"endpoint": endpoint, "query": 'node_hwmon_temp_celsius{node="{node}"}'}
    prom.update(auth)
    return {"target": {"scope": "node", "nodeName": "n1"},
            "sources": {"cpu": {"type": "host"}, "thermal": {"type": "prometheus",
                                                             "prometheus": prom}},
            "controls": {"cpu": {"type": "host"}}}


@pytest.mark.slow
def test_https_prometheus_with_a_ca_file_and_a_bearer_token(certs, apiserver, procs, joulie_bin,
                                                             tmp_path):
    """Like the operator's signals: an https endpoint verified with the TelemetryProfile's caFile
    (Debian's Prometheus serving TLS), and a bearer token read from bearerTokenFile."""
    if not promtest.os.path.exists(promtest.PROMETHEUS):
        pytest.skip("Debian's prometheus is not installed (scripts/deps.sh installs it)")
    apiserver.apply_crds()
    exporter = promtest.Exporter(lambda: [("node_hwmon_temp_celsius", {"node": "n1"}, 61.5)])
    prom = promtest.RealPrometheus({"exporter": [exporter.target]}, workdir=str(tmp_path / "p"),
                                   tls=(certs.server_cert, certs.server_key, certs.ca_cert))
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    try:
        prom.wait_for_series("node_hwmon_temp_celsius")
        assert prom.url.startswith("https://")
        create_tp(apiserver, "tp-n1", thermal_tp(prom.url, caFile=str(certs.ca_cert),
                                                 bearerTokenFile=str(token)))
        create_npp(apiserver, "n1", cap=150)
        tree = make_tree(tmp_path / "sys", packages=1)
        agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree, interval="1s")
        port = metrics_port(agent)
        wait_for(lambda: metric_value(scrape(port), "joulie_node_temperature_celsius",
                                      node="n1") == 61.5, 30,
                 what="the temperature read over HTTPS, verified with the CA file")
        assert agent.stop() == 0

        # Without the CA file the server's certificate is not trusted: no reading at all.
        apiserver.api("DELETE", "/apis/joulie.io/v1alpha1/telemetryprofiles/tp-n1")
        create_tp(apiserver, "tp-n1", thermal_tp(prom.url))
        agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree, interval="1s",
                            name="agent-no-ca")
        port = metrics_port(agent)
        agent.wait_for_log(r"(?i)thermal input missing.*(tls|certificate)", 30)
        assert metric_value(scrape(port), "joulie_node_temperature_celsius", node="n1") is None
        assert agent.stop() == 0
    finally:
        prom.close()
        exporter.close()

    # The token goes with every query (a recording stand-in: Prometheus itself does not check
    # bearer tokens).
    fake = promtest.FakePrometheus()
    fake.set(body=promtest.vector([({"node": "n1"}, 40.0)]))
    try:
        apiserver.api("DELETE", "/apis/joulie.io/v1alpha1/telemetryprofiles/tp-n1")
        create_tp(apiserver, "tp-n1", thermal_tp(fake.url, bearerTokenFile=str(token)))
        agent = start_agent(procs, joulie_bin, apiserver, tmp_path, tree=tree, interval="1s",
                            name="agent-token")
        wait_for(lambda: fake.authorizations, 30, what="a query to the stand-in")
        assert set(fake.authorizations) == {"Bearer s3cret"}, fake.authorizations
        assert agent.stop() == 0
    finally:
        fake.close()
