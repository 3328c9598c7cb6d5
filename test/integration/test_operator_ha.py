"""Leader election for ``joulie operator --leader-elect`` (docs/design.md#kubernetes-access,
#operator): only the leader writes, a standby is ready, a leader that stops hands over, and a leader
that cannot renew exits."""

import re
import signal

import pytest

from harness import MANIFESTS_NAMESPACE, wait_for
from operator_support import create_node, metrics_port, passes, scrape, start_operator, wait_labels


# The manifests' Role allows the Lease only in the operator's own namespace (joulie-system).
LEASE_ENV = {"POD_NAMESPACE": MANIFESTS_NAMESPACE}


@pytest.fixture
def crds(apiserver):
    apiserver.apply_crds()
    apiserver.ensure_namespace(MANIFESTS_NAMESPACE)
    return apiserver


def gauge(port, name):
    code, text = scrape(port)
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def test_only_the_leader_writes_and_the_standby_takes_over(crds, procs, joulie_bin):
    kube = crds
    kube.add_user("operator-b", "tok-operator-b", kube.users["operator"])  # a 2nd replica's SA
    for n in ("n1", "n2"):
        create_node(kube, n)
    a = start_operator(procs, joulie_bin, kube, "--leader-elect", "--interval", "1s", name="op-a",
                       env=LEASE_ENV)
    a.wait_for_log(r"became the leader", 20)
    b = start_operator(procs, joulie_bin, kube, "--leader-elect", "--interval", "1s",
                       user="operator-b", name="op-b", env=LEASE_ENV)
    port_a, port_b = metrics_port(a), metrics_port(b)
    wait_labels(kube, {"n1": "performance", "n2": "eco"})

    # The standby is ready (caches synced) but not leading, and runs no pass at all.
    wait_for(lambda: scrape(port_b, "/readyz")[0] == 200, 15, what="standby ready")
    assert gauge(port_b, "joulie_operator_is_leader") == 0
    assert gauge(port_a, "joulie_operator_is_leader") == 1
    wait_for(lambda: passes(a) >= 3, 15, what="leader passes")
    assert passes(b) == 0
    holder = kube.get("/apis/coordination.k8s.io/v1/namespaces/%s/leases/joulie-operator"
                      % MANIFESTS_NAMESPACE)
    identity_a = a.wait_for_log(r"leader election enabled .*identity=(\S+)").group(1)
    assert holder["spec"]["holderIdentity"] == identity_a

    # The leader stops cleanly (releases the lease): the standby takes over and writes.
    assert a.stop(signal.SIGTERM, timeout=15) == 0
    b.wait_for_log(r"became the leader", 20)
    create_node(kube, "n3")
    wait_labels(kube, {"n1": "performance", "n2": "performance", "n3": "eco"}, timeout=15)
    assert passes(b) >= 1
    wait_for(lambda: gauge(port_b, "joulie_operator_is_leader") == 1, 10, what="b leads")


@pytest.mark.slow
def test_a_leader_that_cannot_renew_stops_and_exits_nonzero(crds, procs, joulie_bin):
    kube = crds
    create_node(kube, "n1")
    a = start_operator(procs, joulie_bin, kube, "--leader-elect", "--interval", "1s", env=LEASE_ENV)
    a.wait_for_log(r"became the leader", 20)
    wait_labels(kube, {"n1": "performance"})
    kube.fail_next(100000, code=500, resource="leases")
    a.wait_for_log(r"lost leadership", 30)
    assert a.wait(15) == 1
    kube.clear_faults()
