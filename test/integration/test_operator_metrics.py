"""``joulie operator`` observability (docs/design.md#operator-observability): /metrics valid for
promtool, the operator families with their labels, probes, and per-node series removed when a node
leaves."""

import os
import subprocess

import pytest

from harness import wait_for
from operator_support import (create_node, metrics_port, patch_node, scrape, start_operator,
                              wait_labels, wait_passes)

PROMTOOL = "/usr/bin/promtool"


@pytest.fixture
def crds(kube):
    kube.apply_crds()
    return kube


def test_metrics_are_valid_and_follow_the_managed_set(crds, procs, joulie_bin):
    kube = crds
    for n in ("n1", "n2", "n3"):
        create_node(kube, n)
    op = start_operator(procs, joulie_bin, kube, "--interval", "1s")
    port = metrics_port(op)
    wait_labels(kube, {"n1": "performance", "n2": "performance", "n3": "eco"})
    wait_passes(op, 2)
    assert scrape(port, "/healthz")[0] == 200
    assert scrape(port, "/readyz")[0] == 200

    code, text = scrape(port)
    assert code == 200
    for needle in ('joulie_operator_node_state{node="n1",state="ActivePerformance"} 1',
                   'joulie_operator_node_state{node="n3",state="ActivePerformance"} 0',
                   'joulie_operator_node_state{node="n3",state="ActiveEco"} 1',
                   'joulie_operator_node_profile_label{node="n3",profile="eco"} 1',
                   'joulie_operator_planned_nodes{profile="performance"} 2',
                   'joulie_operator_is_leader 1',
                   'joulie_operator_reconcile_errors_total 0',
                   'joulie_operator_reconcile_duration_seconds_count',
                   'joulie_kube_requests_total{',
                   'joulie_kube_watch_restarts_total',
                   'process_resident_memory_bytes', 'process_cpu_seconds_total',
                   'process_start_time_seconds'):
        assert needle in text, needle
    if os.path.exists(PROMTOOL):
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stdout + r.stderr

    patch_node(kube, "n3", {"metadata": {"labels": {"joulie.io/managed": "false"}}})
    wait_for(lambda: 'node="n3"' not in scrape(port)[1], 10, what="n3's series removed")
    assert 'node="n1"' in scrape(port)[1]
