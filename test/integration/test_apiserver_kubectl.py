"""The test API server seen through kubectl, the independent client: if kubectl is happy with it,
Joulie's client cannot be relying on a server quirk. Each test gets a fresh HTTPS server."""

import json
import subprocess

import pytest

from apiserver_testdata import NOTE_CRD, PROFILE_CRD
from harness import require_kubectl, wait_for

pytestmark = pytest.mark.usefixtures("needs_kubectl")


@pytest.fixture
def needs_kubectl():
    require_kubectl()


def profile_yaml(name, node, mode="eco", watts=120, extra=""):
    return ("apiVersion: kapitest.joulie.io/v1alpha1\nkind: TestProfile\nmetadata:\n  name: %s\n"
            "spec:\n  nodeName: %s\n  profile: %s\n  cpu: {packagePowerCapWatts: %s}\n%s"
            % (name, node, mode, watts, extra))


def apply(srv, text, check=True, user="admin"):
    return srv.kubectl("apply", "-f", "-", input=text, check=check, user=user)


def test_crd_apply_get_label_annotate_patch_delete(apiserver):
    out = apply(apiserver, PROFILE_CRD).stdout
    assert "testprofiles.kapitest.joulie.io created" in out
    assert "unchanged" in apply(apiserver, PROFILE_CRD).stdout

    apply(apiserver, profile_yaml("node-a", "a"))
    table = apiserver.kubectl("get", "tpx").stdout.splitlines()
    assert table[0].split() == ["NAME", "NODE", "PROFILE", "CPU-WATTS", "APPLIED", "AGE"]
    assert table[1].split()[:4] == ["node-a", "a", "eco", "120"]

    # Re-applying a changed spec is a merge patch; generation follows spec changes only.
    assert "configured" in apply(apiserver, profile_yaml("node-a", "a", "performance")).stdout
    apiserver.kubectl("label", "testprofile", "node-a", "team=power")
    apiserver.kubectl("annotate", "testprofiles.kapitest.joulie.io", "node-a", "note=hello")
    apiserver.kubectl("patch", "tpx", "node-a", "--type=merge",
                      "-p", '{"spec":{"cpu":{"packagePowerCapWatts":99}}}')
    obj = json.loads(apiserver.kubectl("get", "tpx", "node-a", "-o", "json").stdout)
    assert obj["spec"] == {"nodeName": "a", "profile": "performance",
                           "cpu": {"packagePowerCapWatts": 99}}
    assert obj["metadata"]["labels"] == {"team": "power"}
    assert obj["metadata"]["annotations"]["note"] == "hello"
    assert obj["metadata"]["generation"] == 3
    assert apiserver.kubectl("get", "tpx", "-l", "team=power", "-o", "name").stdout.strip() == \
        "testprofile.kapitest.joulie.io/node-a"
    assert apiserver.kubectl("get", "tpx", "-l", "team!=power", "-o", "name").stdout.strip() == ""
    assert apiserver.kubectl("get", "kapitest", "-o", "name").stdout.strip() == \
        "testprofile.kapitest.joulie.io/node-a", "category lookup"

    # The status subresource feeds the Applied printer column.
    apiserver.kubectl("patch", "tpx", "node-a", "--subresource=status", "--type=merge", "-p",
                      '{"status":{"conditions":[{"type":"Applied","status":"True"}]}}')
    row = apiserver.kubectl("get", "tpx", "node-a", "--no-headers").stdout.split()
    assert row[:5] == ["node-a", "a", "performance", "99", "True"]

    assert 'deleted' in apiserver.kubectl("delete", "tpx", "node-a").stdout
    assert apiserver.kubectl("get", "tpx", "-o", "name").stdout.strip() == ""


def test_schema_violations_are_rejected_with_422(apiserver):
    apply(apiserver, PROFILE_CRD)
    cases = [
        (profile_yaml("bad-enum", "a", mode="turbo"), 'spec.profile: Unsupported value: "turbo"'),
        (profile_yaml("bad-min", "a", watts=0), "spec.cpu.packagePowerCapWatts"),
        ("apiVersion: kapitest.joulie.io/v1alpha1\nkind: TestProfile\nmetadata: {name: no-node}\n"
         "spec: {profile: eco}\n", "spec.nodeName: Required value"),
        (profile_yaml("bad-type", "a", watts='"lots"'), "must be of type number"),
    ]
    for text, message in cases:
        r = apply(apiserver, text, check=False)
        assert r.returncode != 0, text
        assert "is invalid" in r.stderr and message in r.stderr, r.stderr
    assert apiserver.kubectl("get", "tpx", "-o", "name").stdout.strip() == ""


def test_unknown_fields_strict_with_kubectl_and_preserved_where_declared(apiserver):
    apply(apiserver, PROFILE_CRD)
    r = apply(apiserver, profile_yaml("p", "a", extra="  bogus: 1\n"), check=False)
    assert r.returncode != 0 and 'unknown field "spec.bogus"' in r.stderr, r.stderr
    apply(apiserver, profile_yaml("p", "a", extra="  extra: {anything: [1, 2]}\n"))
    obj = json.loads(apiserver.kubectl("get", "tpx", "p", "-o", "json").stdout)
    assert obj["spec"]["extra"] == {"anything": [1, 2]}


def test_get_watch_sees_a_change(apiserver, procs):
    apply(apiserver, PROFILE_CRD)
    apply(apiserver, profile_yaml("node-w", "w"))
    watcher = procs.start("kubectl-watch", [require_kubectl(), "--kubeconfig", apiserver.kubeconfig(),
                                            "--cache-dir", apiserver.kube_cache, "get", "tpx", "-w",
                                            "--no-headers"])
    watcher.wait_for_log(r"^node-w\s+w\s+eco\b", stream="stdout")
    wait_for(lambda: apiserver.open_watches() == 1, 10, what="kubectl's watch to open")
    apiserver.kubectl("patch", "tpx", "node-w", "--type=merge", "-p",
                      '{"spec":{"profile":"performance"}}')
    watcher.wait_for_log(r"^node-w\s+w\s+performance\b", stream="stdout")
    apiserver.kubectl("delete", "tpx", "node-w")
    wait_for(lambda: watcher.output("stdout").count("node-w") >= 3, 10,
             what="kubectl -w to print the deletion")


def test_builtin_nodes_pods_namespaces(apiserver):
    apply(apiserver, """\
apiVersion: v1
kind: Node
metadata: {name: worker-1, labels: {joulie.io/managed: "true"}}
status:
  conditions: [{type: Ready, status: "True"}]
---
apiVersion: v1
kind: Namespace
metadata: {name: work}
---
apiVersion: v1
kind: Pod
metadata: {name: p1, namespace: work}
spec:
  nodeName: worker-1
  containers: [{name: c, image: busybox}]
""")
    nodes = apiserver.kubectl("get", "nodes", "--no-headers").stdout.split()
    assert nodes[:2] == ["worker-1", "Ready"]
    apiserver.kubectl("label", "node", "worker-1", "joulie.io/power-profile=eco")
    apiserver.kubectl("annotate", "node", "worker-1", "joulie.io/draining-since=2024-01-01T00:00:00Z")
    got = apiserver.kubectl("get", "no", "-L", "joulie.io/power-profile", "--no-headers").stdout
    assert got.split()[-1] == "eco"
    pods = apiserver.kubectl("get", "pods", "-A", "-o", "wide", "--no-headers").stdout.split()
    assert pods[:4] == ["work", "p1", "0/1", "Pending"] and "worker-1" in pods
    # Re-applying a pod with a changed image is a strategic merge patch keyed by container name.
    apply(apiserver, """\
apiVersion: v1
kind: Pod
metadata: {name: p1, namespace: work}
spec:
  nodeName: worker-1
  containers: [{name: c, image: busybox:2}]
""")
    pod = json.loads(apiserver.kubectl("get", "pod", "-n", "work", "p1", "-o", "json").stdout)
    assert [c["image"] for c in pod["spec"]["containers"]] == ["busybox:2"]
    # Deleting the namespace deletes what is in it.
    apiserver.kubectl("delete", "namespace", "work")
    assert apiserver.kubectl("get", "pods", "-A", "-o", "name").stdout.strip() == ""


def test_namespaced_crd_and_field_selectors(apiserver):
    apply(apiserver, NOTE_CRD)
    apply(apiserver, "apiVersion: kapitest.joulie.io/v1\nkind: Note\nmetadata: {name: n1}\n"
                     "spec: {text: hi, count: 3}\n")
    got = apiserver.kubectl("get", "notes", "-n", "default", "--no-headers").stdout.split()
    assert got[0] == "n1"
    r = apply(apiserver, "apiVersion: kapitest.joulie.io/v1\nkind: Note\nmetadata: {name: n2}\n"
                         "spec: {count: 11}\n", check=False)
    assert r.returncode != 0 and "spec.count" in r.stderr
    apply(apiserver, PROFILE_CRD)
    apply(apiserver, profile_yaml("p-a", "a"))
    apply(apiserver, profile_yaml("p-b", "b"))
    names = apiserver.kubectl("get", "tpx", "--field-selector", "spec.nodeName=b", "-o", "name")
    assert names.stdout.split() == ["testprofile.kapitest.joulie.io/p-b"]


def test_auth_through_kubectl(apiserver):
    apply(apiserver, PROFILE_CRD)
    apply(apiserver, profile_yaml("node-a", "a"))
    # Client certificate (CN = user), and a user with narrow rules.
    apiserver.add_user("reader", "reader-token", [{"verbs": ["get", "list", "watch"],
                                                   "resources": ["kapitest.joulie.io/testprofiles"]}])
    cfg = apiserver.kubeconfig("reader", auth="cert")
    exe = require_kubectl()
    ok = subprocess.run([exe, "--kubeconfig", str(cfg), "--cache-dir", str(apiserver.kube_cache),
                         "get", "tpx", "-o", "name"], capture_output=True, text=True)
    assert ok.returncode == 0 and "node-a" in ok.stdout, ok.stderr
    denied = apiserver.kubectl("delete", "tpx", "node-a", user="reader", check=False)
    assert denied.returncode != 0 and "Forbidden" in denied.stderr
    bad = apiserver.kubeconfig("admin", token="not-a-token")
    r = subprocess.run([exe, "--kubeconfig", str(bad), "--cache-dir", str(apiserver.kube_cache),
                        "get", "nodes"], capture_output=True, text=True)
    assert r.returncode != 0 and "Unauthorized" in r.stderr, r.stderr


def test_apply_crds_from_repository(apiserver):
    files = apiserver.apply_crds()
    if not files:
        pytest.skip("no crds/*.yaml in the repository yet")
    resources = apiserver.kubectl("api-resources", "--api-group=joulie.io", "-o", "name").stdout
    assert "nodepowerprofiles.joulie.io" in resources
