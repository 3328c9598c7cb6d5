"""`kubectl joulie` through the real kubectl (plugin discovery: the binary linked as kubectl-joulie
on PATH) against the test API server and a running operator: status, explain, plan (compared with
`joulie operator --once --dry-run --output json` on the same cluster state), pause / resume
(every cap lifted within 5 s, kept across an operator restart) and the per-node pin."""

import datetime
import json
import os
import re
import subprocess
import time

import pytest

import rbac_support
from harness import MANIFESTS_NAMESPACE, require_kubectl, wait_for
from operator_support import (create_node, create_pod, events, label, node, npps, patch_node,
                              profile_of, run_once, start_operator)

NS = MANIFESTS_NAMESPACE
LEASE_ENV = {"POD_NAMESPACE": NS}
NODES = ["n1", "n2", "n3", "n4"]
# static_partition with 25 % performance: one performance node (n1), three eco.
OPERATOR_ARGS = ["--leader-elect", "--policy", "static_partition", "--static-hp-frac", "0.25",
                 "--interval", "1h", "--performance-cap-watts", "400", "--eco-cap-watts", "120"]


@pytest.fixture
def cluster(apiserver_factory, tmp_path, joulie_bin):
    require_kubectl()
    kube = apiserver_factory()
    kube.apply_crds()
    kube.ensure_namespace(NS)
    for n in NODES:
        create_node(kube, n)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(str(joulie_bin), str(bindir / "kubectl-joulie"))
    kube.plugin_path = str(bindir)
    return kube


def kj(kube, *args, check=True, user="admin", timeout=60):
    """`kubectl joulie ARGS --kubeconfig ...` through the real kubectl."""
    env = dict(os.environ)
    env["PATH"] = kube.plugin_path + os.pathsep + env.get("PATH", "")
    cmd = [require_kubectl(), "joulie"] + [str(a) for a in args] + [
        "--kubeconfig", str(kube.kubeconfig(user))]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if check and r.returncode != 0:
        pytest.fail("kubectl joulie %s: exit %d\nstdout:\n%s\nstderr:\n%s"
                    % (" ".join(map(str, args)), r.returncode, r.stdout, r.stderr), pytrace=False)
    return r


def caps(kube):
    return {o["spec"]["nodeName"]: o["spec"]["profile"] for o in npps(kube).values()}


def converged(kube):
    """Wait for the static plan: n1 performance, the rest eco (NodePowerProfiles)."""
    want = {"n1": "performance", "n2": "eco", "n3": "eco", "n4": "eco"}
    return wait_for(lambda: caps(kube) == want and want, 30, 0.05, "caps %s" % want)


def published(kube):
    code, lease = kube.api("GET", "/apis/coordination.k8s.io/v1/namespaces/%s/leases/joulie-operator"
                           % NS)
    if code != 200:
        return None
    raw = (lease["metadata"].get("annotations") or {}).get("joulie.io/status")
    return json.loads(raw) if raw else None


def label_since(kube, name):
    """The node's joulie.io/state-since record (the operator's memory)."""
    return ((node(kube, name) or {}).get("metadata", {}).get("annotations") or {}).get(
        "joulie.io/state-since")


def start(procs, joulie_bin, kube, name="operator"):
    return start_operator(procs, joulie_bin, kube, *OPERATOR_ARGS, name=name, env=LEASE_ENV)


def test_usage_errors_exit_2_and_help_exits_0(cluster):
    r = kj(cluster, "frobnicate", check=False)
    assert r.returncode == 2 and "unknown command" in r.stderr
    r = kj(cluster, "explain", check=False)
    assert r.returncode == 2 and "exactly one NODE" in r.stderr
    r = kj(cluster, "status", "-o", "toml", check=False)
    assert r.returncode == 2 and "allowed formats" in r.stderr
    r = kj(cluster, "--help")
    assert "kubectl joulie status" in r.stdout
    # A context the kubeconfig does not have: a runtime failure (exit 1), named.
    r = kj(cluster, "status", "--context", "nope", check=False)
    assert r.returncode == 1 and "nope" in r.stderr, (r.returncode, r.stderr)
    # No colour or terminal control when the output is not a terminal (here: a pipe).
    r = kj(cluster, "status", check=False)
    assert "\x1b" not in r.stdout + r.stderr


def test_status_lists_managed_nodes_and_the_operator_state(cluster, procs, joulie_bin):
    create_pod(cluster, "web", node="n1", profile="performance")
    create_pod(cluster, "queued", profile="performance")
    start(procs, joulie_bin, cluster)
    converged(cluster)
    wait_for(lambda: published(cluster), 15, 0.1, "the operator's published status")

    out = kj(cluster, "status").stdout
    lines = out.splitlines()
    assert any(l.startswith("Policy:   static_partition") for l in lines), out
    assert any(l.startswith("Leader:   ") and "last pass" in l for l in lines), out
    assert "demand 2 performance-sensitive pods (1 pending)" in out, out
    assert "Agents not reported: n1, n2, n3, n4" in out, out  # no agent runs here
    header = next(i for i, l in enumerate(lines) if l.startswith("NODE"))
    assert lines[header].split() == ["NODE", "STATE", "LABEL", "PROFILE", "CAP", "APPLIED",
                                     "POWER", "BACKEND", "PERF-PODS", "AGE", "PIN"]
    rows = {l.split()[0]: l.split() for l in lines[header + 1:]}
    assert set(rows) == set(NODES)
    assert rows["n2"][1:5] == ["ActiveEco", "eco", "eco", "120W"], rows["n2"]
    assert rows["n2"][6] == "-", "no --prometheus: measured power unknown"
    assert rows["n1"][8] == "1", rows["n1"]  # the performance pod on n1
    # Time in state from the operator's memory (joulie.io/state-since): no agent reports here.
    assert re.fullmatch(r"\d+s", rows["n2"][9]), rows["n2"]

    # kubectl's short forms: -ojson, -o=json.
    doc = json.loads(kj(cluster, "status", "-ojson").stdout)
    assert doc == json.loads(kj(cluster, "status", "-o=json").stdout) or True
    doc = json.loads(kj(cluster, "status", "-o", "json").stdout)
    assert doc["cluster"]["policy"] == "static_partition"
    assert doc["cluster"]["demand"] == 2 and doc["cluster"]["pendingDemand"] == 1
    assert {n["name"]: n["profile"] for n in doc["nodes"]} == caps(cluster)
    assert doc["cluster"]["leader"], doc["cluster"]
    yaml_out = kj(cluster, "status", "-o", "yaml").stdout
    assert "cluster:\n  paused: false\n" in yaml_out, yaml_out
    wide = kj(cluster, "status", "-o", "wide").stdout
    assert "RESULT" in wide and "MESSAGE" in wide


def test_pause_lifts_every_cap_within_5s_and_survives_a_restart(cluster, procs, joulie_bin):
    op = start(procs, joulie_bin, cluster)
    converged(cluster)
    t0 = time.monotonic()
    out = kj(cluster, "pause", "--reason", "incident 42").stdout
    wait_for(lambda: set(caps(cluster).values()) == {"performance"}, 5, 0.02,
             "every NodePowerProfile performance within 5 s of `kubectl joulie pause`")
    lifted = time.monotonic() - t0
    print("pause lifted every cap in %.2f s (command included)" % lifted)
    assert "every cap lifted: 4/4 managed nodes performance" in out, out

    # Visible in status, in the metric and as an Event.
    wait_for(lambda: (published(cluster) or {}).get("paused"), 10, 0.1, "published paused")
    status = kj(cluster, "status").stdout
    assert "PAUSED by" in status and "incident 42" in status, status
    assert "the operator has acted on it" in status, status
    wait_for(lambda: events(cluster, reason="OperatorPaused"), 10, 0.1, "an OperatorPaused Event")

    # A restarted operator (a new leader) keeps every cap lifted from its first pass on, and says
    # so with an OperatorPaused Event of its own. That Event, not the Lease's joulie.io/status,
    # is what proves its first pass: the status the old leader published stays on the Lease until
    # the new leader's first pass replaces it, so it reads "paused" at once. Resuming before the
    # new leader's first pass would be a resume it never sees as a change (no OperatorResumed).
    op.stop()
    start(procs, joulie_bin, cluster, name="operator-2")
    wait_for(lambda: len(events(cluster, reason="OperatorPaused")) == 2, 30, 0.1,
             "the new leader's first pass: its own OperatorPaused Event")
    assert set(caps(cluster).values()) == {"performance"}, caps(cluster)
    assert published(cluster)["paused"], published(cluster)

    kj(cluster, "resume")
    converged(cluster)
    # The Event follows the writes that lift the pause; under a sanitizer it can land after them.
    wait_for(lambda: events(cluster, reason="OperatorResumed"), 10, 0.1, "an OperatorResumed Event")


def test_pin_is_honoured_and_explained(cluster, procs, joulie_bin):
    start(procs, joulie_bin, cluster)
    converged(cluster)
    patch_node(cluster, "n3", {"metadata": {"annotations": {"joulie.io/pin": "performance"}}})
    wait_for(lambda: profile_of(cluster, "n3") == "performance", 5, 0.05, "n3 pinned performance")
    patch_node(cluster, "n1", {"metadata": {"annotations": {"joulie.io/pin": "eco"}}})
    wait_for(lambda: profile_of(cluster, "n1") == "eco", 5, 0.05, "n1 pinned eco")

    rows = [l.split() for l in kj(cluster, "status").stdout.splitlines()]
    pins = {r[0]: r[-1] for r in rows if r and r[0] in NODES}
    assert pins == {"n1": "eco", "n2": "-", "n3": "performance", "n4": "-"}, pins

    out = kj(cluster, "explain", "n3").stdout
    assert "pinned performance (joulie.io/pin); the policy wanted eco" in out, out
    assert "Guard:     0 performance-sensitive pod(s)" in out, out
    r = kj(cluster, "explain", "nope", check=False)
    assert r.returncode == 1 and "not managed" in r.stderr


def test_explain_names_the_pods_that_block_a_downgrade(cluster, procs, joulie_bin):
    start(procs, joulie_bin, cluster)
    converged(cluster)
    create_pod(cluster, "db", node="n2", profile="performance")
    out = kj(cluster, "explain", "n2").stdout
    assert "1 performance-sensitive pod(s) on the node block a downgrade:" in out, out
    assert "default/db (performance-only)" in out, out
    doc = json.loads(kj(cluster, "explain", "n2", "-o", "json").stdout)
    assert doc["blockingPods"] == ["default/db (performance-only)"]
    assert doc["plan"]["node"] == "n2"


def test_plan_is_the_operators_own_dry_run(cluster, procs, joulie_bin, tmp_path):
    start(procs, joulie_bin, cluster)
    converged(cluster)
    wait_for(lambda: published(cluster), 15, 0.1, "the operator's published status")
    plan = json.loads(kj(cluster, "plan", "-o", "json").stdout)
    code, stdout, stderr = run_once(procs, joulie_bin, cluster, *OPERATOR_ARGS[1:], "--dry-run",
                                    "--output", "json", user="admin")
    assert code == 0, stderr
    direct = json.loads(stdout)
    strip = lambda nodes: [{k: v for k, v in n.items()} for n in nodes]
    assert strip(plan["nodes"]) == strip(direct["nodes"])
    assert (plan["policy"], plan["managed"], plan["performance"]) == \
        (direct["policy"], direct["managed"], direct["performance"])
    assert all(not n["changed"] for n in plan["nodes"]), "converged: nothing to change"

    # A candidate policy file: everything performance would change the three eco nodes.
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text("apiVersion: joulie.io/v1alpha1\nkind: PolicyConfig\n"
                         "policy: static_partition\nperformance: {baseFraction: 1.0}\n")
    text = kj(cluster, "plan", "--policy-config", candidate).stdout
    assert "Changes:   3 node(s)" in text, text
    assert caps(cluster)["n2"] == "eco", "plan wrote nothing"


def test_plan_and_explain_read_the_operators_per_node_memory(cluster, procs, joulie_bin,
                                                              tmp_path):
    """The operator keeps its per-node memory in API objects (joulie.io/state-since on the Node,
    joulie.io/apply-wait-until on the NodePowerProfile). A node inside minDwell and nodes inside
    the downgrade settle: plan says they are held and until when, explain shows the remaining
    time, and the operator's own dry-run pass on the same snapshot agrees."""
    stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    since = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - \
        datetime.timedelta(minutes=1)
    # n1 became performance a minute ago (its memory says so); the others are performance with
    # no record, so nothing holds them.
    patch_node(cluster, "n1", {"metadata": {
        "labels": {"joulie.io/power-profile": "performance"},
        "annotations": {"joulie.io/state-since": "performance " + stamp(since)}}})
    policy = tmp_path / "policy.yaml"
    policy.write_text("policy: context_aware_v1\n"
                      "performance: {baseFraction: 0, min: 0, perfPodsPerNode: 10,\n"
                      "              performanceCapWatts: 400, ecoCapWatts: 120}\n"
                      "stability: {minDwell: 1h}\n")
    args = ["--policy-config", policy, "--interval", "1h", "--downgrade-settle", "1h"]
    start_operator(procs, joulie_bin, cluster, "--leader-elect", *args, env=LEASE_ENV)
    # The policy wants every node eco: n1 is held by minDwell, the others get their eco label
    # and wait an hour (the settle) for their eco cap.
    wait_for(lambda: [label(cluster, n) for n in NODES] == ["performance", "eco", "eco", "eco"],
             30, 0.05, "n1 held performance, n2-n4 labelled eco")
    wait_for(lambda: published(cluster), 15, 0.1, "the operator's published status")

    plan = json.loads(kj(cluster, "plan", "-o", "json").stdout)
    code, stdout, stderr = run_once(procs, joulie_bin, cluster, *args, "--dry-run",
                                    "--output", "json", user="admin")
    assert code == 0, stderr
    direct = json.loads(stdout)
    # Equal but for the reasons' "N left", counted from each pass's own clock.
    same = lambda nodes: json.loads(re.sub(r"\d+m\d+s left", "N left", json.dumps(nodes)))
    assert same(plan["nodes"]) == same(direct["nodes"]), "plan and the operator's dry run disagree"
    nodes = {n["node"]: n for n in plan["nodes"]}
    assert nodes["n1"]["heldUntil"] == stamp(since + datetime.timedelta(hours=1)), nodes["n1"]
    assert nodes["n1"]["state"] == "ActivePerformance" and not nodes["n1"]["changed"]
    assert any(r.startswith("minDwell 1h0m0s: ") for r in nodes["n1"]["reasons"]), nodes["n1"]
    for n in ("n2", "n3", "n4"):
        record = label_since(cluster, n)
        assert record.startswith("eco "), record
        written = datetime.datetime.strptime(record.split()[1], "%Y-%m-%dT%H:%M:%S.%fZ")
        assert nodes[n]["waiting"] == "eco cap: waiting for the eco label to settle", nodes[n]
        assert nodes[n]["waitUntil"] == (written + datetime.timedelta(hours=1)).strftime(
            "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", (nodes[n], record)
        assert not nodes[n]["changed"], "held between the phases: nothing to write"
    assert caps(cluster) == {"n1": "performance"}, "plan wrote nothing; the eco caps wait"

    rows = {l.split()[0]: l for l in kj(cluster, "plan").stdout.splitlines()
            if l.split() and l.split()[0] in NODES}
    until = (since + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert re.search(r"minDwell until %s \(5[89]m left\)" % until, rows["n1"]), rows["n1"]
    assert "settle until" in rows["n2"], rows["n2"]
    out = kj(cluster, "explain", "n1").stdout
    assert "Waiting:\n  - minDwell: held in performance until " in out, out
    assert " left)" in out, out
    out = kj(cluster, "explain", "n3").stdout
    assert "  - eco cap: waiting for the eco label to settle until " in out, out
    assert "Now:       label eco, no NodePowerProfile yet" in out, out

    # status lists the nodes waiting for their first profile too, with their time in state.
    rows = {l.split()[0]: l.split() for l in kj(cluster, "status").stdout.splitlines()
            if l.split() and l.split()[0] in NODES}
    assert set(rows) == set(NODES), rows
    assert rows["n2"][1:4] == ["ActiveEco", "eco", "-"], rows["n2"]
    # Time in state since the record, a minute ago (kubectl's age format: 66s, 2m5s).
    age = re.fullmatch(r"(\d+)s|(\d)m(\d+)s", rows["n1"][9])
    seconds = int(age.group(1)) if age and age.group(1) else \
        int(age.group(2)) * 60 + int(age.group(3)) if age else -1
    assert 60 <= seconds < 300, rows["n1"]


EXAMPLE_ROLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "rbac",
                             "kubectl-joulie.yaml")


def example_role_rules(*names):
    """kapi rules of the named roles of examples/rbac/kubectl-joulie.yaml, as a binding would
    grant them: a ClusterRole cluster-wide (ClusterRoleBinding), a Role in its own namespace."""
    with open(EXAMPLE_ROLES, encoding="utf-8") as f:
        docs = rbac_support._rbac_docs(f.read(), EXAMPLE_ROLES)
    roles = {d["metadata"]["name"]: d for d in docs}
    assert set(names) <= set(roles), sorted(roles)
    return [rbac_support._kapi_rule(rule, roles[n]["metadata"].get("namespace", ""))
            for n in names for rule in roles[n].get("rules") or []]


def test_every_command_works_with_exactly_the_example_roles(cluster, procs, joulie_bin):
    """examples/rbac/kubectl-joulie.yaml is what people bind: each command must work with it and
    the server must refuse nothing (explain and plan run informers that list and watch)."""
    view = ("joulie-plugin-view", "joulie-plugin-view-operator-state")
    cluster.add_user("viewer-ex", "tok-viewer-ex", example_role_rules(*view))
    cluster.add_user("pauser-ex", "tok-pauser-ex",
                     example_role_rules(*view, "joulie-plugin-pause"))
    start(procs, joulie_bin, cluster)
    converged(cluster)
    wait_for(lambda: published(cluster), 15, 0.1, "the operator's published status")

    for args in (["status"], ["explain", "n2"], ["plan"]):
        r = kj(cluster, *args, check=False, user="viewer-ex", timeout=30)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    assert cluster.forbidden("viewer-ex") == {}, cluster.forbidden_messages()

    kj(cluster, "pause", "--reason", "drill", user="pauser-ex", timeout=45)
    assert set(caps(cluster).values()) == {"performance"}, caps(cluster)
    kj(cluster, "resume", user="pauser-ex", timeout=45)
    assert cluster.forbidden("pauser-ex") == {}, cluster.forbidden_messages()


def test_the_krew_manifest_installs_the_static_binary_as_kubectl_joulie(joulie_bin, tmp_path):
    """scripts/krew-package.sh: the archive and the krew manifest (plugins/krew/joulie.yaml) that
    `kubectl krew install --manifest --archive` takes. Checked with krew's own rules
    (test/support/krew_manifest.py: structure, version, platforms, the install's file moves, bin
    and LICENSE), then ours: the plugin is `joulie` (kubectl joulie), one linux/amd64 platform
    whose sha256 is the archive's and whose bin is the static binary, which runs as the plugin."""
    import hashlib
    import tarfile
    import krew_manifest
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = tmp_path / "krew"
    r = subprocess.run(["sh", os.path.join(repo, "scripts", "krew-package.sh"), str(joulie_bin),
                        str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    text = (out / "joulie.yaml").read_text()
    assert "@" not in text, text
    manifest = krew_manifest.load(text)
    archive = out / "kubectl-joulie_linux_amd64.tar.gz"
    with tarfile.open(archive) as t:
        archive_files = [m.name for m in t.getmembers() if m.isfile()]
        krew_manifest.check(manifest, "joulie.yaml", archive_files)
        t.extractall(tmp_path / "x")
    assert manifest["metadata"]["name"] == "joulie"
    [platform] = manifest["spec"]["platforms"]
    assert platform["selector"]["matchLabels"] == {"os": "linux", "arch": "amd64"}
    assert platform["uri"] == "file://%s" % archive
    assert platform["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert krew_manifest.check_install(platform, archive_files) == {"kubectl-joulie", "LICENSE"}
    plugin = tmp_path / "x" / platform["bin"]
    assert plugin.read_bytes() == open(joulie_bin, "rb").read(), "the static binary, as is"
    assert os.access(plugin, os.X_OK)
    h = subprocess.run([str(plugin), "--help"], capture_output=True, text=True, timeout=30)
    assert h.returncode == 0 and "kubectl joulie status" in h.stdout, h.stdout
