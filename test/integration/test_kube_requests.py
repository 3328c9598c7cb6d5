"""Requests, typed errors, retries, pagination, metrics and watches of the Kubernetes transport
(test/support/kube_probe).

Tests on the ``kube`` fixture run on both tiers: on a real cluster every node they create carries
the run's label and name suffix, and lists and watches select by that label. Retries, request
counts, compaction and cut watches need the test server's controls (``apiserver``)."""

import json
import re
import time
from urllib.parse import urlencode

from kube_probe_support import failed, ok, own_kubeconfig

NODES = "/api/v1/nodes"


def node(kube, name, **labels):
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": dict(kube.test_labels, **labels)}}


def create_node(kube, name, **labels):
    code, obj = kube.api("POST", NODES, node(kube, name, **labels))
    assert code == 201, (code, obj)
    return obj


def count_metric(text, verb, code):
    """joulie_kube_requests_total for nodes/verb/code, whatever the label order."""
    for line in text.splitlines():
        if not line.startswith("joulie_kube_requests_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if labels == {"verb": verb, "resource": "nodes", "code": code}:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_create_get_patch_list_and_typed_errors(kube, kube_probe, tmp_path):
    probe = kube_probe.with_args("--kubeconfig", kube.kubeconfig("admin"))
    n1, n2 = kube.unique_name("n1"), kube.unique_name("n2")
    f = tmp_path / "n1.json"
    f.write_text(json.dumps(node(kube, n1, pool="a")))
    created = json.loads(ok(probe("create-from", f, "nodes")))
    assert created["metadata"]["name"] == n1
    failed(probe("create-from", f, "nodes"), "AlreadyExists (409)")
    failed(probe("get", "nodes", kube.unique_name("nope")), "NotFound (404)")

    patched = json.loads(ok(probe("patch", "nodes", n1,
                                  '{"metadata":{"labels":{"joulie.io/power-profile":"eco"}}}')))
    assert patched["metadata"]["labels"]["joulie.io/power-profile"] == "eco"
    # (Not the resourceVersion: a real cluster's controllers may update a new node meanwhile.)
    got = json.loads(ok(probe("get", "nodes", n1)))
    assert got["metadata"]["uid"] == created["metadata"]["uid"]
    assert got["metadata"]["labels"]["joulie.io/power-profile"] == "eco"

    f.write_text(json.dumps(node(kube, n2, pool="b")))
    ok(probe("create-from", f, "nodes"))
    # Selectors are URL-encoded: '/' and '=' and spaces survive.
    listed = json.loads(ok(probe("list", "nodes", "-l",
                                 kube.selector("joulie.io/power-profile in (eco, performance)"))))
    assert [i["metadata"]["name"] for i in listed["items"]] == [n1]
    listed = json.loads(ok(probe("list", "nodes", "--field-selector", "metadata.name=" + n2)))
    assert [i["metadata"]["name"] for i in listed["items"]] == [n2]
    failed(probe("list", "nodes", "-l", "!!bad selector"), "(400)")


def test_list_all_pages_through_limit_and_continue(kube, kube_probe):
    names = [kube.unique_name("p%d" % i) for i in range(7)]
    for name in names:
        create_node(kube, name, pager="yes")
    if not kube.external:
        kube.reset_counters()
    out = ok(kube_probe("--kubeconfig", kube.kubeconfig("admin"), "list-all", "nodes", "-l",
                        kube.selector("pager=yes"), "--limit", "3"))
    pages = [int(l.split()[2]) for l in out.splitlines() if l.startswith("page ")]
    items = [l.split()[1] for l in out.splitlines() if l.startswith("item ")]
    assert pages == [3, 3, 1]
    assert sorted(items) == sorted(names)
    if not kube.external:
        assert kube.count("list", "nodes") == 3


def test_5xx_and_429_are_retried_with_backoff_and_retry_after(apiserver, kube_probe):
    probe = kube_probe.with_args("--kubeconfig", apiserver.kubeconfig("admin"))
    apiserver.reset_counters()
    apiserver.fail_next(2, code=500, verb="list", resource="nodes")
    out = ok(probe("list", "nodes", "--print-metrics"))
    assert apiserver.count("list", "nodes") == 3
    assert count_metric(out, "list", "500") == 2
    assert count_metric(out, "list", "200") == 1

    apiserver.reset_counters()
    apiserver.fail_next(1, code=429, retry_after=2, verb="list", resource="nodes")
    started = time.monotonic()
    out = ok(probe("list", "nodes", "--print-metrics", "--initial-backoff", "10ms"))
    assert time.monotonic() - started >= 1.9, "Retry-After: 2 was not honoured"
    assert count_metric(out, "list", "429") == 1
    assert apiserver.count("list", "nodes") == 2


def test_retries_are_bounded(apiserver, kube_probe):
    apiserver.reset_counters()
    apiserver.fail_next(50, code=503, verb="get", resource="nodes")
    failed(kube_probe("--kubeconfig", apiserver.kubeconfig("admin"), "get", "nodes", "x",
                      "--max-attempts", "3", "--initial-backoff", "10ms"), "(503)")
    assert apiserver.count("get", "nodes") == 3
    apiserver.clear_faults()


def test_transport_errors_are_counted_and_typed(kube, kube_probe, tmp_path):
    cfg = own_kubeconfig(kube, tmp_path / "dead", cluster={"server": "https://127.0.0.1:1"})
    failed(kube_probe("--kubeconfig", cfg, "get", "nodes", "x", "--max-attempts", "2",
                      "--initial-backoff", "10ms", "--print-metrics"),
           "Unavailable", "cannot connect")


def watch_lines(proc):
    return [json.loads(l) for l in proc.output("stdout").splitlines() if l.startswith("{")]


def test_watch_events_and_stop(kube, kube_probe, procs):
    cfg = kube.kubeconfig("admin")
    selector = kube.selector("watched=yes")
    listed = kube.get(NODES + "?" + urlencode({"labelSelector": selector}))
    rv = listed["metadata"]["resourceVersion"]
    # From the list's resourceVersion: no event can be missed, whenever the watch opens.
    w = procs.start("watch", [kube_probe, "--kubeconfig", cfg, "watch", "nodes", "-l", selector,
                              "--resource-version", rv])
    w1, w2 = kube.unique_name("w1"), kube.unique_name("w2")
    for name in (w1, w2):
        create_node(kube, name, watched="yes")

    def added():
        return [e["name"] for e in watch_lines(w) if e["type"] == "ADDED"]
    # Only ADDED: on a real cluster, controllers may modify a new node in between.
    kube.wait_for(lambda: len(added()) >= 2 or not w.alive(), 10, what="two ADDED events")
    assert added() == [w1, w2], w.tail()
    last = watch_lines(w)[-1]["resourceVersion"]
    w.stop()

    # stop ends a blocked watch promptly.
    out = ok(kube_probe("--kubeconfig", cfg, "watch", "nodes", "-l", selector,
                        "--resource-version", last, "--stop-after", "300ms"))
    stopped_ms = int(re.search(r"stopped after (\d+) ms", out).group(1))
    assert stopped_ms < 1000


def test_watch_from_compacted_history_is_410(apiserver, kube_probe):
    old = create_node(apiserver, "c1")["metadata"]["resourceVersion"]
    create_node(apiserver, "c2")
    apiserver.compact()
    err = failed(kube_probe("--kubeconfig", apiserver.kubeconfig("admin"), "watch", "nodes",
                            "--resource-version", old, "--count", "5"))
    assert "(410)" in err


def test_cut_watch_is_an_error_not_a_clean_end(apiserver, kube_probe, procs):
    w = procs.start("watch", [kube_probe, "--kubeconfig", apiserver.kubeconfig("admin"), "watch",
                              "nodes"])
    apiserver.wait_for(lambda: apiserver.open_watches() >= 1, 10, what="the watch to open")
    apiserver.cut_watches()
    assert w.wait(10) == 1
    assert "error:" in w.output("stderr")
