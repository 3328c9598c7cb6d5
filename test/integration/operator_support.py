"""Helpers for the operator integration tests (test_operator_*.py): objects written through the
API (so the scenarios also run on a real cluster), starting ``joulie operator``, reading its
state back. Every wait is bounded (harness.wait_for)."""

import re
import time
import urllib.request

from harness import wait_for

PROFILE = "joulie.io/power-profile"
DRAINING_SINCE = "joulie.io/draining-since"
NPP = "/apis/joulie.io/v1alpha1/nodepowerprofiles"


def labels_of(kube, extra=None):
    out = dict(getattr(kube, "test_labels", {}) or {})
    out.update(extra or {})
    return out


def create_node(kube, name, labels=None, managed=True, unschedulable=False):
    lab = labels_of(kube, {"joulie.io/managed": "true"} if managed else {})
    lab.update(labels or {})
    body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": lab},
            "spec": {"unschedulable": unschedulable}}
    code, obj = kube.api("POST", "/api/v1/nodes", body)
    assert code == 201, (code, obj)
    return obj


def patch_node(kube, name, patch):
    code, obj = kube.api("PATCH", "/api/v1/nodes/" + name, patch)
    assert code == 200, (code, obj)
    return obj


def delete_node(kube, name):
    code, obj = kube.api("DELETE", "/api/v1/nodes/" + name)
    assert code in (200, 202), (code, obj)


def create_pod(kube, name, node=None, profile=None, ns="default"):
    spec = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    if profile:
        spec["nodeSelector"] = {PROFILE: profile}
    body = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels_of(kube)},
            "spec": spec, "status": {"phase": "Running" if node else "Pending"}}
    code, obj = kube.api("POST", "/api/v1/namespaces/%s/pods" % ns, body)
    assert code == 201, (code, obj)
    return obj


def delete_pod(kube, name, ns="default"):
    code, obj = kube.api("DELETE", "/api/v1/namespaces/%s/pods/%s?gracePeriodSeconds=0" % (ns, name))
    assert code in (200, 202), (code, obj)


def node(kube, name):
    code, obj = kube.api("GET", "/api/v1/nodes/" + name)
    return obj if code == 200 else None


def label(kube, name):
    n = node(kube, name)
    return ((n or {}).get("metadata", {}).get("labels") or {}).get(PROFILE)


def annotation(kube, name):
    n = node(kube, name)
    return ((n or {}).get("metadata", {}).get("annotations") or {}).get(DRAINING_SINCE)


def npps(kube):
    """{object name: object} of every NodePowerProfile."""
    code, obj = kube.api("GET", NPP)
    assert code == 200, (code, obj)
    return {o["metadata"]["name"]: o for o in obj.get("items") or []}


def npp(kube, name):
    code, obj = kube.api("GET", NPP + "/" + name)
    return obj if code == 200 else None


def events(kube, reason=None, node_name=None):
    code, obj = kube.api("GET", "/api/v1/events")
    assert code == 200, (code, obj)
    out = []
    for e in obj.get("items") or []:
        if reason and e.get("reason") != reason:
            continue
        if node_name and (e.get("involvedObject") or {}).get("name") != node_name:
            continue
        out.append(e)
    return out


def start_operator(procs, joulie_bin, kube, *args, user="operator", name="operator", env=None):
    """Start ``joulie operator`` (metrics on a free port) and return the Proc."""
    argv = [joulie_bin, "operator", "--kubeconfig", kube.kubeconfig(user),
            "--metrics-addr", "127.0.0.1:0"] + [str(a) for a in args]
    full_env = {"POD_NAMESPACE": "default"}
    full_env.update(env or {})
    return procs.start(name, argv, env=full_env)


def run_once(procs, joulie_bin, kube, *args, user="operator", timeout=60):
    """``joulie operator --once ...``: (exit code, stdout, stderr)."""
    argv = [joulie_bin, "operator", "--once", "--kubeconfig", kube.kubeconfig(user)]
    argv += [str(a) for a in args]
    p = procs.start("operator-once", argv, env={"POD_NAMESPACE": "default"})
    code = p.wait(timeout)
    return code, p.output("stdout"), p.output("stderr")


def metrics_port(proc, timeout=30):
    return int(proc.wait_for_log(r"serving /metrics.* port=(\d+)", timeout).group(1))


def scrape(port, path="/metrics"):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def passes(proc):
    """Number of completed reconcile passes logged so far."""
    return len(re.findall(r"reconcile pass", proc.output("stderr")))


def wait_passes(proc, n, timeout=30):
    return wait_for(lambda: passes(proc) >= n, timeout, what="%d reconcile passes of %s" % (n, proc.name))


def wait_labels(kube, expected, timeout=15):
    """Wait until every node in ``expected`` (name -> label value or None) carries it."""
    def check():
        got = {n: label(kube, n) for n in expected}
        return got == expected and got
    return wait_for(check, timeout, 0.05, "labels %s" % expected)


def profile_of(kube, node_name):
    o = npp(kube, "node-" + node_name)
    return o and o["spec"]["profile"]


def now():
    return time.monotonic()
