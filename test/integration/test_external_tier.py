"""The external-cluster tier: runs only when JOULIE_E2E_KUBECONFIG names a real, disposable API
server, and otherwise reports itself SKIPPED (never silently green).

This module is the tier's own smoke test. The scenarios written against the ``kube`` fixture run
on that cluster too: the operator, CRD and example scenarios (test_operator_*.py, test_crds.py,
test_examples.py) and the kube-client ones -- authentication with the kubeconfig's own
credentials, TLS checks, requests, pagination and watches (test_kube_auth.py,
test_kube_requests.py), the informer's initial sync and convergence under churn
(test_informer.py) and leader handover (test_leader.py). Tests needing the test server's
controls (fault injection, cut watches, compaction, token rotation, request counters, per-user
certificates, stopping the server) stay on ``apiserver`` and do not run there; the bad-input
tests (test_kube_robustness.py) use a rogue server of their own on every tier."""

from harness import wait_for


def test_external_cluster_basic_round_trip(cluster):
    code, version = cluster.api("GET", "/version")
    assert code == 200 and version.get("gitVersion"), version
    files = cluster.apply_crds()
    assert files, "the repository's crds/*.yaml must exist for the external tier"
    name = "node-%s" % cluster.run_id
    obj = {"apiVersion": "joulie.io/v1alpha1", "kind": "NodePowerProfile",
           "metadata": {"name": name, "labels": cluster.test_labels},
           "spec": {"nodeName": cluster.run_id, "profile": "eco"}}
    path = "/apis/joulie.io/v1alpha1/nodepowerprofiles"
    code, created = cluster.api("POST", path, obj)
    assert code == 201, created
    code, bad = cluster.api("POST", path, dict(obj, metadata={"name": name + "-bad"},
                                               spec={"nodeName": "x", "profile": "turbo"}))
    assert code == 422, bad
    code, _ = cluster.api("DELETE", path + "/" + name)
    assert code == 200
    wait_for(lambda: cluster.api("GET", path + "/" + name)[0] == 404, 30,
             what="the NodePowerProfile to be deleted")
