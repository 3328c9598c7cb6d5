"""The RBAC in manifests/ is what the binaries need (issue 4, "Prove the RBAC is right").

The test API server enforces Kubernetes RBAC (test/support/kapi/auth.py), and the default users
``operator``, ``agent`` and ``agent-pool`` carry exactly the rules the manifests grant the
ServiceAccounts (rbac_support.py, harness.DEFAULT_USERS), so every operator and agent scenario of
the suite runs with the shipped permissions. Here each short scenario runs against the real binary

* with the rendered rules: it reaches its goal and the server refused nothing;
* with the rendered rules minus one rule or one verb: the server records a 403 for exactly that
  verb and resource, and the scenario does not reach its goal.

So the manifests grant enough, and each of these rules is needed (a rule missing from the
manifests fails a test). Rendering every variant is test_manifests.py's job; the checks of the
rule extraction itself (kubectl vs. file fallback, a binding to a missing role) are at the end.
"""

import copy
import signal

import pytest

import rbac_support
from agent_support import (PowerSim, create_npp, create_tp, http_tp_spec, limit_uw, make_tree,
                           npp_status, start_agent, tp_cpu_status)
from harness import MANIFEST_USERS, MANIFESTS_NAMESPACE, wait_for
from operator_support import create_node, events, label, npp, start_operator

LEASES = "/apis/coordination.k8s.io/v1/namespaces/%s/leases" % MANIFESTS_NAMESPACE
LEASE_ROLE = "Role %s/joulie-operator-leader-election" % MANIFESTS_NAMESPACE
POOL_ROLE = "ClusterRole joulie-agent-pool"
LEADER_ENV = {"POD_NAMESPACE": MANIFESTS_NAMESPACE}


def grants(user):
    """[(source, rule)] the manifests give the ServiceAccount behind default user ``user``."""
    return rbac_support.service_account_grants(*MANIFEST_USERS[user])


def rules_of(user):
    return [rule for _, rule in grants(user)]


def minus(kube, rules):
    """A user with ``rules`` (the rendered ones minus something)."""
    kube.add_user("minus", "tok-minus", rules)
    return "minus"


def refused(kube, user, verb, resource):
    return kube.forbidden(user).get(verb, {}).get(resource, 0)


def wait_refused(kube, user, verb, resource, timeout=20):
    """Wait (bounded) until the server refused ``verb`` on ``resource`` to ``user``: the binary
    did try, and was told no. Nothing else writes what that request would have written, so the
    goal is then out of reach for good."""
    return wait_for(lambda: refused(kube, user, verb, resource) >= 1, timeout,
                    what="a 403 for %s %s (user %s); refusals so far: %s"
                    % (verb, resource, user, kube.forbidden()))


def assert_only_refused(kube, user, verb, resource):
    """Every 403 of the run was ``verb`` on ``resource`` for ``user``."""
    assert kube.forbidden() == {user: {verb: {resource: refused(kube, user, verb, resource)}}}, \
        kube.forbidden_messages()


def assert_nothing_refused(kube):
    assert kube.forbidden() == {}, kube.forbidden_messages()


def finish(proc, exits, timeout=30):
    """``exits``: the process ends by itself (a --once pass): wait for it and return the code.
    Otherwise it keeps retrying what it may not do: stop it."""
    if exits:
        return proc.wait(timeout)
    proc.stop()
    return None


@pytest.fixture
def kube(apiserver):
    apiserver.apply_crds()
    apiserver.ensure_namespace(MANIFESTS_NAMESPACE)
    return apiserver


# --------------------------------------------------------------------- operator, one pass
def operator_setup(kube):
    kube.ensure_namespace(MANIFESTS_NAMESPACE)  # the pause switch and the Lease live there
    for n in ("n1", "n2"):
        create_node(kube, n)


def operator_goal(kube):
    """static_partition over n1, n2: both profiles and labels, and n2's transition event."""
    return (label(kube, "n1") == "performance" and label(kube, "n2") == "eco"
            and npp(kube, "node-n1") is not None and npp(kube, "node-n2") is not None
            and [e["involvedObject"]["name"] for e in events(kube, "PowerProfileChanged")] == ["n2"])


def start_operator_once(procs, joulie_bin, kube, user):
    # In the manifests' namespace, as deployed: the pause switch is read there.
    return procs.start("operator-once", [joulie_bin, "operator", "--once", "--kubeconfig",
                                         kube.kubeconfig(user)],
                       env={"POD_NAMESPACE": MANIFESTS_NAMESPACE})


def test_operator_pass_reaches_its_goal_with_the_manifests_rules(kube, procs, joulie_bin):
    operator_setup(kube)
    p = start_operator_once(procs, joulie_bin, kube, "operator")
    assert p.wait(30) == 0
    assert operator_goal(kube)
    assert_nothing_refused(kube)


def test_operator_runs_without_the_pause_switch_role_and_says_so(kube, procs, joulie_bin):
    user = minus(kube, rbac_support.without_source(grants("operator"),
                                                   "Role %s/joulie-operator-control"
                                                   % MANIFESTS_NAMESPACE))
    operator_setup(kube)
    p = start_operator_once(procs, joulie_bin, kube, user)
    assert p.wait(30) == 0
    assert operator_goal(kube), "the pass still reaches its goal"
    assert "cannot read the pause switch" in p.output()
    assert_only_refused(kube, user, "get", "configmaps")


# id: ((group, resource, verb) removed, the refused (verb, resource), exit code of --once or
# None when the pass never runs (an informer cannot sync) and the process is stopped)
OPERATOR_REMOVALS = {
    "nodes-patch": (("", "nodes", "patch"), ("patch", "nodes"), 1),
    "nodes-list": (("", "nodes", "list"), ("list", "nodes"), None),
    "nodepowerprofiles-create": (("joulie.io", "nodepowerprofiles", "create"),
                                 ("create", "nodepowerprofiles"), 1),
    "events-create": (("", "events", "create"), ("create", "events"), 0),   # events: best effort
}


@pytest.mark.parametrize("case", sorted(OPERATOR_REMOVALS))
def test_operator_pass_fails_without_one_rule(kube, procs, joulie_bin, case):
    removed, (verb, resource), code = OPERATOR_REMOVALS[case]
    user = minus(kube, rbac_support.without_verb(rules_of("operator"), *removed))
    operator_setup(kube)
    p = start_operator_once(procs, joulie_bin, kube, user)
    wait_refused(kube, user, verb, resource)
    assert finish(p, code is not None) == code
    assert not operator_goal(kube)
    assert_only_refused(kube, user, verb, resource)


# ------------------------------------------------------------------ operator, leader election
def expired_lease():
    """A Lease held by a replica that is gone: taking it over needs ``update``."""
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "joulie-operator"},
            "spec": {"holderIdentity": "gone-replica", "leaseDurationSeconds": 1,
                     "acquireTime": "2020-01-01T00:00:00.000000Z",
                     "renewTime": "2020-01-01T00:00:00.000000Z", "leaseTransitions": 0}}


def leader_setup(kube, takeover):
    operator_setup(kube)
    if takeover:
        code, body = kube.api("POST", LEASES, expired_lease())
        assert code == 201, body


def start_leader(procs, joulie_bin, kube, user):
    return start_operator(procs, joulie_bin, kube, "--leader-elect", "--interval", "1s",
                          user=user, env=LEADER_ENV)


def holder(kube):
    code, body = kube.api("GET", LEASES + "/joulie-operator")
    return code == 200 and body["spec"].get("holderIdentity")


@pytest.mark.parametrize("takeover", [False, True], ids=["new-lease", "expired-lease"])
def test_leader_election_works_with_the_manifests_rules(kube, procs, joulie_bin, takeover):
    leader_setup(kube, takeover)
    op = start_leader(procs, joulie_bin, kube, "operator")
    identity = op.wait_for_log(r"leader election enabled .*identity=(\S+)").group(1)
    op.wait_for_log(r"became the leader", 20)
    wait_for(lambda: operator_goal(kube), 15, what="the leader's first pass")
    assert holder(kube) == identity
    assert op.stop() == 0
    assert_nothing_refused(kube)


# id: (rules, scenario with an expired lease?, the refused (verb, resource))
LEASE_REMOVALS = {
    "role-removed": (lambda: rbac_support.without_source(grants("operator"), LEASE_ROLE), False,
                     ("get", "leases")),
    "leases-get": (lambda: rbac_support.without_verb(rules_of("operator"), "coordination.k8s.io",
                                                     "leases", "get"), False, ("get", "leases")),
    "leases-create": (lambda: rbac_support.without_verb(rules_of("operator"), "coordination.k8s.io",
                                                        "leases", "create"), False,
                      ("create", "leases")),
    "leases-update": (lambda: rbac_support.without_verb(rules_of("operator"), "coordination.k8s.io",
                                                        "leases", "update"), True,
                      ("update", "leases")),
}


@pytest.mark.parametrize("case", sorted(LEASE_REMOVALS))
def test_leader_election_fails_without_one_rule(kube, procs, joulie_bin, case):
    rules, takeover, (verb, resource) = LEASE_REMOVALS[case]
    user = minus(kube, rules())
    leader_setup(kube, takeover)
    op = start_leader(procs, joulie_bin, kube, user)
    op.wait_for_log(r"leader election enabled")
    wait_refused(kube, user, verb, resource)
    op.stop()
    assert "became the leader" not in op.output()
    assert label(kube, "n1") is None and label(kube, "n2") is None, "a non-leader wrote"
    assert npp(kube, "node-n1") is None and npp(kube, "node-n2") is None, "a non-leader wrote"
    assert holder(kube) == ("gone-replica" if takeover else False)
    assert_only_refused(kube, user, verb, resource)


# ---------------------------------------------------------------------- agent, daemonset mode
def agent_setup(kube, tmp_path):
    tree = make_tree(tmp_path / "sys", packages=1)
    create_tp(kube, "tp-n1", {"target": {"scope": "node", "nodeName": "n1"},
                              "sources": {"cpu": {"type": "host"}},
                              "controls": {"cpu": {"type": "host"}}})
    create_npp(kube, "n1", cap=140)
    return tree


def agent_goal(kube, tree):
    """The cap is on the host and both statuses report it."""
    return (limit_uw(tree, 0) == 140_000_000
            and npp_status(kube, "node-n1").get("result") == "applied"
            and tp_cpu_status(kube, "tp-n1").get("result") == "applied")


def test_agent_pass_reaches_its_goal_with_the_manifests_rules(kube, procs, joulie_bin, tmp_path):
    tree = agent_setup(kube, tmp_path)
    once = start_agent(procs, joulie_bin, kube, tmp_path, tree=tree, args=["--once"], user="agent")
    assert once.wait(30) == 0
    assert agent_goal(kube, tree)
    assert_nothing_refused(kube)


def _status_removed(resource):
    # The manifests grant only `patch` on the status subresources (the agent merge-patches).
    return rbac_support.without_verb(rules_of("agent"), "joulie.io", resource, "patch")


# id: (rules, the refused (verb, resource))
AGENT_REMOVALS = {
    "nodepowerprofiles-status-write": (lambda: _status_removed("nodepowerprofiles/status"),
                                       ("patch", "nodepowerprofiles/status")),
    "telemetryprofiles-status-write": (lambda: _status_removed("telemetryprofiles/status"),
                                       ("patch", "telemetryprofiles/status")),
    "nodepowerprofiles-list": (lambda: rbac_support.without_verb(
        rules_of("agent"), "joulie.io", "nodepowerprofiles", "list"), ("list", "nodepowerprofiles")),
}


@pytest.mark.parametrize("case", sorted(AGENT_REMOVALS))
def test_agent_pass_fails_without_one_rule(kube, procs, joulie_bin, tmp_path, case):
    rules, (verb, resource) = AGENT_REMOVALS[case]
    user = minus(kube, rules())
    tree = agent_setup(kube, tmp_path)
    once = start_agent(procs, joulie_bin, kube, tmp_path, tree=tree, args=["--once"], user=user)
    wait_refused(kube, user, verb, resource)
    # SIGKILL: with a status write pending, --once waits up to 15 s for it (then exits 1) and
    # does not end sooner on SIGTERM; restoring the fake host is not what this test is about.
    once.stop(signal.SIGKILL)
    assert not agent_goal(kube, tree)
    assert_only_refused(kube, user, verb, resource)


# --------------------------------------------------------------------------- agent, pool mode
POOL_NODES = ("kwok-node-0", "kwok-node-1")


def pool_setup(kube, procs, tmp_path):
    sim = PowerSim(procs, tmp_path)
    for i, n in enumerate(POOL_NODES):
        create_node(kube, n)
        create_npp(kube, n, cap=110 + i)
    create_tp(kube, "sim", http_tp_spec(sim))
    return sim


def pool_goal(kube, sim):
    states = sim.states()
    return all((states.get(n) or {}).get("capWatts") == 110 + i for i, n in enumerate(POOL_NODES)) \
        and all(npp_status(kube, "node-" + n).get("result") == "applied" for n in POOL_NODES)


def start_pool_agent(procs, joulie_bin, kube, tmp_path, user):
    return start_agent(procs, joulie_bin, kube, tmp_path, node=None, user=user, name="pool",
                       args=["--once", "--mode", "pool", "--pool-shards", "1", "--pool-shard-id", "0"])


def test_pool_agent_reaches_its_goal_with_the_manifests_rules(kube, procs, joulie_bin, tmp_path):
    sim = pool_setup(kube, procs, tmp_path)
    once = start_pool_agent(procs, joulie_bin, kube, tmp_path, "agent-pool")
    assert once.wait(30) == 0
    assert pool_goal(kube, sim)
    assert_nothing_refused(kube)


def test_pool_agent_fails_without_the_pool_role(kube, procs, joulie_bin, tmp_path):
    rules = rbac_support.without_source(grants("agent-pool"), POOL_ROLE)
    assert rules == rules_of("agent")
    user = minus(kube, rules)
    sim = pool_setup(kube, procs, tmp_path)
    once = start_pool_agent(procs, joulie_bin, kube, tmp_path, user)
    wait_refused(kube, user, "list", "nodes")
    once.stop()
    assert not pool_goal(kube, sim)
    assert_only_refused(kube, user, "list", "nodes")


def test_the_daemonset_agent_user_cannot_run_pool_mode(kube, procs, joulie_bin, tmp_path):
    """The DaemonSet's RBAC (no Node access) is not enough for pool mode: the overlay's extra
    ClusterRole is what makes it work."""
    sim = pool_setup(kube, procs, tmp_path)
    once = start_pool_agent(procs, joulie_bin, kube, tmp_path, "agent")
    wait_refused(kube, "agent", "list", "nodes")
    once.stop()
    assert not pool_goal(kube, sim)


# ------------------------------------------------------------------- the rule extraction itself
VARIANTS = ["manifests", "manifests/overlays/daemonset", "manifests/overlays/pool",
            "examples/pool-five-shards"]
ACCOUNTS = [("joulie-system", "joulie-operator"), ("joulie-system", "joulie-agent")]


@pytest.mark.parametrize("variant", VARIANTS)
def test_file_fallback_finds_the_same_rules_as_kubectl_kustomize(variant, monkeypatch):
    if rbac_support._kubectl() is None:
        pytest.skip("kubectl is not installed: nothing to compare the fallback with")
    rendered = {sa: rbac_support.grants(rbac_support.render(variant), *sa) for sa in ACCOUNTS}
    monkeypatch.setattr(rbac_support, "_kubectl", lambda: None)
    from_files = {sa: rbac_support.grants(rbac_support.render(variant), *sa) for sa in ACCOUNTS}
    assert from_files == rendered
    assert all(rendered.values())


def test_the_default_users_are_the_rendered_service_accounts(apiserver):
    assert MANIFEST_USERS == {
        "operator": ("manifests/overlays/daemonset", "joulie-system", "joulie-operator"),
        "agent": ("manifests/overlays/daemonset", "joulie-system", "joulie-agent"),
        "agent-pool": ("manifests/overlays/pool", "joulie-system", "joulie-agent")}
    for user in MANIFEST_USERS:
        assert apiserver.users[user] == rules_of(user)
    # The leader-election and pause-switch rules come from Roles, scoped to their namespace; the
    # rest is cluster-wide.
    roles = (LEASE_ROLE, "Role joulie-system/joulie-operator-control")
    scoped = [rule for source, rule in grants("operator") if source.startswith(roles)]
    assert scoped and all(rule["namespace"] == "joulie-system" for rule in scoped)
    assert all("namespace" not in rule for source, rule in grants("operator")
               if not source.startswith(roles))
    assert rules_of("agent-pool") == rules_of("agent") + [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}]


def _objs():
    return copy.deepcopy(rbac_support.render("manifests/overlays/daemonset"))


def test_a_binding_to_a_missing_role_is_an_error():
    objs = [o for o in _objs() if o["metadata"]["name"] != "joulie-operator-leader-election"
            or o["kind"] != "Role"]
    with pytest.raises(rbac_support.RbacError, match="RoleBinding joulie-system/joulie-operator-"
                       "leader-election references Role joulie-system/joulie-operator-leader-"
                       "election, which the manifests do not define"):
        rbac_support.grants(objs, "joulie-system", "joulie-operator")
    objs = [o for o in _objs() if o["metadata"]["name"] != "joulie-agent" or o["kind"] != "ClusterRole"]
    with pytest.raises(rbac_support.RbacError, match="ClusterRole joulie-agent"):
        rbac_support.grants(objs, "joulie-system", "joulie-agent")


def test_subjects_and_namespaces_are_matched_exactly():
    objs = _objs()
    assert rbac_support.grants(objs, "default", "joulie-operator") == []
    assert rbac_support.grants(objs, "joulie-system", "joulie-other") == []
    # A Role bound in another namespace does not exist there.
    for o in objs:
        if o["kind"] == "RoleBinding":
            o["metadata"]["namespace"] = "elsewhere"
    with pytest.raises(rbac_support.RbacError, match="Role elsewhere/joulie-operator-"):
        rbac_support.grants(objs, "joulie-system", "joulie-operator")


def test_rule_editing_helpers():
    rules = [{"apiGroups": ["", "apps"], "resources": ["nodes", "pods"], "verbs": ["get", "list"]}]
    out = rbac_support.without_verb(rules, "", "nodes", "list")
    u = {"apiGroups": ["", "apps"], "resources": ["pods"], "verbs": ["get", "list"]}
    assert out == [u, {"apiGroups": ["apps"], "resources": ["nodes"], "verbs": ["get", "list"]},
                   {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]
    assert rules[0]["verbs"] == ["get", "list"]        # the input is left alone
    with pytest.raises(rbac_support.RbacError):
        rbac_support.without_verb(rules, "", "nodes", "delete")
    with pytest.raises(rbac_support.RbacError):
        rbac_support.without_source(grants("agent"), POOL_ROLE)
