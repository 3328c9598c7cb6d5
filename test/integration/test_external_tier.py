"""The external-cluster tier: runs only when JOULIE_E2E_KUBECONFIG names a real, disposable API
server, and otherwise reports itself SKIPPED (never silently green)."""

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
