"""The test API server through raw HTTP: object semantics, selectors, pagination, watches,
authentication/authorization and the test controls. No kubectl needed."""

import socket
import time

import pytest

import apiserver_testdata as td
from apiserver_testdata import PROFILES, profile

NODES = "/api/v1/nodes"


@pytest.fixture
def srv(apiserver):
    td.install(apiserver)
    return apiserver


def node(name, labels=None, unschedulable=None):
    obj = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}}}
    if unschedulable is not None:
        obj["spec"] = {"unschedulable": unschedulable}
    return obj


def pod(name, node_name, ns="default", labels=None):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": {"nodeName": node_name, "containers": [{"name": "c", "image": "x"}]}}


def create(srv, path, obj, user="admin"):
    code, body = srv.api("POST", path, obj, user=user)
    assert code == 201, body
    return body


# ------------------------------------------------------------------------- object semantics
def test_create_conflicts_and_stale_update(srv):
    created = create(srv, PROFILES, profile("p1", "a"))
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"] and meta["generation"] == 1
    code, body = srv.api("POST", PROFILES, profile("p1", "a"))
    assert code == 409 and body["reason"] == "AlreadyExists" and body["kind"] == "Status"

    fresh = srv.get(PROFILES + "/p1")
    fresh["spec"]["profile"] = "performance"
    code, updated = srv.api("PUT", PROFILES + "/p1", fresh)
    assert code == 200 and updated["metadata"]["generation"] == 2
    assert int(updated["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    # Writing again with the old resourceVersion is refused: someone else changed it.
    code, body = srv.api("PUT", PROFILES + "/p1", fresh)
    assert code == 409 and body["reason"] == "Conflict" and "modified" in body["message"]
    code, body = srv.api("GET", PROFILES + "/missing")
    assert code == 404 and body["reason"] == "NotFound"
    assert body["message"] == 'testprofiles.kapitest.joulie.io "missing" not found'


def test_generation_and_status_subresource(srv):
    create(srv, PROFILES, profile("p1", "a", watts=100))
    # Labels are metadata: no generation bump.
    code, obj = srv.api("PATCH", PROFILES + "/p1", {"metadata": {"labels": {"x": "y"}}})
    assert code == 200 and obj["metadata"]["generation"] == 1
    # Status written on the main resource is ignored when the subresource exists.
    code, obj = srv.api("PATCH", PROFILES + "/p1", {"status": {"backend": "rapl"}})
    assert code == 200 and "status" not in obj
    # On /status only status changes; spec changes there are ignored.
    code, obj = srv.api("PATCH", PROFILES + "/p1/status",
                        {"spec": {"profile": "performance"}, "status": {"backend": "rapl",
                                                                        "observedGeneration": 1}})
    assert code == 200, obj
    assert obj["status"] == {"backend": "rapl", "observedGeneration": 1}
    assert obj["spec"]["profile"] == "eco" and obj["metadata"]["generation"] == 1
    code, obj = srv.api("PATCH", PROFILES + "/p1", {"spec": {"cpu": {"packagePowerCapWatts": 50}}})
    assert obj["metadata"]["generation"] == 2 and obj["status"]["backend"] == "rapl"
    # A no-op patch does not create a new version.
    rv = obj["metadata"]["resourceVersion"]
    code, obj = srv.api("PATCH", PROFILES + "/p1", {"spec": {"cpu": {"packagePowerCapWatts": 50}}})
    assert obj["metadata"]["resourceVersion"] == rv
    # Status is validated too.
    code, body = srv.api("PATCH", PROFILES + "/p1/status", {"status": {"backend": "magic"}})
    assert code == 422 and "status.backend" in body["message"]
    # Merge patch null removes a key; a patch carrying a stale resourceVersion is a conflict.
    code, obj = srv.api("PATCH", PROFILES + "/p1", {"metadata": {"labels": {"x": None}}})
    assert code == 200 and not obj["metadata"].get("labels")
    code, body = srv.api("PATCH", PROFILES + "/p1", {"metadata": {"resourceVersion": "1"}})
    assert code == 409
    code, body = srv.api("PATCH", PROFILES + "/p1", {"spec": {}},
                         content_type="application/strategic-merge-patch+json")
    assert code == 415
    code, obj = srv.api("PATCH", PROFILES + "/p1", [{"op": "replace", "path": "/spec/profile",
                                                     "value": "performance"}],
                        content_type="application/json-patch+json")
    assert code == 200 and obj["spec"]["profile"] == "performance"


def test_node_and_pod_status_subresource(srv):
    create(srv, NODES, node("n1"))
    code, obj = srv.api("PATCH", NODES + "/n1/status",
                        {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    assert code == 200 and obj["status"]["conditions"][0]["status"] == "True"
    p = pod("p1", "n1")
    p["status"] = {"phase": "Running"}
    created = create(srv, "/api/v1/namespaces/default/pods", p)
    assert created["status"]["phase"] == "Pending", "pod status is reset on create, as on a real server"
    code, obj = srv.api("PATCH", "/api/v1/namespaces/default/pods/p1/status",
                        {"status": {"phase": "Running"}})
    assert code == 200 and obj["status"]["phase"] == "Running"
    code, body = srv.api("POST", "/api/v1/namespaces/nowhere/pods", pod("p2", "n1", ns="nowhere"))
    assert code == 404 and 'namespaces "nowhere" not found' in body["message"]


def test_finalizers_delay_deletion(srv):
    obj = profile("p1", "a")
    obj["metadata"]["finalizers"] = ["joulie.io/cleanup"]
    create(srv, PROFILES, obj)
    code, body = srv.api("DELETE", PROFILES + "/p1")
    assert code == 200 and body["metadata"]["deletionTimestamp"]
    assert srv.get(PROFILES + "/p1")["metadata"]["deletionTimestamp"]
    code, _ = srv.api("PATCH", PROFILES + "/p1", {"metadata": {"finalizers": None}})
    assert code == 200
    assert srv.api("GET", PROFILES + "/p1")[0] == 404


def test_schema_validation_messages(srv):
    bad = profile("p1", "a", mode="turbo", watts=0)
    del bad["spec"]["nodeName"]
    code, body = srv.api("POST", PROFILES, bad)
    assert code == 422 and body["reason"] == "Invalid"
    fields = sorted(c["field"] for c in body["details"]["causes"])
    assert fields == ["spec.cpu.packagePowerCapWatts", "spec.nodeName", "spec.profile"]
    assert 'Unsupported value: "turbo": supported values: "performance", "eco"' in body["message"]
    # Unknown fields are pruned (default field validation) with a warning header.
    obj = profile("p2", "a")
    obj["spec"]["bogus"] = True
    r = srv.request("POST", PROFILES, obj)
    assert r.code == 201 and "bogus" not in r.json["spec"]
    assert "spec.bogus" in r.headers.get("warning", "")


# ------------------------------------------------------------------------ selectors and lists
def test_label_and_field_selectors(srv):
    for i in range(6):
        create(srv, NODES, node("n%d" % i, {"tier": ["a", "b", "c"][i % 3], "idx": str(i)},
                                unschedulable=(i == 5)))
        create(srv, "/api/v1/namespaces/default/pods", pod("p%d" % i, "n%d" % (i % 2)))

    def names(path, **q):
        code, body = srv.api("GET", path, query=q)
        assert code == 200, body
        return sorted(o["metadata"]["name"] for o in body["items"])

    assert names(NODES, labelSelector="tier=a") == ["n0", "n3"]
    assert names(NODES, labelSelector="tier==a") == ["n0", "n3"]
    assert names(NODES, labelSelector="tier!=a") == ["n1", "n2", "n4", "n5"]
    assert names(NODES, labelSelector="tier in (a,b),idx notin (0)") == ["n1", "n3", "n4"]
    assert names(NODES, labelSelector="tier,!missing,idx>3") == ["n4", "n5"]
    assert names(NODES, labelSelector="!tier") == []
    assert names(NODES, fieldSelector="metadata.name=n2") == ["n2"]
    assert names(NODES, fieldSelector="spec.unschedulable=true") == ["n5"]
    assert names("/api/v1/pods", fieldSelector="spec.nodeName=n1") == ["p1", "p3", "p5"]
    assert names("/api/v1/pods", fieldSelector="spec.nodeName!=n1,status.phase=Pending") == \
        ["p0", "p2", "p4"]
    assert names("/api/v1/namespaces/default/pods", fieldSelector="metadata.namespace=default") == \
        ["p%d" % i for i in range(6)]
    code, body = srv.api("GET", NODES, query={"fieldSelector": "spec.nope=1"})
    assert code == 400 and "field label not supported: spec.nope" in body["message"]
    code, body = srv.api("GET", NODES, query={"labelSelector": "a in (b"})
    assert code == 400

    create(srv, PROFILES, profile("pa", "a"))
    create(srv, PROFILES, profile("pb", "b"))
    assert names(PROFILES, fieldSelector="spec.nodeName=b") == ["pb"]


def test_refuse_selectable_fields_like_an_old_server(apiserver_factory):
    old = apiserver_factory(refuse_selectable_fields=True)
    td.install(old)
    code, body = old.api("GET", PROFILES, query={"fieldSelector": "spec.nodeName=a"})
    assert code == 400 and "field label not supported: spec.nodeName" in body["message"]
    assert old.api("GET", PROFILES, query={"fieldSelector": "metadata.name=x"})[0] == 200


def test_pagination_returns_every_item_once(srv):
    expected = set()
    for ns in ("default", "kube-system"):
        for i in range(11):
            create(srv, "/api/v1/namespaces/%s/pods" % ns, pod("p%02d" % i, "n", ns=ns))
            expected.add((ns, "p%02d" % i))
    seen, token, pages = [], None, 0
    while True:
        q = {"limit": 5}
        if token:
            q["continue"] = token
        code, body = srv.api("GET", "/api/v1/pods", query=q)
        assert code == 200 and len(body["items"]) <= 5
        pages += 1
        seen += [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in body["items"]]
        token = body["metadata"].get("continue")
        if not token:
            break
        assert body["metadata"]["remainingItemCount"] == 22 - len(seen)
    assert pages == 5 and len(seen) == 22 and set(seen) == expected
    # Namespace-scoped and selector-filtered pagination.
    code, body = srv.api("GET", "/api/v1/namespaces/kube-system/pods", query={"limit": 10})
    assert len(body["items"]) == 10 and body["metadata"]["continue"]
    code, body = srv.api("GET", "/api/v1/namespaces/kube-system/pods",
                         query={"limit": 10, "continue": body["metadata"]["continue"]})
    assert [o["metadata"]["name"] for o in body["items"]] == ["p10"] and "continue" not in body["metadata"]
    assert srv.api("GET", "/api/v1/pods", query={"continue": "garbage!"})[0] == 400
    assert srv.api("GET", "/api/v1/pods", query={"resourceVersion": "0"})[0] == 200


# ----------------------------------------------------------------------------------- watches
def test_watch_replays_from_resource_version_and_follows_selectors(srv):
    code, lst = srv.api("GET", NODES)
    rv = lst["metadata"]["resourceVersion"]
    create(srv, NODES, node("n1", {"pool": "x"}))
    with srv.watch(NODES, resourceVersion=rv, labelSelector="pool=x") as w:
        ev = w.next()
        assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "n1"
        srv.api("PATCH", NODES + "/n1", {"metadata": {"labels": {"pool": "y"}}})
        ev = w.next()
        assert ev["type"] == "DELETED" and ev["object"]["metadata"]["labels"] == {"pool": "x"}, \
            "an object that stops matching is deleted for the watcher"
        srv.api("PATCH", NODES + "/n1", {"metadata": {"labels": {"pool": "x"}}})
        assert w.next()["type"] == "ADDED"
        srv.api("PATCH", NODES + "/n1", {"metadata": {"annotations": {"a": "b"}}})
        assert w.next()["type"] == "MODIFIED"
        srv.api("DELETE", NODES + "/n1")
        ev = w.next()
        assert ev["type"] == "DELETED"
        assert int(ev["object"]["metadata"]["resourceVersion"]) > int(rv)
    # Without a resourceVersion: synthetic ADDED for what exists, then live events.
    create(srv, NODES, node("n2"))
    with srv.watch(NODES, fieldSelector="metadata.name=n2") as w:
        assert w.next()["type"] == "ADDED"
        srv.api("PATCH", NODES + "/n2", {"metadata": {"labels": {"z": "1"}}})
        assert w.next()["type"] == "MODIFIED"


def test_watch_bookmarks_and_timeout(apiserver_factory):
    srv = apiserver_factory(bookmark_interval=0.2)
    with srv.watch(NODES, allowWatchBookmarks="true", timeoutSeconds=2) as w:
        ev = w.until(lambda e: e["type"] == "BOOKMARK", 5, "a bookmark")
        assert set(ev["object"]) == {"kind", "apiVersion", "metadata"}
        assert ev["object"]["metadata"]["resourceVersion"]
        start = time.monotonic()
        while w.next(5) is not None:
            pass
        assert w.ended and time.monotonic() - start < 4, "timeoutSeconds must end the stream"


def test_watch_from_compacted_version_gets_410(srv):
    code, lst = srv.api("GET", NODES)
    old_rv = lst["metadata"]["resourceVersion"]
    create(srv, NODES, node("n1"))
    srv.compact()
    with srv.watch(NODES, resourceVersion=old_rv) as w:
        ev = w.next()
        assert ev["type"] == "ERROR" and ev["object"]["code"] == 410
        assert ev["object"]["reason"] == "Expired" and ev["object"]["kind"] == "Status"
        assert w.next() is None and w.ended
    # A watch from the current version is fine.
    code, lst = srv.api("GET", NODES)
    with srv.watch(NODES, resourceVersion=lst["metadata"]["resourceVersion"]) as w:
        create(srv, NODES, node("n2"))
        assert w.next()["type"] == "ADDED"


def test_small_history_expires_old_versions(apiserver_factory):
    srv = apiserver_factory(history=3)
    rv = srv.api("GET", NODES)[1]["metadata"]["resourceVersion"]
    for i in range(5):
        create(srv, NODES, node("n%d" % i))
    with srv.watch(NODES, resourceVersion=rv) as w:
        assert w.next()["type"] == "ERROR"


def test_cut_watches_drops_streams(srv):
    with srv.watch(NODES, resourceVersion="0") as w:
        srv.wait_for(lambda: srv.open_watches() == 1, what="the watch to be registered")
        assert srv.cut_watches() == 1
        assert w.next(5) is None and w.ended
    srv.wait_for(lambda: srv.open_watches() == 0, what="the cut watch to be gone")


# ------------------------------------------------------------------------- authn and authz
def test_authentication_and_authorization(srv):
    assert srv.api("GET", NODES, user=None)[0] == 401
    code, body = srv.api("GET", NODES, user="token:wrong")
    assert code == 401 and body["reason"] == "Unauthorized"
    code, body = srv.api("GET", NODES, user="nobody")
    assert code == 403 and body["reason"] == "Forbidden" and 'User "nobody"' in body["message"]
    srv.add_user("statuswriter", "sw-token", [
        {"verbs": ["get", "list", "watch"], "resources": ["testprofiles"]},
        {"verbs": ["patch"], "resources": ["testprofiles/status"]}])
    create(srv, PROFILES, profile("p1", "a"))
    assert srv.api("GET", PROFILES + "/p1", user="statuswriter")[0] == 200
    assert srv.api("PATCH", PROFILES + "/p1/status", {"status": {"backend": "none"}},
                   user="statuswriter")[0] == 200
    code, body = srv.api("PATCH", PROFILES + "/p1", {"spec": {"profile": "performance"}},
                         user="statuswriter")
    assert code == 403 and 'cannot patch resource "testprofiles"' in body["message"]
    assert srv.api("DELETE", PROFILES + "/p1", user="statuswriter")[0] == 403
    # Client certificates: CN is the user name.
    assert srv.request_with_cert("GET", NODES, "admin").code == 200
    assert srv.request_with_cert("GET", NODES, "nobody").code == 403
    # Test controls on the main port are for admin only.
    assert srv.api("GET", "/_test/counters", user="viewer")[0] == 403
    assert srv.api("GET", "/_test/counters", user="admin")[0] == 200


def test_token_rotation(srv):
    old = srv.tokens["viewer"]
    assert srv.api("GET", NODES, user="viewer")[0] == 200
    srv.set_token("viewer", "rotated-token")
    assert srv.api("GET", NODES, user="viewer")[0] == 200
    assert srv.api("GET", NODES, user="token:" + old)[0] == 401


def test_plain_http_without_users_allows_everything(apiserver_factory):
    srv = apiserver_factory(tls=False, users={})
    assert srv.url.startswith("http://")
    assert srv.api("POST", NODES, node("n1"), user=None)[0] == 201
    assert srv.api("GET", "/_test/counters", user=None)[0] == 200


# ------------------------------------------------------------------------- faults, counters
def test_fault_injection(srv):
    srv.fail_next(3, code=500)
    codes = [srv.api("GET", NODES)[0] for _ in range(4)]
    assert codes == [500, 500, 500, 200]
    srv.fail_next(1, code=429, retry_after=7)
    r = srv.request("GET", NODES)
    assert r.code == 429 and r.headers["retry-after"] == "7" and r.json["reason"] == "TooManyRequests"
    assert srv.request("GET", NODES).code == 200
    # Matching by verb and resource leaves other requests alone.
    srv.fail_next(1, code=503, verb="patch", resource="testprofiles/status")
    create(srv, PROFILES, profile("p1", "a"))
    assert srv.api("PATCH", PROFILES + "/p1", {"metadata": {"labels": {"a": "b"}}})[0] == 200
    assert srv.api("PATCH", PROFILES + "/p1/status", {"status": {}})[0] == 503
    assert srv.api("PATCH", PROFILES + "/p1/status", {"status": {}})[0] == 200
    srv.add_latency(0.3, verb="list")
    start = time.monotonic()
    srv.api("GET", NODES)
    assert time.monotonic() - start >= 0.3
    srv.clear_faults()


def test_counters_count_by_verb_and_resource(srv):
    srv.reset_counters()
    create(srv, NODES, node("n1"))
    srv.api("GET", NODES)
    srv.api("GET", NODES + "/n1")
    srv.api("PATCH", NODES + "/n1/status", {"status": {}})
    with srv.watch(NODES, resourceVersion="0") as w:
        w.next()
    c = srv.counters()
    assert c["requests"] == {"create": {"nodes": 1}, "list": {"nodes": 1}, "get": {"nodes": 1},
                             "patch": {"nodes/status": 1}, "watch": {"nodes": 1}}
    assert c["writes"] == 2 and srv.writes_since_reset() == 2
    srv.reset_counters()
    srv.api("GET", NODES)
    assert srv.writes_since_reset() == 0 and srv.count("list", "nodes") == 1


def test_stop_and_start_listening_keeps_state(srv):
    create(srv, NODES, node("n1"))
    with srv.watch(NODES, resourceVersion="0") as w:
        assert w.next()["type"] == "ADDED"
        srv.stop_listening()
        assert w.next(5) is None and w.ended, "open watches are dropped"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()
    srv.start_listening()
    assert srv.get(NODES + "/n1")["metadata"]["name"] == "n1"


def test_runs_as_a_script_too(tmp_path):
    """``python3 test/support/kapi/__main__.py`` works without PYTHONPATH (helpers use it)."""
    import json
    import subprocess
    from harness import PYTHON, SUPPORT_DIR, wait_for
    port_file = tmp_path / "port"
    proc = subprocess.Popen([PYTHON, str(SUPPORT_DIR / "kapi" / "__main__.py"), "--port", "0",
                             "--port-file", str(port_file)], stderr=subprocess.PIPE,
                            env={"PATH": "/usr/bin:/bin"})
    try:
        wait_for(lambda: port_file.exists() or proc.poll() is not None, 10, what="the port file")
        assert proc.poll() is None, proc.stderr.read().decode()
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", int(port_file.read_text()), timeout=5)
        c.request("GET", "/version")
        assert json.loads(c.getresponse().read())["major"] == "1"
        c.close()
    finally:
        proc.kill()
        proc.wait(5)
