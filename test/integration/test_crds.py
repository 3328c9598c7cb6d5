"""The CRDs of docs/design.md#api-objects (crds/*.yaml).

Offline part: the files are valid apiextensions.k8s.io/v1 CRDs with *structural* schemas (the
rules the API server enforces before it accepts a CRD), the printer columns and selectable fields
point at declared fields, and the validation rules match the spec.
Server part: applied with kubectl to the test API server (or to a real one through
JOULIE_E2E_KUBECONFIG), bad objects are refused at admission and `kubectl get` prints the columns.

Run: /usr/bin/python3 -m pytest test/integration/test_crds.py -q
"""

import json
import os
import re

import pytest

from ship_yaml import REPO, load_yaml_file

NPP_FILE = os.path.join(REPO, "crds", "joulie.io_nodepowerprofiles.yaml")
TP_FILE = os.path.join(REPO, "crds", "joulie.io_telemetryprofiles.yaml")

JSON_TYPES = {"object", "array", "string", "integer", "number", "boolean"}
# Keywords a structural schema may use (apiextensions v1 JSONSchemaProps minus $ref & co).
ALLOWED_KEYS = {
    "type", "format", "description", "title", "default", "enum", "nullable", "example",
    "properties", "additionalProperties", "items", "required",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems",
    "minProperties", "maxProperties",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string",
    "x-kubernetes-embedded-resource", "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type", "x-kubernetes-validations",
}


@pytest.fixture(scope="module")
def npp():
    docs = load_yaml_file(NPP_FILE)
    assert len(docs) == 1
    return docs[0]


@pytest.fixture(scope="module")
def tp():
    docs = load_yaml_file(TP_FILE)
    assert len(docs) == 1
    return docs[0]


def version(crd):
    versions = crd["spec"]["versions"]
    assert len(versions) == 1
    return versions[0]


def schema(crd):
    return version(crd)["schema"]["openAPIV3Schema"]


def at(node, dotted):
    """The schema node of a dotted field path (``spec.cpu.packagePowerCapWatts``)."""
    for part in dotted.split("."):
        if node.get("type") == "array":
            node = node["items"]
        node = node["properties"][part]
    return node


# ---- structural schema rules ------------------------------------------------------------------

def structural_problems(node, path, root=False):
    """The structural-schema violations the API server would report, as readable strings."""
    problems = []
    unknown = set(node) - ALLOWED_KEYS
    if unknown:
        problems.append("%s: keywords not allowed in a structural schema: %s" % (path, sorted(unknown)))
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    int_or_string = node.get("x-kubernetes-int-or-string") is True
    typ = node.get("type")
    if typ is None and not (preserve or int_or_string):
        problems.append("%s: type must not be empty" % path)
    if typ is not None and typ not in JSON_TYPES:
        problems.append("%s: unknown type %r" % (path, typ))
    if root and typ != "object":
        problems.append("%s: the root must be of type object" % path)
    if root and "additionalProperties" in node:
        problems.append("%s: additionalProperties is not allowed at the root" % path)
    if "properties" in node and typ != "object":
        problems.append("%s: properties on a non-object" % path)
    if "properties" in node and isinstance(node.get("additionalProperties"), dict):
        problems.append("%s: properties and additionalProperties are exclusive" % path)
    if typ == "array" and not isinstance(node.get("items"), dict):
        problems.append("%s: an array needs one items schema" % path)
    if "items" in node and typ != "array":
        problems.append("%s: items on a non-array" % path)
    for req in node.get("required", []):
        if req not in node.get("properties", {}):
            problems.append("%s: required field %r is not declared" % (path, req))
    for value in node.get("enum", []):
        expected = {"string": str, "integer": int, "number": (int, float), "boolean": bool}.get(typ)
        if expected is not None and not isinstance(value, expected):
            problems.append("%s: enum value %r is not a %s" % (path, value, typ))
    if "default" in node:
        problems.append("%s: defaults are not used (the test API server and older clients would "
                        "disagree with a real server)" % path)
    if node.get("x-kubernetes-list-type") == "map":
        item = node.get("items", {})
        for key in node.get("x-kubernetes-list-map-keys", []):
            if key not in item.get("required", []):
                problems.append("%s: list-map key %r must be required in the items" % (path, key))
    for rule in node.get("x-kubernetes-validations", []):
        if not rule.get("rule") or not rule.get("message"):
            problems.append("%s: a validation rule needs rule and message" % path)
    for name, sub in node.get("properties", {}).items():
        sub_path = "%s.%s" % (path, name)
        if path == "" and name == "metadata":
            # Only name/generateName may be constrained at the root; we constrain nothing.
            if sub != {"type": "object"}:
                problems.append("metadata: must be exactly {type: object}")
            continue
        if name == "metadata":
            problems.append("%s: metadata is only allowed at the root" % sub_path)
        problems += structural_problems(sub, sub_path.lstrip("."))
    if isinstance(node.get("items"), dict):
        problems += structural_problems(node["items"], path + "[]")
    if isinstance(node.get("additionalProperties"), dict):
        problems += structural_problems(node["additionalProperties"], path + "{}")
    return problems


def test_structural_checker_catches_violations():
    """The checker below is only worth something if it can fail."""
    assert structural_problems({"type": "object", "properties": {"a": {}}}, "", root=True)
    assert structural_problems({"type": "object", "properties": {"a": {"type": "array"}}}, "", root=True)
    assert structural_problems({"type": "object", "required": ["x"]}, "", root=True)
    assert structural_problems({"type": "object", "properties": {"a": {"type": "string",
                                                                       "anyOf": []}}}, "", root=True)
    assert structural_problems({"type": "string"}, "", root=True)
    assert not structural_problems({"type": "object", "properties": {
        "a": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}, "", root=True)


@pytest.mark.parametrize("which", ["npp", "tp"])
def test_schema_is_structural(request, which):
    crd = request.getfixturevalue(which)
    assert structural_problems(schema(crd), "", root=True) == []


@pytest.mark.parametrize("which,kind,plural,short", [
    ("npp", "NodePowerProfile", "nodepowerprofiles", "npp"),
    ("tp", "TelemetryProfile", "telemetryprofiles", "tp"),
])
def test_crd_identity(request, which, kind, plural, short):
    crd = request.getfixturevalue(which)
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == plural + ".joulie.io"
    spec = crd["spec"]
    assert spec["group"] == "joulie.io"
    assert spec["scope"] == "Cluster"
    names = spec["names"]
    assert (names["kind"], names["plural"], names["listKind"]) == (kind, plural, kind + "List")
    assert names["singular"] == kind.lower()
    assert names["shortNames"] == [short]
    assert "joulie" in names["categories"]
    v = version(crd)
    assert (v["name"], v["served"], v["storage"]) == ("v1alpha1", True, True)
    assert v["subresources"] == {"status": {}}


# ---- printer columns and selectable fields point at declared fields ----------------------------

_STEP = re.compile(r"""\.([A-Za-z0-9_]+)|\[\?\(@\.([A-Za-z0-9_]+)=="([^"]*)"\)\]""")


def resolve_jsonpath(root_schema, path):
    """Walks a printer-column JSONPath through the schema; returns the leaf schema node."""
    node, pos = root_schema, 0
    while pos < len(path):
        m = _STEP.match(path, pos)
        assert m, "unsupported JSONPath %r" % path
        if m.group(1):
            if m.group(1) == "metadata":
                return {"type": "object"}
            assert node.get("type") == "object", "%s: .%s on a non-object" % (path, m.group(1))
            node = node["properties"][m.group(1)]
        else:
            assert node.get("type") == "array", "%s: filter on a non-array" % path
            node = node["items"]
            key = node["properties"][m.group(2)]
            if "enum" in key:
                assert m.group(3) in key["enum"]
        pos = m.end()
    return node


def columns(crd):
    return [(c["name"], c["type"], c["jsonPath"]) for c in version(crd)["additionalPrinterColumns"]]


def test_npp_printer_columns(npp):
    assert columns(npp) == [
        ("Node", "string", ".spec.nodeName"),
        ("Profile", "string", ".spec.profile"),
        ("CPU-Watts", "number", ".spec.cpu.packagePowerCapWatts"),
        ("Applied", "string", '.status.conditions[?(@.type=="Applied")].status'),
        ("Backend", "string", ".status.backend"),
        ("Age", "date", ".metadata.creationTimestamp"),
    ]
    for _, typ, path in columns(npp):
        leaf = resolve_jsonpath(schema(npp), path)
        if typ in ("string", "number"):
            assert leaf["type"] == typ, path


def test_tp_printer_columns(tp):
    got = columns(tp)
    assert [c[0] for c in got][:4] == ["Scope", "Node", "CPU Source", "CPU Control"]
    assert got[:4] == [
        ("Scope", "string", ".spec.target.scope"),
        ("Node", "string", ".spec.target.nodeName"),
        ("CPU Source", "string", ".spec.sources.cpu.type"),
        ("CPU Control", "string", ".spec.controls.cpu.type"),
    ]
    for _, _, path in got:
        resolve_jsonpath(schema(tp), path)


# Fields of a CRD version that API servers before 1.30 do not know: none may be in crds/
# (docs/design.md#supported-kubernetes-versions: the base objects must apply on 1.25 and newer with
# kubectl's strict validation).
NEWER_THAN_125 = {"selectableFields"}


@pytest.mark.parametrize("which", ["npp", "tp"])
def test_crd_versions_use_no_field_newer_than_125(request, which):
    v = version(request.getfixturevalue(which))
    assert not NEWER_THAN_125 & set(v), "version-gated fields belong in manifests/components/"


def test_field_selector_component_makes_node_name_selectable():
    from ship_yaml import kustomize
    docs = kustomize(os.path.join(REPO, "examples", "field-selectors"))
    crd = [d for d in docs if d["kind"] == "CustomResourceDefinition"
           and d["metadata"]["name"] == "nodepowerprofiles.joulie.io"][0]
    assert version(crd)["selectableFields"] == [{"jsonPath": ".spec.nodeName"}]
    leaf = resolve_jsonpath(schema(crd), ".spec.nodeName")
    assert leaf["type"] == "string"
    others = [d for d in docs if d["kind"] == "CustomResourceDefinition" and d is not crd]
    assert others and all("selectableFields" not in version(d) for d in others)


# ---- the validation rules of docs/design.md#api-objects ------------------------------------------

def test_npp_spec_rules(npp):
    s = schema(npp)
    assert s["required"] == ["spec"]
    assert sorted(at(s, "spec")["required"]) == ["nodeName", "profile"]
    assert at(s, "spec.nodeName")["type"] == "string"
    assert at(s, "spec.nodeName")["minLength"] == 1
    assert at(s, "spec.profile")["enum"] == ["performance", "eco"]
    cap = at(s, "spec.cpu.packagePowerCapWatts")
    # The agent's own floor and ceiling (docs/operations.md, "Cap range"; issue 21).
    assert cap["type"] == "number" and cap["minimum"] == 10 and cap["maximum"] == 100000
    assert at(s, "spec.policy.name")["type"] == "string"


def test_npp_status_fields(npp):
    s = schema(npp)
    assert at(s, "status.backend")["enum"] == ["none", "rapl", "dvfs"]
    assert sorted(at(s, "status.result")["enum"]) == ["applied", "blocked", "error", "none"]
    assert at(s, "status.observedGeneration")["type"] == "integer"
    for f in ("message", "updatedAt"):
        assert at(s, "status." + f)["type"] == "string"
    assert at(s, "status.appliedCapWatts")["type"] == "number"
    cond = at(s, "status.conditions")
    assert cond["type"] == "array"
    assert set(cond["items"]["properties"]) == {"type", "status", "reason", "message",
                                                "lastTransitionTime", "observedGeneration"}
    assert cond["items"]["properties"]["status"]["enum"] == ["True", "False", "Unknown"]


SOURCES = ("cpu", "gpu", "thermal", "context")


def test_tp_spec_rules(tp):
    s = schema(tp)
    assert at(s, "spec")["required"] == ["target"]
    assert at(s, "spec.target")["required"] == ["scope"]
    assert at(s, "spec.target.scope")["enum"] == ["node", "cluster"]
    assert at(s, "spec.target.nodeName")["type"] == "string"
    for src in SOURCES:
        block = "spec.sources." + src
        assert at(s, block)["required"] == ["type"]
        assert at(s, block + ".type")["enum"] == ["none", "host", "http", "prometheus"]
        assert at(s, block + ".http.endpoint")["type"] == "string"
        timeout = at(s, block + ".http.timeoutSeconds")
        assert (timeout["type"], timeout["minimum"], timeout["maximum"]) == ("integer", 1, 300)
        assert at(s, block + ".prometheus.endpoint")["type"] == "string"
        assert at(s, block + ".prometheus.query")["type"] == "string"
    for ctl, modes in (("cpu", ["auto", "rapl", "dvfs"]), ("gpu", ["auto", "powercap", "clocks"])):
        block = "spec.controls." + ctl
        assert at(s, block)["required"] == ["type"]
        assert at(s, block + ".type")["enum"] == ["none", "host", "http"]
        assert at(s, block + ".http.mode")["enum"] == modes
        timeout = at(s, block + ".http.timeoutSeconds")
        assert (timeout["minimum"], timeout["maximum"]) == (1, 300)


def test_tp_status_fields(tp):
    s = schema(tp)
    for ctl in ("cpu", "gpu"):
        block = at(s, "status.control." + ctl)
        assert set(block["properties"]) == {"backend", "result", "message", "observed", "updatedAt"}
        assert sorted(block["properties"]["result"]["enum"]) == ["applied", "blocked", "error", "none"]
    snap = at(s, "status.snapshot")
    assert snap["x-kubernetes-preserve-unknown-fields"] is True


def test_cel_rules_are_present_for_real_servers(tp):
    """Cross-field rules a plain OpenAPI schema cannot express (checked by API servers >= 1.25)."""
    s = schema(tp)
    rules = [r["rule"] for r in at(s, "spec.target")["x-kubernetes-validations"]]
    assert any("nodeName" in r and "'node'" in r for r in rules)
    for src in SOURCES:
        rules = [r["rule"] for r in at(s, "spec.sources." + src)["x-kubernetes-validations"]]
        assert any("http.endpoint" in r for r in rules)


# ---- on an API server ---------------------------------------------------------------------------
# The `apiserver` fixture (test/integration/conftest.py) is the test API server, or a real one when
# JOULIE_E2E_KUBECONFIG is set.

LABEL = "joulie.io/test=crds"


def npp_object(name, **spec):
    body = {"nodeName": "worker-01", "profile": "eco", "cpu": {"packagePowerCapWatts": 120}}
    body.update(spec)
    body = {k: v for k, v in body.items() if v is not None}
    return {"apiVersion": "joulie.io/v1alpha1", "kind": "NodePowerProfile",
            "metadata": {"name": name}, "spec": body}


def tp_object(name, spec):
    return {"apiVersion": "joulie.io/v1alpha1", "kind": "TelemetryProfile",
            "metadata": {"name": name}, "spec": spec}


@pytest.fixture
def server(kube):
    """The API under test (the test API server, or JOULIE_E2E_KUBECONFIG's cluster) with both
    CRDs applied; objects made here are deleted afterwards."""
    kube.apply_crds()
    yield kube
    kubectl(kube, "delete", "nodepowerprofiles,telemetryprofiles", "-l", LABEL, "--wait=false")


def kubectl(api, *args):
    """Runs kubectl against ``api``; returns (ok, stdout + stderr)."""
    res = api.kubectl(*args, check=False)
    return res.returncode == 0, (res.stdout or "") + (res.stderr or "")


def create(api, tmp_path, obj):
    """kubectl create of ``obj``, labelled for clean-up (and the external tier's run label)."""
    obj = json.loads(json.dumps(obj))
    labels = obj["metadata"].setdefault("labels", {})
    labels["joulie.io/test"] = "crds"
    labels.update(getattr(api, "test_labels", {}) or {})
    path = tmp_path / ("%s.json" % obj["metadata"]["name"])
    path.write_text(json.dumps(obj))
    return kubectl(api, "create", "-f", str(path))


def table(text):
    """`kubectl get` output → (header cells, rows), split on runs of 2+ spaces."""
    lines = [line for line in text.splitlines() if line.strip()]
    split = [re.split(r"\s{2,}", line.strip()) for line in lines]
    return split[0], split[1:]


def test_crds_are_served_with_short_names_and_category(server):
    ok, out = kubectl(server, "api-resources", "--api-group=joulie.io", "-o", "wide")
    assert ok, out
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    assert "npp" in rows["nodepowerprofiles"].split()
    assert "tp" in rows["telemetryprofiles"].split()
    assert "joulie" in rows["nodepowerprofiles"] and "joulie" in rows["telemetryprofiles"]


BAD_OBJECTS = [
    ("profile turbo", npp_object("bad-profile", profile="turbo"), "spec.profile"),
    ("cap 0 W", npp_object("bad-cap", cpu={"packagePowerCapWatts": 0}), "spec.cpu.packagePowerCapWatts"),
    ("negative cap", npp_object("bad-neg", cpu={"packagePowerCapWatts": -5}),
     "spec.cpu.packagePowerCapWatts"),
    ("missing nodeName", npp_object("bad-node", nodeName=None), "spec.nodeName"),
    ("empty nodeName", npp_object("bad-empty", nodeName=""), "spec.nodeName"),
    ("missing profile", npp_object("bad-noprofile", profile=None), "spec.profile"),
    ("cap as text", npp_object("bad-text", cpu={"packagePowerCapWatts": "120W"}),
     "spec.cpu.packagePowerCapWatts"),
    ("scope rack", tp_object("bad-scope", {"target": {"scope": "rack"}}), "spec.target.scope"),
    ("no target", tp_object("bad-target", {"sources": {"cpu": {"type": "host"}}}), "spec.target"),
    ("timeout 0", tp_object("bad-t0", {"target": {"scope": "cluster"}, "sources": {"cpu": {
        "type": "http", "http": {"endpoint": "http://sim/t/{node}", "timeoutSeconds": 0}}}}),
     "spec.sources.cpu.http.timeoutSeconds"),
    ("timeout 301", tp_object("bad-t301", {"target": {"scope": "cluster"}, "controls": {"cpu": {
        "type": "http", "http": {"endpoint": "http://sim/c/{node}", "timeoutSeconds": 301}}}}),
     "spec.controls.cpu.http.timeoutSeconds"),
    ("cpu mode powercap", tp_object("bad-mode", {"target": {"scope": "cluster"}, "controls": {"cpu": {
        "type": "http", "http": {"endpoint": "http://sim/c/{node}", "mode": "powercap"}}}}),
     "spec.controls.cpu.http.mode"),
    ("source type snmp", tp_object("bad-src", {"target": {"scope": "cluster"},
                                               "sources": {"thermal": {"type": "snmp"}}}),
     "spec.sources.thermal.type"),
    ("control without type", tp_object("bad-notype", {"target": {"scope": "cluster"},
                                                      "controls": {"cpu": {"http": {}}}}),
     "spec.controls.cpu.type"),
    # The CEL rules (Kubernetes >= 1.25; the test API server evaluates them too).
    ("node scope without nodeName (CEL)", tp_object("bad-cel-node", {"target": {"scope": "node"}}),
     "target.nodeName is required when target.scope is node"),
    ("http source without endpoint (CEL)", tp_object("bad-cel-http", {
        "target": {"scope": "cluster"}, "sources": {"cpu": {"type": "http", "http": {}}}}),
     "spec.sources.cpu"),
    ("http control without http block (CEL)", tp_object("bad-cel-ctl", {
        "target": {"scope": "cluster"}, "controls": {"cpu": {"type": "http"}}}),
     "http.endpoint is required when type is http"),
]


def test_bad_objects_are_refused_at_admission(server, tmp_path):
    problems = []
    for why, obj, field in BAD_OBJECTS:
        ok, out = create(server, tmp_path, obj)
        if ok:
            problems.append("%s: accepted" % why)
        elif "is invalid" not in out or field not in out:
            problems.append("%s: refused without naming %s: %s" % (why, field, out.strip()))
        kind = "npp" if obj["kind"] == "NodePowerProfile" else "tp"
        if kubectl(server, "get", kind, obj["metadata"]["name"])[0]:
            problems.append("%s: the refused object exists" % why)
    assert problems == []


def test_good_objects_are_accepted(server, tmp_path):
    good = [npp_object("good-perf", profile="performance", cpu={"packagePowerCapWatts": 5000},
                       policy={"name": "static-partition-v1"}),
            npp_object("good-nocap", cpu=None),
            npp_object("good-fraction", cpu={"packagePowerCapWatts": 10.5}),
            tp_object("good-cluster", {"target": {"scope": "cluster"}}),
            tp_object("good-prom", {"target": {"scope": "node", "nodeName": "w"}, "sources": {
                "context": {"type": "prometheus", "prometheus": {
                    "endpoint": "http://prometheus:9090", "query": "up"}}}})]
    for obj in good:
        ok, out = create(server, tmp_path, obj)
        assert ok, "%s refused: %s" % (obj["metadata"]["name"], out)


def test_npp_columns_show_spec_and_applied_status(server, tmp_path):
    ok, out = create(server, tmp_path, npp_object("node-worker-01"))
    assert ok, out
    ok, out = kubectl(server, "get", "npp", "node-worker-01")
    assert ok, out
    header, rows = table(out)
    assert header == ["NAME", "NODE", "PROFILE", "CPU-WATTS", "APPLIED", "BACKEND", "AGE"]
    assert rows[0][:4] == ["node-worker-01", "worker-01", "eco", "120"]

    status = {"status": {"observedGeneration": 1, "backend": "rapl", "result": "applied",
                         "message": "RAPL long_term limit set on 2 packages",
                         "appliedCapWatts": 120, "updatedAt": "2026-11-29T10:00:00Z",
                         "conditions": [{"type": "Applied", "status": "True", "reason": "Applied",
                                         "message": "", "observedGeneration": 1,
                                         "lastTransitionTime": "2026-11-29T10:00:00Z"}]}}
    ok, out = kubectl(server, "patch", "npp", "node-worker-01", "--subresource=status",
                      "--type=merge", "-p", json.dumps(status))
    assert ok, out
    ok, out = kubectl(server, "get", "npp", "node-worker-01")
    header, rows = table(out)
    assert rows[0][:6] == ["node-worker-01", "worker-01", "eco", "120", "True", "rapl"]


def test_status_values_are_validated_too(server, tmp_path):
    ok, out = create(server, tmp_path, npp_object("node-worker-05", nodeName="worker-05"))
    assert ok, out
    ok, out = kubectl(server, "patch", "npp", "node-worker-05", "--subresource=status",
                      "--type=merge", "-p", json.dumps({"status": {"backend": "turbo"}}))
    assert not ok and "status.backend" in out, out


def test_agent_can_select_its_node_by_field(server, tmp_path):
    """With manifests/components/field-selectors (Kubernetes >= 1.31)."""
    ok, out = kubectl(server, "version", "-o", "json")
    assert ok, out
    minor = int(re.match(r"\d+", json.loads(out)["serverVersion"]["minor"]).group(0))
    if minor < 31:
        pytest.skip("the API server is 1.%d: CRD field selectors need 1.31" % minor)
    server.apply_field_selector_component()
    for node in ("worker-02", "worker-03"):
        ok, out = create(server, tmp_path, npp_object("node-" + node, nodeName=node))
        assert ok, out
    ok, out = kubectl(server, "get", "npp", "-l", LABEL, "--field-selector",
                      "spec.nodeName=worker-03", "-o", "name")
    assert ok, out
    assert out.split() == ["nodepowerprofile.joulie.io/node-worker-03"]


def test_tp_columns(server, tmp_path):
    spec = {"target": {"scope": "node", "nodeName": "worker-04"},
            "sources": {"cpu": {"type": "http", "http": {"endpoint": "http://sim:8080/t/{node}",
                                                         "timeoutSeconds": 2}}},
            "controls": {"cpu": {"type": "http", "http": {"endpoint": "http://sim:8080/c/{node}",
                                                          "mode": "dvfs"}}}}
    ok, out = create(server, tmp_path, tp_object("worker-04-sim", spec))
    assert ok, out
    ok, out = kubectl(server, "get", "tp", "worker-04-sim")
    assert ok, out
    header, rows = table(out)
    assert header[:5] == ["NAME", "SCOPE", "NODE", "CPU SOURCE", "CPU CONTROL"]
    assert rows[0][:5] == ["worker-04-sim", "node", "worker-04", "http", "http"]
