"""The operator's context sources (docs/design.md#context-and-signals) with the real binary:
Debian's real Prometheus scraping a test exporter for the happy path (`--once --output json` shows
each configured signal's value, age and health per node and zone), an Open Inference Protocol v2
stand-in model for the demand forecast, and a fault-injecting fake Prometheus for the faults (down,
slow, status error, NaN, several series, stale): the signal is missing, one log line and one Event
per change, passes keep their pace, /readyz does not care, nothing is capped because of it."""

import json
import re
import time

import pytest

from harness import wait_for
from operator_support import (create_node, create_pod, events, metrics_port, run_once, scrape,
                              start_operator, wait_passes)
import promtest

ZONE = "topology.kubernetes.io/zone"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    if not promtest.os.path.exists(promtest.PROMETHEUS):
        pytest.skip("Debian's prometheus is not installed (scripts/deps.sh installs it)")

    def series():
        return [("node_hwmon_temp_celsius", {"node": "n1"}, 48.5),
                ("node_hwmon_temp_celsius", {"node": "n2"}, 71.0),
                ("node_package_power_watts", {"node": "n1"}, 180.0),
                ("node_package_power_watts", {"node": "n2"}, 95.0),
                ("node_package_power_watts", {"node": "n3"}, float("nan")),
                ("facility_pue", {"zone": "z1"}, 1.25),
                ("facility_pue", {"zone": "z2"}, 1.6),
                ("joulie_test_perf_pods", {}, 4.0)]
    exporter = promtest.Exporter(series)
    prom = promtest.RealPrometheus({"exporter": [exporter.target]},
                                   workdir=str(tmp_path_factory.mktemp("prometheus")))
    # Two samples of the demand gauge at least: predict_linear needs them.
    prom.wait_for_series("count_over_time(joulie_test_perf_pods[1m]) >= 2")
    yield prom
    prom.close()
    exporter.close()


@pytest.fixture
def crds(kube):
    kube.apply_crds()
    return kube


def three_nodes(kube):
    create_node(kube, "n1", labels={ZONE: "z1"})
    create_node(kube, "n2", labels={ZONE: "z1"})
    create_node(kube, "n3", labels={ZONE: "z2"})


def policy_file(tmp_path, endpoint, forecast=None, extra=""):
    forecast = forecast or ('{query: "max(predict_linear(joulie_test_perf_pods[1m], 600))", '
                            'maxAge: 5m}')
    text = ("apiVersion: joulie.io/v1alpha1\nkind: PolicyConfig\npolicy: context_aware_v1\n"
            "performance: {baseFraction: 0.34, min: 1, perfPodsPerNode: 10}\n"
            "signals:\n"
            "  prometheus: {endpoint: \"%s\", timeout: 2s}\n"
            "  nodeTemperature: {query: \"max by (node) (node_hwmon_temp_celsius)\", "
            "nodeLabel: node, maxAge: 2m}\n"
            "  nodePower: {query: \"sum by (node) (node_package_power_watts)\", maxAge: 2m}\n"
            "  pue: {query: \"facility_pue\", zoneLabel: zone, maxAge: 5m}\n"
            "  demandForecast: %s\n%s" % (endpoint, forecast, extra))
    f = tmp_path / "policy.yaml"
    f.write_text(text)
    return f


def once_json(procs, joulie_bin, kube, f):
    code, out, err = run_once(procs, joulie_bin, kube, "--policy-config", f, "--output", "json",
                              "--dry-run")
    assert code == 0, err
    return json.loads(out), err


def test_once_shows_every_signal_with_value_age_and_health(prometheus, crds, procs, joulie_bin,
                                                           tmp_path):
    three_nodes(crds)
    plan, _ = once_json(procs, joulie_bin, crds, policy_file(tmp_path, prometheus.url))
    signals = plan["context"]["signals"]

    temp = signals["nodeTemperature"]
    assert temp["source"] == "prometheus"
    assert temp["byNode"]["n1"]["health"] == "ok" and temp["byNode"]["n1"]["value"] == 48.5
    assert temp["byNode"]["n2"]["value"] == 71.0
    assert 0 <= temp["byNode"]["n1"]["ageSeconds"] < 60
    assert temp["byNode"]["n3"]["health"] == "missing" and temp["byNode"]["n3"]["value"] is None
    assert temp["nodes"] == {"ok": 2, "stale": 0, "missing": 1, "error": 0}

    power = signals["nodePower"]["byNode"]
    assert power["n1"]["value"] == 180.0 and power["n2"]["value"] == 95.0
    assert power["n3"]["health"] == "missing" and power["n3"]["message"] == "value is NaN"

    assert signals["pue{zone=z1}"]["value"] == 1.25
    assert signals["pue{zone=z1}"]["health"] == "ok"
    assert signals["pue{zone=z2}"]["value"] == 1.6
    assert 0 <= signals["pue{zone=z2}"]["ageSeconds"] < 60

    forecast = signals["demandForecast"]
    assert forecast["health"] == "ok" and forecast["source"] == "prometheus"
    assert forecast["value"] == pytest.approx(4.0, abs=0.01)  # a flat series predicts itself


def test_demand_forecast_from_an_oip_v2_model(prometheus, crds, procs, joulie_bin, tmp_path):
    three_nodes(crds)
    create_pod(crds, "queued-1", profile="performance")
    create_pod(crds, "queued-2", profile="performance")
    model = promtest.OipModel("demand-forecast")
    try:
        kserve = '{kserve: {endpoint: "%s", model: demand-forecast, timeout: 1s}, maxAge: 5m}' % (
            model.url)
        f = policy_file(tmp_path, prometheus.url, forecast=kserve)
        plan, _ = once_json(procs, joulie_bin, crds, f)
        forecast = plan["context"]["signals"]["demandForecast"]
        # One-shot: the history is the current demand (2 pending performance pods), padded.
        assert forecast["source"] == "kserve" and forecast["health"] == "ok", forecast
        assert forecast["value"] == 5.0  # 2 × mean(2) + 1
        request = model.requests[-1]
        names = [i["name"] for i in request["inputs"]]
        assert names == ["demand_history", "time_features"]
        assert request["inputs"][0]["data"] == [2.0] * 12

        for mode, says in [("not_ready", "not ready"), ("garbage", "model output unusable"),
                           ("nan", "not a number"), ("slow", "no complete reply")]:
            model.mode = mode
            plan, err = once_json(procs, joulie_bin, crds, f)
            forecast = plan["context"]["signals"]["demandForecast"]
            assert forecast["health"] == "error" and forecast["value"] is None, (mode, forecast)
            assert says in forecast["message"], (mode, forecast)
            assert "context source is down" in err and "source=kserve" in err
    finally:
        model.close()


@pytest.fixture
def fake_prom():
    fake = promtest.FakePrometheus()
    yield fake
    fake.close()


def per_query(answers):
    """Answer by query text: {substring: (status, body, delay)}; default an empty vector."""
    def answer(query):
        for key, reply in answers.items():
            if key in query:
                return reply
        return 200, promtest.vector([]), 0
    return answer


@pytest.mark.parametrize("fault,health,says", [
    ("status_error", "error", "bad_data"),
    ("nan", "missing", "value is NaN"),
    ("several", "error", "2 series"),
    ("stale", "stale", "maxAge 2m0s"),
    ("none", "missing", "no series"),
])
def test_a_bad_answer_makes_the_signal_missing_never_zero(fault, health, says, fake_prom, crds,
                                                          procs, joulie_bin, tmp_path):
    three_nodes(crds)
    now = time.time()
    bodies = {
        "status_error": (400, '{"status":"error","errorType":"bad_data","error":"x"}', 0),
        "nan": (200, promtest.vector([({"node": n}, "NaN") for n in ("n1", "n2", "n3")]), 0),
        "several": (200, promtest.vector([({"node": n, "i": i}, 50) for n in ("n1", "n2", "n3")
                                          for i in ("a", "b")]), 0),
        "stale": (200, promtest.vector([({"node": n}, 50) for n in ("n1", "n2", "n3")],
                                       ts=now - 600), 0),
        "none": (200, promtest.vector([]), 0),
    }
    fake_prom.set(per_query=per_query({"node_hwmon_temp_celsius": bodies[fault]}))
    plan, _ = once_json(procs, joulie_bin, crds, policy_file(tmp_path, fake_prom.url))
    temp = plan["context"]["signals"]["nodeTemperature"]["byNode"]
    for n in ("n1", "n2", "n3"):
        assert temp[n]["health"] == health and temp[n]["value"] is None, (fault, temp[n])
        assert says in temp[n]["message"], (fault, temp[n])


def test_missing_signals_never_cap_a_node_by_themselves(crds, procs, joulie_bin, tmp_path):
    three_nodes(crds)
    for i in range(3):
        create_pod(crds, "p%d" % i, profile="performance")
    # The same file with every source unreachable, and without any signals: the same plan.
    down = promtest.RefusedEndpoint()
    with_signals, err = once_json(procs, joulie_bin, crds, policy_file(tmp_path, down.url))
    assert "context source is down" in err
    bare = tmp_path / "bare.yaml"
    bare.write_text("policy: context_aware_v1\n"
                    "performance: {baseFraction: 0.34, min: 1, perfPodsPerNode: 10}\n")
    without, _ = once_json(procs, joulie_bin, crds, bare)
    profiles = lambda plan: {n["node"]: n["profile"] for n in plan["nodes"]}
    assert profiles(with_signals) == profiles(without)
    assert all(s["value"] is None for k, s in with_signals["context"]["signals"].items()
               if "value" in s)


def test_a_source_going_down_is_one_log_line_and_one_event_and_passes_keep_their_pace(
        fake_prom, crds, procs, joulie_bin, tmp_path):
    three_nodes(crds)
    fake_prom.set(body=promtest.vector([({"node": "n1"}, 50)]))
    f = policy_file(tmp_path, fake_prom.url)
    op = start_operator(procs, joulie_bin, crds, "--policy-config", f, "--interval", "500ms",
                        "--context-interval", "500ms", env={"POD_NAME": "joulie-operator-abc"})
    port = metrics_port(op)
    wait_for(lambda: re.search(r'joulie_context_source_up\{source="prometheus"\} 1',
                               scrape(port)[1]), timeout=30, what="source up")

    # Prometheus hangs: each query takes the whole timeout (2 s, one retry). Passes go on at
    # their interval, /readyz stays ready.
    fake_prom.set(body=promtest.vector([]), delay=30)
    start = op.output("stderr").count("reconcile pass")
    wait_for(lambda: op.output("stderr").count("reconcile pass") >= start + 6, timeout=8,
             what="six more passes while Prometheus hangs")
    assert scrape(port, "/readyz")[0] == 200

    # Prometheus refuses connections (closed): down. Several rounds later: still one line.
    fake_prom.release.set()
    fake_prom.set(status=503, body="unavailable")
    wait_for(lambda: "context source is down" in op.output("stderr"), timeout=30,
             what="the down log line")
    wait_for(lambda: re.search(r'joulie_context_source_up\{source="prometheus"\} 0',
                               scrape(port)[1]), timeout=10, what="source_up 0")
    queries = len(fake_prom.queries)
    wait_for(lambda: len(fake_prom.queries) >= queries + 8, timeout=30, what="more rounds")
    assert op.output("stderr").count("context source is down") == 1
    assert scrape(port, "/readyz")[0] == 200
    down = wait_for(lambda: events(crds, reason="ContextSourceDown"), what="the Down Event")
    assert len(down) == 1 and down[0]["involvedObject"]["kind"] == "Pod"
    assert down[0]["involvedObject"]["name"] == "joulie-operator-abc"

    # Back: one line, one Event.
    fake_prom.release.clear()
    fake_prom.set(body=promtest.vector([({"node": "n1"}, 50)]))
    wait_for(lambda: "context source is back" in op.output("stderr"), timeout=30,
             what="the back log line")
    wait_for(lambda: events(crds, reason="ContextSourceUp"), what="the Up Event")
    text = scrape(port)[1]
    assert re.search(r'joulie_context_query_duration_seconds_count\{signal="nodeTemperature"\} \d',
                     text)
    assert re.search(r'joulie_context_signal_age_seconds\{signal="nodeTemperature"\} ', text)
    assert op.output("stderr").count("context source is down") == 1
    assert op.alive()


def test_https_prometheus_is_verified_with_the_ca_file(certs, crds, procs, joulie_bin, tmp_path):
    if not promtest.os.path.exists(promtest.PROMETHEUS):
        pytest.skip("Debian's prometheus is not installed (scripts/deps.sh installs it)")
    three_nodes(crds)
    exporter = promtest.Exporter(lambda: [("facility_pue", {"zone": "z1"}, 1.4)])
    prom = promtest.RealPrometheus({"exporter": [exporter.target]}, workdir=str(tmp_path / "p"),
                                   tls=(certs.server_cert, certs.server_key, certs.ca_cert))
    try:
        prom.wait_for_series("facility_pue")
        assert prom.url.startswith("https://")
        extra = "  ambient: {query: \"facility_pue\", maxAge: 1m}\n"
        f = policy_file(tmp_path, prom.url, extra=extra)
        text = f.read_text().replace('timeout: 2s}', 'timeout: 2s, caFile: "%s"}' % certs.ca_cert)
        f.write_text(text)
        plan, _ = once_json(procs, joulie_bin, crds, f)
        signals = plan["context"]["signals"]
        assert signals["pue{zone=z1}"]["value"] == 1.4
        assert signals["ambientCelsius"]["value"] == 1.4

        # Without the CA file the server's certificate is not trusted: the signals are errors.
        f.write_text(text.replace(', caFile: "%s"' % certs.ca_cert, ""))
        plan, err = once_json(procs, joulie_bin, crds, f)
        pue = plan["context"]["signals"]["pue{zone=z1}"]
        assert pue["health"] == "error" and "TLS" in pue["message"], pue
    finally:
        prom.close()
        exporter.close()
