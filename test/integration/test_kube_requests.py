"""Requests, typed errors, retries, pagination, metrics and watches of the Kubernetes transport
(test/support/kube_probe) against the test API server over HTTPS."""

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest


@pytest.fixture
def probe(build_dir):
    path = build_dir / "test" / "support" / "kube_probe"
    if not path.exists():
        pytest.skip("kube_probe not built at %s" % path)
    return path


def run(probe, kubeconfig, *args, timeout=60):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent"}
    return subprocess.run([str(probe), "--kubeconfig", str(kubeconfig)] + [str(a) for a in args],
                          capture_output=True, text=True, env=env, timeout=timeout)


def ok(r):
    assert r.returncode == 0, "probe failed (%d):\nstdout: %s\nstderr: %s" % (
        r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    return r.stdout


def failed(r, *fragments):
    assert r.returncode == 1, "expected exit 1, got %d:\nstdout: %s\nstderr: %s" % (
        r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    for f in fragments:
        assert f in r.stderr, "%r not in stderr: %s" % (f, r.stderr)
    return r.stderr


def node(name, **labels):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}


def count_metric(text, verb, code):
    """joulie_kube_requests_total for nodes/verb/code, whatever the label order."""
    for line in text.splitlines():
        if not line.startswith("joulie_kube_requests_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if labels == {"verb": verb, "resource": "nodes", "code": code}:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_create_get_patch_list_and_typed_errors(apiserver, probe, tmp_path):
    cfg = apiserver.kubeconfig("admin")
    f = tmp_path / "n1.json"
    f.write_text(json.dumps(node("n1", pool="a")))
    created = json.loads(ok(run(probe, cfg, "create-from", f, "nodes")))
    assert created["metadata"]["name"] == "n1"
    failed(run(probe, cfg, "create-from", f, "nodes"), "AlreadyExists (409)")
    failed(run(probe, cfg, "get", "nodes", "nope"), "NotFound (404)")

    patched = json.loads(ok(run(probe, cfg, "patch", "nodes", "n1",
                                '{"metadata":{"labels":{"joulie.io/power-profile":"eco"}}}')))
    assert patched["metadata"]["labels"]["joulie.io/power-profile"] == "eco"
    got = json.loads(ok(run(probe, cfg, "get", "nodes", "n1")))
    assert got["metadata"]["resourceVersion"] == patched["metadata"]["resourceVersion"]

    f.write_text(json.dumps(node("n2", pool="b")))
    ok(run(probe, cfg, "create-from", f, "nodes"))
    # Selectors are URL-encoded: '/' and '=' and spaces survive.
    listed = json.loads(ok(run(probe, cfg, "list", "nodes", "-l",
                               "joulie.io/power-profile in (eco, performance)")))
    assert [i["metadata"]["name"] for i in listed["items"]] == ["n1"]
    listed = json.loads(ok(run(probe, cfg, "list", "nodes", "--field-selector", "metadata.name=n2")))
    assert [i["metadata"]["name"] for i in listed["items"]] == ["n2"]
    failed(run(probe, cfg, "list", "nodes", "-l", "!!bad selector"), "(400)")


def test_list_all_pages_through_limit_and_continue(apiserver, probe, tmp_path):
    cfg = apiserver.kubeconfig("admin")
    for i in range(7):
        assert apiserver.api("POST", "/api/v1/nodes", node("p%d" % i, pager="yes"))[0] == 201
    apiserver.reset_counters()
    out = ok(run(probe, cfg, "list-all", "nodes", "-l", "pager=yes", "--limit", "3"))
    pages = [int(l.split()[2]) for l in out.splitlines() if l.startswith("page ")]
    items = [l.split()[1] for l in out.splitlines() if l.startswith("item ")]
    assert pages == [3, 3, 1]
    assert sorted(items) == ["p%d" % i for i in range(7)]
    assert apiserver.count("list", "nodes") == 3


def test_5xx_and_429_are_retried_with_backoff_and_retry_after(apiserver, probe):
    cfg = apiserver.kubeconfig("admin")
    apiserver.reset_counters()
    apiserver.fail_next(2, code=500, verb="list", resource="nodes")
    out = ok(run(probe, cfg, "list", "nodes", "--print-metrics"))
    assert apiserver.count("list", "nodes") == 3
    assert count_metric(out, "list", "500") == 2
    assert count_metric(out, "list", "200") == 1

    apiserver.reset_counters()
    apiserver.fail_next(1, code=429, retry_after=2, verb="list", resource="nodes")
    started = time.monotonic()
    out = ok(run(probe, cfg, "list", "nodes", "--print-metrics", "--initial-backoff", "10ms"))
    assert time.monotonic() - started >= 1.9, "Retry-After: 2 was not honoured"
    assert count_metric(out, "list", "429") == 1
    assert apiserver.count("list", "nodes") == 2


def test_retries_are_bounded(apiserver, probe):
    cfg = apiserver.kubeconfig("admin")
    apiserver.reset_counters()
    apiserver.fail_next(50, code=503, verb="get", resource="nodes")
    failed(run(probe, cfg, "get", "nodes", "x", "--max-attempts", "3", "--initial-backoff", "10ms"),
           "(503)")
    assert apiserver.count("get", "nodes") == 3
    apiserver.clear_faults()


def test_transport_errors_are_counted_and_typed(probe, tmp_path, apiserver):
    cfg = apiserver.kubeconfig("admin", server="https://127.0.0.1:1", path=tmp_path / "dead")
    r = run(probe, cfg, "get", "nodes", "x", "--max-attempts", "2", "--initial-backoff", "10ms",
            "--print-metrics")
    failed(r, "Unavailable", "cannot connect")


def test_watch_events_stop_and_410(apiserver, probe, procs, tmp_path):
    cfg = apiserver.kubeconfig("admin")
    w = procs.start("watch", [probe, "--kubeconfig", cfg, "watch", "nodes", "--count", "2"])
    apiserver.wait_for(lambda: apiserver.open_watches() >= 1, 10, what="the watch to open")
    for name in ("w1", "w2"):
        assert apiserver.api("POST", "/api/v1/nodes", node(name))[0] == 201
    assert w.wait(10) == 0
    events = [json.loads(l) for l in w.output("stdout").splitlines()]
    assert [(e["type"], e["name"]) for e in events] == [("ADDED", "w1"), ("ADDED", "w2")]

    # stop ends a blocked watch promptly.
    r = run(probe, cfg, "watch", "nodes", "--resource-version", events[-1]["resourceVersion"],
            "--stop-after", "300ms")
    out = ok(r)
    stopped_ms = int(re.search(r"stopped after (\d+) ms", out).group(1))
    assert stopped_ms < 1000

    # A resourceVersion older than the kept history: 410 as a typed error.
    old = events[0]["resourceVersion"]
    apiserver.api("POST", "/api/v1/nodes", node("w3"))
    apiserver.compact()
    err = failed(run(probe, cfg, "watch", "nodes", "--resource-version", old, "--count", "5"))
    assert "(410)" in err


def test_cut_watch_is_an_error_not_a_clean_end(apiserver, probe, procs):
    cfg = apiserver.kubeconfig("admin")
    w = procs.start("watch", [probe, "--kubeconfig", cfg, "watch", "nodes"])
    apiserver.wait_for(lambda: apiserver.open_watches() >= 1, 10, what="the watch to open")
    apiserver.cut_watches()
    assert w.wait(10) == 1
    assert "error:" in w.output("stderr")
