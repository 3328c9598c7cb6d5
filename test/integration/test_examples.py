"""examples/: the manifests users copy are accepted by an API server with Joulie's CRDs, each
workload example is of the class its label and comment claim (docs/design.md#pod-classification),
and the alerting rules are valid PromQL whose alerts fire when they should.

Run: /usr/bin/python3 -m pytest test/integration/test_examples.py -q
"""

import glob
import json
import os
import shutil
import subprocess

import pytest

from ship_yaml import REPO, load_yaml_file

EXAMPLES = os.path.join(REPO, "examples")
PROFILE_KEY = "joulie.io/power-profile"


def example_files(sub):
    return sorted(glob.glob(os.path.join(EXAMPLES, sub, "*.yaml")))


def pod_spec(obj):
    if obj["kind"] == "Pod":
        return obj["spec"], obj["metadata"].get("labels", {})
    template = obj["spec"]["template"]
    return template["spec"], template["metadata"].get("labels", {})


# A compact oracle of docs/design.md#pod-classification, enough to check the examples' claims.
_BITS = {"performance": 1, "draining-performance": 1, "eco": 2}


def classify(spec):
    mask = 3
    if PROFILE_KEY in spec.get("nodeSelector", {}):
        value = spec["nodeSelector"][PROFILE_KEY].strip()
        if value not in _BITS:
            return "unknown"
        mask &= _BITS[value]
    required = spec.get("affinity", {}).get("nodeAffinity", {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution")
    if required is not None:
        terms = required.get("nodeSelectorTerms", [])
        if not terms:
            return "unknown"
        pod_mask = 0
        for term in terms:
            t = mask
            for expr in term.get("matchExpressions", []):
                if expr["key"] != PROFILE_KEY:
                    continue
                known = 0
                for v in expr.get("values", []):
                    known |= _BITS.get(v.strip(), 0)
                op = expr["operator"]
                if op == "In":
                    t &= known
                elif op == "NotIn":
                    t &= ~known & 3
                elif op == "DoesNotExist":
                    t = 0
                elif op != "Exists":
                    return "unknown"
            pod_mask |= t
        mask = pod_mask
    return {3: "general", 1: "performance-only", 2: "eco-only", 0: "unknown"}[mask]


def test_classifier_oracle_matches_spec_vectors():
    def sel(v):
        return {"nodeSelector": {PROFILE_KEY: v}}

    def aff(*terms):
        return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": PROFILE_KEY, "operator": op, "values": vals} for op, vals in t]}
                for t in terms]}}}}
    assert classify({}) == "general"
    assert classify(sel("performance")) == "performance-only"
    assert classify(sel("ultra")) == "unknown"
    assert classify(sel(" performance ")) == "performance-only"
    assert classify(aff([("In", ["performance"])], [("In", ["eco"])])) == "general"
    assert classify(aff([("NotIn", ["eco"])])) == "performance-only"
    assert classify(aff([("In", ["eco", "ultra"])])) == "eco-only"
    assert classify(aff([("DoesNotExist", [])])) == "unknown"
    assert classify(aff([("Gt", ["1"])])) == "unknown"
    assert classify(dict(sel("performance"), **aff([("In", ["eco"])]))) == "unknown"


def test_workload_examples_are_the_class_they_claim():
    claimed = {}
    for path in example_files("workloads"):
        for obj in load_yaml_file(path):
            if obj["kind"] not in ("Pod", "Deployment"):
                continue
            spec, labels = pod_spec(obj)
            want = labels.get("joulie.io/example-class")
            assert want, "%s: label joulie.io/example-class missing" % path
            assert classify(spec) == want, "%s claims %s" % (obj["metadata"]["name"], want)
            claimed.setdefault(want, []).append(obj["kind"])
    assert set(claimed) == {"performance-only", "eco-only", "general"}
    assert "Deployment" in sum(claimed.values(), [])


def test_telemetry_examples_cover_simulator_and_host():
    profiles = [o for p in example_files("telemetry") for o in load_yaml_file(p)]
    by_scope = {}
    for tp in profiles:
        assert tp["kind"] == "TelemetryProfile"
        by_scope.setdefault(tp["spec"]["target"]["scope"], []).append(tp)
    sim = by_scope["cluster"][0]["spec"]
    assert sim["sources"]["cpu"]["type"] == "http"
    assert "{node}" in sim["sources"]["cpu"]["http"]["endpoint"]
    assert sim["controls"]["cpu"]["type"] == "http"
    assert "{node}" in sim["controls"]["cpu"]["http"]["endpoint"]
    host = [t["spec"] for t in by_scope["node"] if t["spec"]["controls"]["cpu"]["type"] == "host"]
    assert host and host[0]["target"]["nodeName"]


def _promtool():
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    return path


def test_alert_rules_are_valid():
    res = subprocess.run([_promtool(), "check", "rules", "joulie-rules.yaml"], capture_output=True,
                         text=True, cwd=os.path.join(EXAMPLES, "monitoring"), timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


def test_alert_rules_fire_when_they_should():
    res = subprocess.run([_promtool(), "test", "rules", "joulie-rules.test.yaml"],
                         capture_output=True, text=True, cwd=os.path.join(EXAMPLES, "monitoring"),
                         timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


# ---- on an API server ---------------------------------------------------------------------------

def run(api, *args):
    res = api.kubectl(*args, check=False)
    return res.returncode == 0, (res.stdout or "") + (res.stderr or "")


def has_deployments(api):
    ok, out = run(api, "api-resources", "--api-group=apps", "-o", "name")
    return ok and "deployments.apps" in out.split()


def test_examples_are_accepted_by_the_api_server(kube, tmp_path):
    kube.apply_crds()
    applied = []
    try:
        files = (example_files("workloads") + example_files("telemetry") + example_files("manual"))
        for path in files:
            kinds = {o["kind"] for o in load_yaml_file(path)}
            if "Deployment" in kinds and not has_deployments(kube):
                # The test API server has no apps/v1: check the pod template is a valid Pod.
                for obj in load_yaml_file(path):
                    spec, labels = pod_spec(obj)
                    pod = {"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": obj["metadata"]["name"] + "-template",
                                        "namespace": obj["metadata"]["namespace"],
                                        "labels": labels},
                           "spec": spec}
                    pod_file = tmp_path / (pod["metadata"]["name"] + ".json")
                    pod_file.write_text(json.dumps(pod))
                    ok, out = run(kube, "apply", "-f", pod_file)
                    assert ok, "%s (pod template): %s" % (path, out)
                    applied.append(str(pod_file))
                continue
            ok, out = run(kube, "apply", "-f", path)
            assert ok, "%s: %s" % (path, out)
            applied.append(path)

        ok, out = run(kube, "get", "tp", "power-simulator", "worker-01-host", "worker-02-no-control",
                      "-o", "custom-columns=NAME:.metadata.name,SCOPE:.spec.target.scope,"
                      "CONTROL:.spec.controls.cpu.type", "--no-headers")
        assert ok, out
        assert sorted(line.split() for line in out.strip().splitlines()) == [
            ["power-simulator", "cluster", "http"], ["worker-01-host", "node", "host"],
            ["worker-02-no-control", "node", "none"]]
        ok, out = run(kube, "get", "pods", "-n", "joulie-examples", "-l",
                      "joulie.io/example-class=performance-only", "-o", "name")
        assert ok and "pod/latency-critical" in out.split(), out
        ok, out = run(kube, "get", "npp", "node-worker-03", "-o", "jsonpath={.spec.nodeName}")
        assert ok and out == "worker-03", out
    finally:
        for path in reversed(applied):
            run(kube, "delete", "-f", path, "--ignore-not-found", "--wait=false")
