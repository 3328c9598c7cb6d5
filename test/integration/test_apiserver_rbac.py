"""RBAC in the test API server (test/support/kapi/auth.py): the rule evaluator against Kubernetes'
semantics (wildcards, subresources, resourceNames, RoleBinding namespaces), the 403 Status the
server answers, the refusal counters, and the default users rendered from manifests/."""

import pytest

from kapi.auth import User, check_rule

LEASES = "/apis/coordination.k8s.io/v1/namespaces/%s/leases"
NODES = "/api/v1/nodes"
NPP = "/apis/joulie.io/v1alpha1/nodepowerprofiles"

NODES_READ = {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}
LEASE_CREATE = {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"],
                "namespace": "joulie-system"}
LEASE_NAMED = {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
               "resourceNames": ["joulie-operator"], "verbs": ["get", "update"],
               "namespace": "joulie-system"}


# (rules, (verb, group, plural, subresource, namespace, name), allowed)
CASES = [
    # verbs, groups, resources: exact or "*"
    ([NODES_READ], ("get", "", "nodes", None, "", "n1"), True),
    ([NODES_READ], ("list", "", "nodes", None, "", None), True),
    ([NODES_READ], ("patch", "", "nodes", None, "", "n1"), False),
    ([NODES_READ], ("get", "joulie.io", "nodes", None, "", "n1"), False),     # wrong group
    ([NODES_READ], ("get", "", "pods", None, "default", "p"), False),
    ([{"apiGroups": ["*"], "resources": ["nodes"], "verbs": ["get"]}],
     ("get", "other.io", "nodes", None, "", "x"), True),
    ([{"apiGroups": [""], "resources": ["*"], "verbs": ["*"]}],
     ("deletecollection", "", "pods", None, "default", None), True),
    # subresources: a bare plural does not cover them, "*" and "*/status" do, "plural/*" does not
    ([NODES_READ], ("get", "", "nodes", "status", "", "n1"), False),
    ([{"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["patch"]}],
     ("patch", "", "nodes", "status", "", "n1"), True),
    ([{"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["patch"]}],
     ("patch", "", "nodes", None, "", "n1"), False),
    ([{"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}],
     ("get", "", "nodes", "status", "", "n1"), True),
    ([{"apiGroups": [""], "resources": ["*/status"], "verbs": ["get"]}],
     ("get", "", "pods", "status", "default", "p"), True),
    ([{"apiGroups": [""], "resources": ["*/status"], "verbs": ["get"]}],
     ("get", "", "pods", None, "default", "p"), False),
    ([{"apiGroups": [""], "resources": ["nodes/*"], "verbs": ["get"]}],
     ("get", "", "nodes", "status", "", "n1"), False),
    # resourceNames: only requests naming the object
    ([LEASE_NAMED], ("get", "coordination.k8s.io", "leases", None, "joulie-system", "joulie-operator"),
     True),
    ([LEASE_NAMED], ("update", "coordination.k8s.io", "leases", None, "joulie-system",
                     "joulie-operator"), True),
    ([LEASE_NAMED], ("get", "coordination.k8s.io", "leases", None, "joulie-system", "other"), False),
    ([LEASE_NAMED], ("delete", "coordination.k8s.io", "leases", None, "joulie-system",
                     "joulie-operator"), False),
    ([dict(LEASE_NAMED, verbs=["*"])], ("create", "coordination.k8s.io", "leases", None,
                                         "joulie-system", None), False),
    ([dict(LEASE_NAMED, verbs=["*"])], ("list", "coordination.k8s.io", "leases", None,
                                         "joulie-system", None), False),
    ([dict(LEASE_NAMED, verbs=["*"])], ("deletecollection", "coordination.k8s.io", "leases", None,
                                         "joulie-system", None), False),
    ([dict(LEASE_NAMED, verbs=["*"])], ("watch", "coordination.k8s.io", "leases", None,
                                         "joulie-system", "joulie-operator"), True),
    # namespace (RoleBinding): that namespace only, never cluster scope or all namespaces
    ([LEASE_CREATE], ("create", "coordination.k8s.io", "leases", None, "joulie-system", None), True),
    ([LEASE_CREATE], ("create", "coordination.k8s.io", "leases", None, "default", None), False),
    ([LEASE_NAMED], ("get", "coordination.k8s.io", "leases", None, "default", "joulie-operator"),
     False),
    ([dict(NODES_READ, namespace="joulie-system")], ("list", "", "nodes", None, "", None), False),
    ([{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"], "namespace": "a"}],
     ("list", "", "pods", None, "", None), False),
    # several rules: any one allowing is enough
    ([LEASE_CREATE, LEASE_NAMED], ("get", "coordination.k8s.io", "leases", None, "joulie-system",
                                   "joulie-operator"), True),
    ([], ("get", "", "nodes", None, "", "n1"), False),
    # the short form (older tests) keeps its meaning: any group, namespace and name
    ([{"verbs": ["get"], "resources": ["nodes"]}], ("get", "", "nodes", None, "", "n1"), True),
    ([{"verbs": ["get"], "resources": ["joulie.io/nodepowerprofiles"]}],
     ("get", "joulie.io", "nodepowerprofiles", None, "", "x"), True),
    ([{"verbs": ["patch"], "resources": ["nodepowerprofiles/*"]}],
     ("patch", "joulie.io", "nodepowerprofiles", "status", "", "x"), True),
    ([{"verbs": ["patch"], "resources": ["nodepowerprofiles"]}],
     ("patch", "joulie.io", "nodepowerprofiles", "status", "", "x"), False),
    ([{"verbs": ["*"], "resources": ["*"]}], ("create", "x.io", "things", "status", "ns", None), True),
]


@pytest.mark.parametrize("rules,request_,allowed", CASES,
                         ids=["%s-%s-%s%s" % (i, c[1][0], c[1][2], "/" + c[1][3] if c[1][3] else "")
                              for i, c in enumerate(CASES)])
def test_rule_evaluation_follows_kubernetes_rbac(rules, request_, allowed):
    assert User("u", rules=rules).allows(*request_) is allowed


@pytest.mark.parametrize("rule", [
    "nodes",
    {"apiGroups": "", "resources": ["nodes"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"], "namespaces": ["x"]},
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"], "namespace": ""},
    {"resources": ["leases"], "verbs": ["get"], "resourceNames": ["x"]},
])
def test_malformed_rules_are_rejected(rule):
    with pytest.raises(ValueError):
        check_rule(rule)


# ------------------------------------------------------------------------------ over HTTP
@pytest.fixture
def srv(apiserver):
    apiserver.ensure_namespace("joulie-system")
    apiserver.add_user("leaser", "leaser-token", [LEASE_CREATE, LEASE_NAMED])
    return apiserver


def lease(name):
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name},
            "spec": {"holderIdentity": "a"}}


def test_resource_names_and_namespaces_over_http(srv):
    ns = LEASES % "joulie-system"
    code, body = srv.api("POST", ns, lease("joulie-operator"), user="leaser")
    assert code == 201, body
    obj = srv.get(ns + "/joulie-operator", user="leaser")
    obj["spec"]["holderIdentity"] = "b"
    assert srv.api("PUT", ns + "/joulie-operator", obj, user="leaser")[0] == 200
    # Named by a field selector, a list or watch is a request on that object (as upstream).
    srv.add_user("lister", "lister-token", [dict(LEASE_NAMED, verbs=["list", "watch"])])
    one = "?fieldSelector=metadata.name%3Djoulie-operator"
    assert srv.api("GET", ns + one, user="lister")[0] == 200
    assert srv.api("GET", ns + "?fieldSelector=metadata.name%3Dother", user="lister")[0] == 403
    assert srv.api("GET", ns, user="lister")[0] == 403
    assert srv.api("GET", ns + one, user="leaser")[0] == 403            # get is not list
    with srv.watch(ns, user="lister", fieldSelector="metadata.name=joulie-operator") as w:
        assert w.code == 200
    with srv.watch(ns, user="lister") as w:
        assert w.code == 403
    # Everything else is refused.
    assert srv.api("POST", ns, lease("other"), user="leaser")[0] == 201     # create: by namespace
    for method, path, body in [("GET", ns + "/other", None), ("GET", ns, None),
                               ("PATCH", ns + "/joulie-operator", {"spec": {}}),
                               ("DELETE", ns + "/joulie-operator", None),
                               ("POST", LEASES % "default", lease("joulie-operator")),
                               ("GET", LEASES % "default" + "/joulie-operator", None),
                               ("GET", "/apis/coordination.k8s.io/v1/leases", None)]:
        code, _ = srv.api(method, path, body, user="leaser")
        assert code == 403, (method, path, code)


def test_forbidden_is_a_kubernetes_status_and_is_counted(srv):
    srv.reset_counters()
    code, body = srv.api("GET", LEASES % "default" + "/joulie-operator", user="leaser")
    assert code == 403
    assert body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "reason": "Forbidden", "code": 403,
        "message": 'leases.coordination.k8s.io "joulie-operator" is forbidden: User "leaser" cannot '
                   'get resource "leases" in API group "coordination.k8s.io" in the namespace "default"',
        "details": {"name": "joulie-operator", "group": "coordination.k8s.io", "kind": "leases"}}
    code, body = srv.api("GET", NODES, user="leaser")
    assert code == 403 and body["message"] == (
        'nodes is forbidden: User "leaser" cannot list resource "nodes" in API group "" at the '
        'cluster scope')
    code, body = srv.api("PATCH", NODES + "/x/status", {"status": {}}, user="nobody")
    assert code == 403 and body["message"] == (
        'nodes "x" is forbidden: User "nobody" cannot patch resource "nodes/status" in API group '
        '"" at the cluster scope')
    assert srv.forbidden("leaser") == {"get": {"leases": 1}, "list": {"nodes": 1}}
    assert srv.forbidden() == {"leaser": {"get": {"leases": 1}, "list": {"nodes": 1}},
                               "nobody": {"patch": {"nodes/status": 1}}}
    assert len(srv.forbidden_messages()) == 3 and 'User "nobody"' in srv.forbidden_messages()[-1]
    srv.reset_counters()
    assert srv.forbidden() == {}


def test_a_malformed_rule_is_refused_by_the_control(srv):
    with pytest.raises(RuntimeError, match="400"):
        srv.add_user("bad", "bad-token", [{"apiGroups": [""], "resources": "nodes", "verbs": ["get"]}])


def test_default_users_carry_the_manifests_rbac(apiserver):
    """operator/agent/agent-pool are the manifests' ServiceAccounts (rbac_support.py), enforced."""
    apiserver.apply_crds()
    assert apiserver.api("POST", NODES, {"apiVersion": "v1", "kind": "Node",
                                         "metadata": {"name": "n1"}})[0] == 201
    npp = {"apiVersion": "joulie.io/v1alpha1", "kind": "NodePowerProfile",
           "metadata": {"name": "node-n1"}, "spec": {"nodeName": "n1", "profile": "eco"}}
    expect = [
        ("operator", "PATCH", NODES + "/n1", {"metadata": {"labels": {"a": "b"}}}, 200),
        ("operator", "PUT", NODES + "/n1", None, 403),               # patch only, not update
        ("operator", "POST", NPP, npp, 201),
        ("operator", "PATCH", NPP + "/node-n1/status", {"status": {}}, 403),
        ("operator", "GET", LEASES % "default" + "/joulie-operator", None, 403),
        ("operator", "GET", LEASES % "joulie-system" + "/joulie-operator", None, 404),
        ("agent", "GET", NPP + "/node-n1", None, 200),
        ("agent", "GET", NPP + "/node-n1/status", None, 403),        # status: merge patch only
        ("agent", "PATCH", NPP + "/node-n1/status", {"status": {"backend": "none"}}, 200),
        ("agent", "PATCH", NPP + "/node-n1", {"spec": {"profile": "performance"}}, 403),
        ("agent", "GET", NODES, None, 403),                          # daemonset: no Node access
        ("agent-pool", "GET", NODES, None, 200),
        ("agent-pool", "PATCH", NODES + "/n1", {"metadata": {"labels": {"a": "c"}}}, 403),
        ("agent-pool", "PATCH", NPP + "/node-n1/status", {"status": {"backend": "none"}}, 200),
    ]
    apiserver.ensure_namespace("joulie-system")
    got = []
    for user, method, path, body, _ in expect:
        if method == "PUT":
            body = apiserver.get(path)
        got.append(apiserver.api(method, path, body, user=user)[0])
    assert [(e[0], e[1], e[2], g) for e, g in zip(expect, got)] == \
        [(e[0], e[1], e[2], e[4]) for e in expect]
