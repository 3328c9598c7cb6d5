"""The kustomize manifests (docs/design.md#deployment-artefacts): every variant renders, the
workloads carry the security and wiring settings an operator relies on, and RBAC is exactly the
table below.

Run: /usr/bin/python3 -m pytest test/integration/test_manifests.py -q   (needs kubectl)
"""

import os

import pytest

from ship_yaml import REPO, kustomize

# Every directory `kubectl kustomize` must render, and what each one is.
VARIANTS = {
    "manifests": "default install (= overlays/daemonset)",
    "manifests/base": "operator + agent DaemonSet, no CRDs",
    "manifests/crds": "CRDs only",
    "manifests/overlays/daemonset": "CRDs + base",
    "manifests/overlays/pool": "CRDs + operator + sharded pool StatefulSet",
    "crds": "the CRD files",
    "examples/pool-five-shards": "downstream overlay: pool with 5 shards",
    "examples/field-selectors": "default install + the field-selectors component (>= 1.31)",
}

# RBAC, exactly: (kind, role name, namespace or "", apiGroup, resource, verb, resourceName or "").
# A rule added to or removed from the manifests without changing this table fails the test.
_OPERATOR_RULES = (
    [("ClusterRole", "joulie-operator", "", "", "nodes", v, "") for v in ("get", "list", "watch", "patch")]
    + [("ClusterRole", "joulie-operator", "", "", "pods", v, "") for v in ("get", "list", "watch")]
    + [("ClusterRole", "joulie-operator", "", "joulie.io", "nodepowerprofiles", v, "")
       for v in ("get", "list", "watch", "create", "update", "patch", "delete")]
    + [("ClusterRole", "joulie-operator", "", "", "events", v, "") for v in ("create", "patch")]
    + [("Role", "joulie-operator-leader-election", "joulie-system", "coordination.k8s.io", "leases",
        "create", "")]
    + [("Role", "joulie-operator-leader-election", "joulie-system", "coordination.k8s.io", "leases", v,
        "joulie-operator") for v in ("get", "update")]
    + [("Role", "joulie-operator-control", "joulie-system", "", "configmaps", v,
        "joulie-control") for v in ("get", "list", "watch")])
_AGENT_RULES = (
    [("ClusterRole", "joulie-agent", "", "joulie.io", "nodepowerprofiles", v, "")
     for v in ("get", "list", "watch")]
    + [("ClusterRole", "joulie-agent", "", "joulie.io", "nodepowerprofiles/status", "patch", "")]
    + [("ClusterRole", "joulie-agent", "", "joulie.io", "telemetryprofiles", v, "")
       for v in ("get", "list", "watch")]
    + [("ClusterRole", "joulie-agent", "", "joulie.io", "telemetryprofiles/status", "patch", "")])
_POOL_RULES = [("ClusterRole", "joulie-agent-pool", "", "", "nodes", v, "") for v in ("get", "list", "watch")]

EXPECTED_RBAC = {
    "manifests/base": set(_OPERATOR_RULES + _AGENT_RULES),
    "manifests/overlays/daemonset": set(_OPERATOR_RULES + _AGENT_RULES),
    "manifests/overlays/pool": set(_OPERATOR_RULES + _AGENT_RULES + _POOL_RULES),
}

# Which service account each role is bound to.
EXPECTED_BINDINGS = {
    ("ClusterRoleBinding", "ClusterRole", "joulie-operator"): "joulie-operator",
    ("RoleBinding", "Role", "joulie-operator-leader-election"): "joulie-operator",
    ("RoleBinding", "Role", "joulie-operator-control"): "joulie-operator",
    ("ClusterRoleBinding", "ClusterRole", "joulie-agent"): "joulie-agent",
    ("ClusterRoleBinding", "ClusterRole", "joulie-agent-pool"): "joulie-agent",
}

CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


@pytest.fixture(scope="module")
def rendered():
    cache = {}

    def render(variant):
        if variant not in cache:
            cache[variant] = kustomize(os.path.join(REPO, variant))
        return cache[variant]
    return render


def one(docs, kind, name):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, "expected exactly one %s/%s, found %d" % (kind, name, len(found))
    return found[0]


def container(workload, name):
    cs = [c for c in workload["spec"]["template"]["spec"]["containers"] if c["name"] == name]
    assert len(cs) == 1, "%s has no container %s" % (workload["metadata"]["name"], name)
    return cs[0]


def env_of(c):
    return {e["name"]: e for e in c.get("env", [])}


def env_value(c, name):
    e = env_of(c).get(name)
    assert e is not None, "container %s lacks env %s" % (c["name"], name)
    assert "value" in e, "env %s is not a literal value" % name
    assert isinstance(e["value"], str), "env %s must be a string, is %r" % (name, e["value"])
    return e["value"]


def field_ref(c, name):
    e = env_of(c).get(name)
    assert e is not None, "container %s lacks env %s" % (c["name"], name)
    return e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")


def rbac_rules(docs):
    rules = set()
    for d in docs:
        if d["kind"] not in ("ClusterRole", "Role"):
            continue
        ns = d["metadata"].get("namespace", "")
        for r in d.get("rules", []):
            names = r.get("resourceNames") or [""]
            for g in r.get("apiGroups", []):
                for res in r.get("resources", []):
                    for verb in r.get("verbs", []):
                        for rn in names:
                            rules.add((d["kind"], d["metadata"]["name"], ns, g, res, verb, rn))
    return rules


# ---- every variant renders --------------------------------------------------------------------

@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_renders_to_well_formed_objects(rendered, variant):
    docs = rendered(variant)
    seen = set()
    for d in docs:
        assert d.get("apiVersion") and d.get("kind") and d.get("metadata", {}).get("name"), d
        key = (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"])
        assert key not in seen, "duplicate object %s in %s" % (key, variant)
        seen.add(key)
        if d["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in d["metadata"], "%s is cluster-scoped" % (key,)
        else:
            assert d["metadata"].get("namespace") == "joulie-system", \
                "%s must live in joulie-system" % (key,)


def test_default_install_is_crds_plus_base(rendered):
    def keys(docs):
        return sorted((d["kind"], d["metadata"]["name"]) for d in docs)
    assert keys(rendered("manifests")) == keys(rendered("manifests/overlays/daemonset"))
    assert keys(rendered("manifests/overlays/daemonset")) == \
        sorted(keys(rendered("manifests/crds")) + keys(rendered("manifests/base")))
    crd_names = {d["metadata"]["name"] for d in rendered("manifests/crds")}
    assert crd_names == {"nodepowerprofiles.joulie.io", "telemetryprofiles.joulie.io"}
    assert not [d for d in rendered("manifests/base") if d["kind"] == "CustomResourceDefinition"]


# ---- operator ---------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["manifests/base", "manifests/overlays/pool"])
def test_operator_runs_two_leader_elected_replicas(rendered, variant):
    dep = one(rendered(variant), "Deployment", "joulie-operator")
    assert dep["spec"]["replicas"] == 2
    c = container(dep, "operator")
    assert c["args"][0] == "operator"
    assert "--leader-elect" in c["args"]
    assert env_value(c, "LEADER_ELECT") == "true"
    # The Lease lives in the pod's own namespace, taken from the downward API.
    assert field_ref(c, "POD_NAMESPACE") == "metadata.namespace"
    assert dep["spec"]["template"]["spec"]["serviceAccountName"] == "joulie-operator"


def _assert_restricted(pod_spec, c):
    """The Pod Security "restricted" essentials plus a read-only root filesystem."""
    psc = pod_spec.get("securityContext", {})
    sc = c.get("securityContext", {})
    assert psc.get("runAsNonRoot") is True or sc.get("runAsNonRoot") is True
    run_as = sc.get("runAsUser", psc.get("runAsUser"))
    assert run_as not in (None, 0), "must run as a non-zero uid"
    assert sc.get("readOnlyRootFilesystem") is True
    assert sc.get("allowPrivilegeEscalation") is False
    assert sc.get("capabilities", {}).get("drop") == ["ALL"]
    assert not sc.get("capabilities", {}).get("add")
    assert sc.get("privileged") in (None, False)
    seccomp = sc.get("seccompProfile", psc.get("seccompProfile", {}))
    assert seccomp.get("type") == "RuntimeDefault"
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod_spec.get(flag)
    assert not [v for v in pod_spec.get("volumes", []) if "hostPath" in v]


def _assert_probes_and_resources(workload, c, metrics_port):
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    assert ports.get("metrics") == metrics_port
    assert env_value(c, "METRICS_ADDR") == ":%d" % metrics_port
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = c.get(probe, {}).get("httpGet", {})
        assert get.get("path") == path, "%s %s" % (workload["metadata"]["name"], probe)
        assert get.get("port") in ("metrics", metrics_port)
    res = c.get("resources", {})
    for part in ("requests", "limits"):
        assert res.get(part, {}).get("cpu") and res.get(part, {}).get("memory"), \
            "%s needs cpu and memory %s" % (workload["metadata"]["name"], part)


def test_operator_is_locked_down(rendered):
    dep = one(rendered("manifests/base"), "Deployment", "joulie-operator")
    pod = dep["spec"]["template"]["spec"]
    c = container(dep, "operator")
    _assert_restricted(pod, c)
    _assert_probes_and_resources(dep, c, 8081)


# ---- agent DaemonSet --------------------------------------------------------------------------

def test_agent_daemonset_wiring(rendered):
    ds = one(rendered("manifests/base"), "DaemonSet", "joulie-agent")
    pod = ds["spec"]["template"]["spec"]
    c = container(ds, "agent")
    assert c["args"] == ["agent"]
    assert pod["serviceAccountName"] == "joulie-agent"
    assert pod["nodeSelector"] == {"joulie.io/managed": "true"}
    assert env_value(c, "AGENT_MODE") == "daemonset"
    assert field_ref(c, "NODE_NAME") == "spec.nodeName"
    # Enough time to write the original settings back on SIGTERM (docs/design.md#fail-safe-restore).
    assert pod.get("terminationGracePeriodSeconds", 30) >= 30

    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    host_paths = {v["hostPath"]["path"]: v for v in volumes.values() if "hostPath" in v}
    assert set(host_paths) == {"/sys", "/var/lib/joulie"}, "only /sys and the state dir"
    sys_vol = host_paths["/sys"]
    assert mounts["/host-sys"]["name"] == sys_vol["name"]
    assert not mounts["/host-sys"].get("readOnly"), "the agent writes powercap/cpufreq files"
    assert env_value(c, "SYSFS_ROOT") == "/host-sys"
    state = host_paths["/var/lib/joulie"]
    assert state["hostPath"]["type"] == "DirectoryOrCreate"
    state_dir = env_value(c, "STATE_DIR")
    assert mounts[state_dir]["name"] == state["name"], "STATE_DIR must be the hostPath mount"
    _assert_probes_and_resources(ds, c, 8080)


def test_agent_is_privileged_only_for_sysfs(rendered):
    ds = one(rendered("manifests/base"), "DaemonSet", "joulie-agent")
    pod = ds["spec"]["template"]["spec"]
    sc = container(ds, "agent")["securityContext"]
    assert sc.get("privileged") is True
    assert sc.get("readOnlyRootFilesystem") is True
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(flag), "the agent needs no %s" % flag
    # The reason is written next to the setting (and in docs/operations.md).
    with open(os.path.join(REPO, "manifests/base/agent-daemonset.yaml")) as f:
        text = f.read()
    assert "Privileged ONLY because writing the host's sysfs needs it" in text


# ---- pool overlay -----------------------------------------------------------------------------

@pytest.mark.parametrize("variant,replicas", [("manifests/overlays/pool", 2),
                                              ("examples/pool-five-shards", 5)])
def test_pool_shards_equal_replicas(rendered, variant, replicas):
    docs = rendered(variant)
    assert not [d for d in docs if d["kind"] == "DaemonSet"], "pool mode has no DaemonSet"
    sts = one(docs, "StatefulSet", "joulie-agent-pool")
    c = container(sts, "agent")
    assert sts["spec"]["replicas"] == replicas
    assert env_value(c, "POOL_SHARDS") == str(replicas)
    # Shard id comes from the pod name's trailing ordinal (joulie-agent-pool-<n>).
    assert field_ref(c, "POD_NAME") == "metadata.name"
    assert "POOL_SHARD_ID" not in env_of(c)
    assert env_value(c, "AGENT_MODE") == "pool"
    assert env_value(c, "POOL_NODE_SELECTOR") == "joulie.io/managed=true"


def test_pool_agent_is_unprivileged_and_served(rendered):
    docs = rendered("manifests/overlays/pool")
    sts = one(docs, "StatefulSet", "joulie-agent-pool")
    pod = sts["spec"]["template"]["spec"]
    c = container(sts, "agent")
    _assert_restricted(pod, c)
    _assert_probes_and_resources(sts, c, 8080)
    assert pod["serviceAccountName"] == "joulie-agent"
    governing = one(docs, "Service", sts["spec"]["serviceName"])
    assert governing["spec"].get("clusterIP") == "None", "a StatefulSet needs a headless Service"
    ns = one(docs, "Namespace", "joulie-system")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


# ---- services, RBAC, images --------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["manifests/base", "manifests/overlays/pool"])
def test_every_service_selects_a_metrics_port(rendered, variant):
    docs = rendered(variant)
    workloads = [d for d in docs if d["kind"] in ("Deployment", "DaemonSet", "StatefulSet")]
    services = [d for d in docs if d["kind"] == "Service"]
    assert services
    for svc in services:
        sel = svc["spec"]["selector"]
        matches = [w for w in workloads
                   if sel.items() <= w["spec"]["template"]["metadata"]["labels"].items()]
        assert len(matches) == 1, "Service %s must select exactly one workload" % svc["metadata"]["name"]
        names = {p["name"] for c in matches[0]["spec"]["template"]["spec"]["containers"]
                 for p in c.get("ports", [])}
        for p in svc["spec"]["ports"]:
            assert p["targetPort"] in names


@pytest.mark.parametrize("variant", sorted(EXPECTED_RBAC))
def test_rbac_is_exactly_the_expected_table(rendered, variant):
    got = rbac_rules(rendered(variant))
    expected = EXPECTED_RBAC[variant]
    assert got - expected == set(), "rules granted but not expected (least privilege!)"
    assert expected - got == set(), "rules the binary needs are missing"


@pytest.mark.parametrize("variant", sorted(EXPECTED_RBAC))
def test_roles_are_bound_to_the_workloads_accounts(rendered, variant):
    docs = rendered(variant)
    roles = {(d["kind"], d["metadata"]["name"]) for d in docs if d["kind"] in ("Role", "ClusterRole")}
    bindings = [d for d in docs if d["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    bound = {}
    for b in bindings:
        key = (b["kind"], b["roleRef"]["kind"], b["roleRef"]["name"])
        assert key in EXPECTED_BINDINGS, "unexpected binding %s" % (key,)
        assert (b["roleRef"]["kind"], b["roleRef"]["name"]) in roles, "binding to a missing role"
        assert b["subjects"] == [{"kind": "ServiceAccount", "name": EXPECTED_BINDINGS[key],
                                  "namespace": "joulie-system"}]
        bound[(b["roleRef"]["kind"], b["roleRef"]["name"])] = EXPECTED_BINDINGS[key]
    assert set(bound) == roles, "every role is bound, and only once"
    accounts = {d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount"}
    for w in (d for d in docs if d["kind"] in ("Deployment", "DaemonSet", "StatefulSet")):
        assert w["spec"]["template"]["spec"]["serviceAccountName"] in accounts


@pytest.mark.parametrize("variant", ["manifests/base", "manifests/overlays/pool"])
def test_one_image_for_every_mode(rendered, variant):
    images = {c["image"] for d in rendered(variant)
              if d["kind"] in ("Deployment", "DaemonSet", "StatefulSet")
              for c in d["spec"]["template"]["spec"]["containers"]}
    assert len(images) == 1, "operator and agent ship as one executable in one image: %s" % images


# ---- optional components ------------------------------------------------------------------------

def test_every_component_is_optional_and_documented_with_its_minimum_version():
    """Version-gated additions live in manifests/components/
    (docs/design.md#supported-kubernetes-versions): kustomize components that no default variant
    includes, each named in docs/compatibility.md with the Kubernetes version it needs
    (test_server_versions.py applies them where that version is played)."""
    root = os.path.join(REPO, "manifests", "components")
    names = sorted(os.listdir(root))
    assert names == ["field-selectors"], "a new component needs a row in docs/compatibility.md " \
                                         "and a test in test_server_versions.py"
    with open(os.path.join(REPO, "docs", "compatibility.md")) as f:
        compat = f.read()
    for name in names:
        with open(os.path.join(root, name, "kustomization.yaml")) as f:
            text = f.read()
        assert "kind: Component" in text
        assert "Kubernetes >= 1.31" in text, "the component states its minimum version"
        assert "manifests/components/%s" % name in compat
    for variant in VARIANTS:
        if variant.startswith("examples/field-selectors"):
            continue
        for d in (os.path.join(REPO, variant, k) for k in ("kustomization.yaml", "Kustomization")):
            if os.path.exists(d):
                with open(d) as f:
                    assert "components" not in f.read(), "%s must not include a component" % variant
