"""Joulie installs on every supported Kubernetes (1.25 and newer,
docs/design.md#supported-kubernetes-versions), tried as a user
would: plain ``kubectl apply`` (strict field validation, kubectl's default since 1.25) of crds/,
of every kustomize variant and of the optional field-selectors component, against the test API
server playing each version (docs/testing.md). The played versions refuse fields they do not have,
as a real API server does; the first tests below show the stand-in really is that strict.

Run: /usr/bin/python3 -m pytest test/integration/test_server_versions.py -q   (needs kubectl)
"""

import json

import pytest

from agent_support import NPP, create_npp, limit_uw, make_tree, metric_value, metrics_port, \
    scrape, set_cap, start_agent
from harness import REPO, require_kubectl, wait_for

pytestmark = pytest.mark.usefixtures("needs_kubectl")

OLDEST, NEWEST = "1.25", "1.32"
# 1.25: oldest supported; 1.29: the last without selectableFields; 1.30: the field exists but its
# feature gate is off; 1.31: on by default; 1.32: the newest played (kapi's default).
PLAYED = ["1.25", "1.29", "1.30", "1.31", "1.32"]
FIELD_SELECTORS_FROM = 31

# Everything a user may `kubectl apply -k`, in an order that works on one server.
VARIANTS = ["manifests/crds", "manifests", "manifests/overlays/daemonset", "manifests/base",
            "manifests/overlays/pool", "examples/pool-five-shards"]
COMPONENT = "manifests/components/field-selectors"
COMPONENT_EXAMPLE = "examples/field-selectors"


@pytest.fixture
def needs_kubectl():
    require_kubectl()


def minor(version):
    return int(version.split(".")[1])


def played(apiserver_factory, version, **kw):
    return apiserver_factory(tls=False, users={}, server_version=version, **kw)


def apply(srv, *args, check=True):
    return srv.kubectl("apply", *args, check=check)


# ---- the stand-in is as strict as the version it plays -------------------------------------------

@pytest.mark.parametrize("version", PLAYED)
def test_version_is_reported_to_kubectl(apiserver_factory, version):
    srv = played(apiserver_factory, version)
    out = json.loads(srv.kubectl("version", "-o", "json").stdout)
    assert out["serverVersion"]["gitVersion"].startswith("v%s." % version)
    assert out["serverVersion"]["minor"] == str(minor(version))


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: default}
spec:
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec:
      containers:
        - name: c
          image: busybox
          %s
"""


def test_unknown_fields_of_builtin_kinds_are_refused_like_a_real_server(apiserver_factory):
    srv = played(apiserver_factory, NEWEST)
    r = srv.kubectl("apply", "-f", "-", input=DEPLOYMENT % "bogus: 1", check=False)
    assert r.returncode != 0
    assert ('Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
            'unknown field "spec.template.spec.containers[0].bogus"') in r.stderr, r.stderr
    # Without strict validation the field is dropped with a warning, as the real server does.
    r = srv.kubectl("apply", "--validate=false", "-f", "-", input=DEPLOYMENT % "bogus: 1")
    obj = json.loads(srv.kubectl("get", "deploy", "d", "-o", "json").stdout)
    assert "bogus" not in obj["spec"]["template"]["spec"]["containers"][0]
    srv.kubectl("apply", "-f", "-", input=DEPLOYMENT % "imagePullPolicy: Always")


@pytest.mark.parametrize("field,path,since", [
    ("resizePolicy: [{resourceName: cpu, restartPolicy: NotRequired}]", "resizePolicy", 27),
    ("restartPolicy: Always", "restartPolicy", 28),
    ("volumeMounts: [{name: v, mountPath: /v, recursiveReadOnly: Disabled}]",
     "volumeMounts[0].recursiveReadOnly", 30),
])
def test_fields_newer_than_the_played_version_are_refused(apiserver_factory, field, path, since):
    old = played(apiserver_factory, "1.%d" % (since - 1))
    r = old.kubectl("apply", "-f", "-", input=DEPLOYMENT % field, check=False)
    assert r.returncode != 0
    assert 'unknown field "spec.template.spec.containers[0].%s"' % path in r.stderr, r.stderr
    new = played(apiserver_factory, "1.%d" % since)
    new.kubectl("apply", "-f", "-", input=DEPLOYMENT % field)


CRD_WITH = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: things.example.joulie.io}
spec:
  group: example.joulie.io
  scope: Cluster
  names: {kind: Thing, plural: things}
  versions:
    - name: v1
      served: true
      storage: true
      %s
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                a: {type: string}
              x-kubernetes-validations:
                - rule: "has(self.a)"
                  %s
"""


@pytest.mark.parametrize("version,extra,rule_extra,refused", [
    ("1.25", "selectableFields: [{jsonPath: .spec.a}]", "message: a", "spec.versions[0].selectableFields"),
    ("1.29", "selectableFields: [{jsonPath: .spec.a}]", "message: a", "spec.versions[0].selectableFields"),
    ("1.25", "", "messageExpression: \"'a'\"",
     "spec.versions[0].schema.openAPIV3Schema.properties.spec.x-kubernetes-validations[0]"
     ".messageExpression"),
    ("1.27", "", "reason: FieldValueInvalid",
     "spec.versions[0].schema.openAPIV3Schema.properties.spec.x-kubernetes-validations[0].reason"),
    ("1.25", "", "message: a", None),          # CEL rules themselves: fine from 1.25
    ("1.26", "", "messageExpression: \"'a'\"", None),
    ("1.28", "", "fieldPath: .a", None),
    ("1.31", "selectableFields: [{jsonPath: .spec.a}]", "message: a", None),
])
def test_crd_fields_by_version(apiserver_factory, version, extra, rule_extra, refused):
    srv = played(apiserver_factory, version)
    r = srv.kubectl("apply", "-f", "-", input=CRD_WITH % (extra, rule_extra), check=False)
    if refused is None:
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode != 0, "1.%s accepted %s" % (version, refused)
        assert ('CustomResourceDefinition in version "v1" cannot be handled as a '
                'CustomResourceDefinition: strict decoding error: unknown field "%s"' % refused) \
            in r.stderr, r.stderr


def test_cel_rules_are_enforced_from_the_oldest_version_and_must_compile(apiserver_factory):
    srv = played(apiserver_factory, OLDEST)
    srv.kubectl("apply", "-f", "-", input=CRD_WITH % ("", "message: a is required"))
    r = srv.kubectl("apply", "-f", "-", check=False, input=(
        "apiVersion: example.joulie.io/v1\nkind: Thing\nmetadata: {name: t}\nspec: {}\n"))
    assert r.returncode != 0
    assert 'spec: Invalid value: "object": a is required' in r.stderr, r.stderr
    srv.kubectl("apply", "-f", "-", input=(
        "apiVersion: example.joulie.io/v1\nkind: Thing\nmetadata: {name: t}\nspec: {a: x}\n"))
    # A rule that does not compile makes the CRD invalid (kapi knows a CEL subset: in doubt it
    # refuses a rule a real server would accept, never the other way round).
    bad = (CRD_WITH.replace("things", "others").replace("Thing", "Other") % (
        "", "message: m")).replace('"has(self.a)"', '"self.a.frobnicate()"')
    r = srv.kubectl("apply", "-f", "-", check=False, input=bad)
    assert r.returncode != 0 and "compilation failed" in r.stderr, r.stderr


def test_selectable_fields_on_130_need_the_feature_gate(apiserver_factory):
    crd = CRD_WITH % ("selectableFields: [{jsonPath: .spec.a}]", "message: a")
    things = "/apis/example.joulie.io/v1/things"
    gate_off = played(apiserver_factory, "1.30")
    gate_off.kubectl("apply", "-f", "-", input=crd)   # known to 1.30, dropped: the gate is off
    stored = json.loads(gate_off.kubectl("get", "crd", "things.example.joulie.io", "-o",
                                         "json").stdout)
    assert "selectableFields" not in stored["spec"]["versions"][0]
    code, body = gate_off.api("GET", things, query={"fieldSelector": "spec.a=x"})
    assert code == 400 and "field label not supported: spec.a" in body["message"]
    gate_on = played(apiserver_factory, "1.30",
                     feature_gates={"CustomResourceFieldSelectors": True})
    gate_on.kubectl("apply", "-f", "-", input=crd)
    assert gate_on.api("GET", things, query={"fieldSelector": "spec.a=x"})[0] == 200


def test_selectable_fields_must_name_a_scalar_field(apiserver_factory):
    srv = played(apiserver_factory, NEWEST)
    r = srv.kubectl("apply", "-f", "-", check=False, input=CRD_WITH % (
        "selectableFields: [{jsonPath: .spec.nope}]", "message: a"))
    assert r.returncode != 0 and "does not refer to a field in the schema" in r.stderr, r.stderr


# ---- Joulie's artefacts on every played version ---------------------------------------------------

@pytest.mark.parametrize("version", PLAYED)
def test_crds_and_every_variant_apply_with_strict_validation(apiserver_factory, version):
    """docs/design.md#supported-kubernetes-versions: crds/ and every kustomize variant apply with
    plain kubectl on 1.25 and newer. (crds/ with selectableFields, as on main before issue 9, fails
    here on 1.25 and 1.29.)"""
    srv = played(apiserver_factory, version)
    out = apply(srv, "-f", str(REPO / "crds")).stdout
    assert "nodepowerprofiles.joulie.io created" in out and "telemetryprofiles.joulie.io created" in out
    for variant in VARIANTS:
        r = apply(srv, "-k", str(REPO / variant), check=False)
        assert r.returncode == 0, "kubectl apply -k %s on %s:\n%s" % (variant, version, r.stderr)
        assert "Warning" not in r.stderr, r.stderr
    # Everything the variants define exists, and re-applying changes nothing.
    for kind, name in (("deployment", "joulie-operator"), ("daemonset", "joulie-agent"),
                       ("statefulset", "joulie-agent-pool"), ("service", "joulie-agent-pool"),
                       ("clusterrole", "joulie-agent-pool"), ("serviceaccount", "joulie-agent")):
        srv.kubectl("get", "-n", "joulie-system", kind, name)
    again = apply(srv, "-k", str(REPO / VARIANTS[-1])).stdout
    assert "configured" not in again and "created" not in again, again
    assert json.loads(srv.kubectl("get", "statefulset", "-n", "joulie-system", "joulie-agent-pool",
                                  "-o", "json").stdout)["spec"]["replicas"] == 5


@pytest.mark.parametrize("version", PLAYED)
def test_field_selector_component_applies_where_supported(apiserver_factory, version):
    srv = played(apiserver_factory, version)
    r = apply(srv, "-k", str(REPO / COMPONENT_EXAMPLE), check=False)
    selector = ["get", "npp", "--field-selector", "spec.nodeName=b", "-o", "name"]
    if minor(version) < 30:
        assert r.returncode != 0
        assert 'strict decoding error: unknown field "spec.versions[0].selectableFields"' in r.stderr
        return
    assert r.returncode == 0, r.stderr
    srv.kubectl("apply", "-f", "-", input="".join(
        "---\napiVersion: joulie.io/v1alpha1\nkind: NodePowerProfile\nmetadata: {name: node-%s}\n"
        "spec: {nodeName: %s, profile: eco}\n" % (n, n) for n in "ab"))
    got = srv.kubectl(*selector, check=False)
    if minor(version) < FIELD_SELECTORS_FROM:
        assert got.returncode != 0 and "field label not supported" in got.stderr, got.stderr
    else:
        assert got.stdout.split() == ["nodepowerprofile.joulie.io/node-b"], got.stderr
    # The component also composes with the pool overlay.
    srv.kubectl("apply", "-k", srv.kustomization(["manifests/overlays/pool"], [COMPONENT]))


# ---- the agent uses the field selector where it exists, and falls back elsewhere -----------------

@pytest.mark.parametrize("version,component,selects", [
    (NEWEST, True, True),      # component applied on a server that has the feature
    ("1.31", True, True),
    ("1.29", False, False),    # crds/ only: the agent falls back
    (NEWEST, False, False),    # crds/ only on a new server: no selectable field, fallback too
])
def test_agent_selects_its_node_by_field_where_the_server_can(apiserver_factory, procs, joulie_bin,
                                                              tmp_path, version, component, selects):
    srv = apiserver_factory(server_version=version)
    if component:
        srv.apply_field_selector_component()
    else:
        srv.apply_crds()
    tree = make_tree(tmp_path / "sys", packages=1)
    create_npp(srv, "other", cap=90)
    create_npp(srv, "n1", cap=170)
    srv.reset_counters()
    agent = start_agent(procs, joulie_bin, srv, tmp_path, tree=tree)
    wait_for(lambda: limit_uw(tree, 0) == 170_000_000, what="the node's own cap")
    set_cap(srv, "node-other", 95)
    set_cap(srv, "node-n1", 175)
    wait_for(lambda: limit_uw(tree, 0) == 175_000_000, what="the node's own change")
    selectors = srv.counters()["fieldSelectors"]
    watched = selectors.get("watch", {}).get("nodepowerprofiles", {})
    listed = selectors.get("list", {}).get("nodepowerprofiles", {})
    fallback = metric_value(scrape(metrics_port(agent)), "joulie_agent_field_selector_fallback")
    if selects:
        assert watched.get("spec.nodeName=n1", 0) >= 1, selectors
        assert listed.get("spec.nodeName=n1", 0) >= 1, selectors
        assert fallback == 0
        assert "refused the spec.nodeName field selector" not in agent.output()
    else:
        assert watched == {}, "the fallback watches without a field selector: %s" % selectors
        assert fallback == 1
        assert agent.output().count("refused the spec.nodeName field selector") == 1
    assert "status" not in srv.get(NPP + "/node-other")     # other nodes' objects untouched
