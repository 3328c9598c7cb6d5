"""Helpers for the agent integration tests (test_agent_*.py): the power simulator as a
subprocess, fake sysfs trees, NodePowerProfiles / TelemetryProfiles written through the API, and
starting ``joulie agent``. Every wait is bounded (harness.wait_for)."""

import http.client
import json
import re
import urllib.request

from fake_sysfs import FakeSysfs
from harness import PYTHON, SUPPORT_DIR, wait_for

NPP = "/apis/joulie.io/v1alpha1/nodepowerprofiles"
TP = "/apis/joulie.io/v1alpha1/telemetryprofiles"
ORIGINAL_LIMIT_UW = 200_000_000
SUBZONE_LIMIT = "class/powercap/intel-rapl:0:0/constraint_0_power_limit_uw"


def fnv1a32(text):
    h = 0x811C9DC5
    for b in text.encode():
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


# ------------------------------------------------------------------------------- simulator
class PowerSim:
    """test/support/powersim on a free port."""

    def __init__(self, procs, workdir, hang_seconds=5, args=()):
        port_file = workdir / "powersim.port"
        self.proc = procs.start("powersim", [PYTHON, "-m", "powersim", "--port", "0",
                                             "--port-file", port_file, "--hang-seconds",
                                             str(hang_seconds), *args],
                                env={"PYTHONPATH": str(SUPPORT_DIR), "PYTHONDONTWRITEBYTECODE": "1"})

        def port():
            assert self.proc.alive(), "powersim exited:\n" + self.proc.tail()
            try:
                text = port_file.read_text()
            except FileNotFoundError:
                return None
            return int(text) if text.endswith("\n") else None
        self.port = wait_for(port, 10, what="the power simulator's port file")
        self.base = "http://127.0.0.1:%d" % self.port

    def request(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            out = resp.read()
        finally:
            conn.close()
        assert resp.status == 200, (method, path, resp.status, out)
        return json.loads(out)

    def state(self, node):
        return self.request("GET", "/state/" + node)

    def states(self):
        return self.request("GET", "/state")

    def load(self, node, **kw):
        return self.request("POST", "/load/" + node, kw)

    def faults(self, node, **kw):
        return self.request("POST", "/faults/" + node, kw)

    def telemetry_endpoint(self):
        return self.base + "/telemetry/{node}"

    def control_endpoint(self):
        return self.base + "/control/{node}"


# ---------------------------------------------------------------------------------- sysfs
def make_tree(root, packages=2, policies=2, max_power_uw=250_000_000, mmio=False):
    tree = FakeSysfs(root)
    for n in range(packages):
        tree.add_rapl_package(n, max_power_uw=max_power_uw)
    if mmio:
        tree.add_rapl_mmio(0, max_power_uw=max_power_uw)
    for n in range(policies):
        tree.add_cpufreq_policy(n)
    return tree


def snapshot(tree, rels):
    return {rel: tree.path(rel).read_bytes() for rel in rels}


def limit_files(packages=2):
    return [FakeSysfs.rapl_limit_file(n) for n in range(packages)]


def freq_files(policies=2):
    return [FakeSysfs.policy_file(n, "scaling_max_freq") for n in range(policies)]


# ------------------------------------------------------------------------------ API objects
def npp_body(node, cap=None, profile="eco", name=None, policy=None):
    spec = {"nodeName": node, "profile": profile}
    if cap is not None:
        spec["cpu"] = {"packagePowerCapWatts": cap}
    if policy:
        spec["policy"] = {"name": policy}
    return {"apiVersion": "joulie.io/v1alpha1", "kind": "NodePowerProfile",
            "metadata": {"name": name or "node-" + node}, "spec": spec}


def create_npp(kube, node, cap=None, profile="eco", name=None, policy=None):
    code, obj = kube.api("POST", NPP, npp_body(node, cap, profile, name, policy))
    assert code == 201, (code, obj)
    return obj


def set_cap(kube, name, cap):
    code, obj = kube.api("PATCH", NPP + "/" + name, {"spec": {"cpu": {"packagePowerCapWatts": cap}}})
    assert code == 200, (code, obj)
    return obj


def delete_npp(kube, name):
    code, obj = kube.api("DELETE", NPP + "/" + name)
    assert code in (200, 202), (code, obj)


def npp_status(kube, name):
    code, obj = kube.api("GET", NPP + "/" + name)
    assert code == 200, (code, obj)
    return obj.get("status") or {}


def applied_condition(status):
    for c in status.get("conditions") or []:
        if c.get("type") == "Applied":
            return c
    return None


def create_tp(kube, name, spec):
    code, obj = kube.api("POST", TP, {"apiVersion": "joulie.io/v1alpha1", "kind": "TelemetryProfile",
                                      "metadata": {"name": name}, "spec": spec})
    assert code == 201, (code, obj)
    return obj


def tp_cpu_status(kube, name):
    code, obj = kube.api("GET", TP + "/" + name)
    assert code == 200, (code, obj)
    return ((obj.get("status") or {}).get("control") or {}).get("cpu") or {}


def http_tp_spec(sim, scope="cluster", node=None, mode="auto", control="http", source="http",
                 timeout=None):
    target = {"scope": scope}
    if node:
        target["nodeName"] = node
    spec = {"target": target}
    if source == "http":
        src = {"endpoint": sim.telemetry_endpoint()}
        spec["sources"] = {"cpu": {"type": "http", "http": src}}
    elif source:
        spec["sources"] = {"cpu": {"type": source}}
    if control == "http":
        http = {"endpoint": sim.control_endpoint(), "mode": mode}
        if timeout:
            http["timeoutSeconds"] = timeout
        spec["controls"] = {"cpu": {"type": "http", "http": http}}
    elif control:
        spec["controls"] = {"cpu": {"type": control}}
    return spec


# ---------------------------------------------------------------------------------- agent
def start_agent(procs, joulie_bin, kube, tmp_path, node="n1", tree=None, state_dir=None,
                interval="20s", args=(), user="agent", name="agent", env=None):
    argv = [joulie_bin, "agent", "--kubeconfig", kube.kubeconfig(user),
            "--metrics-addr", "127.0.0.1:0", "--interval", interval, "--log-level", "debug"]
    if node:
        argv += ["--node", node]
    argv += ["--sysfs-root", str(tree.root if tree else tmp_path / "no-sysfs"),
             "--state-dir", str(state_dir or tmp_path / "state")]
    argv += list(args)
    return procs.start(name, argv, env=env)


def metrics_port(proc, timeout=10):
    return int(proc.wait_for_log(r"serving /metrics.* port=(\d+)", timeout).group(1))


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        return r.read().decode()


def http_status(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def metric_value(text, name, **labels):
    """The value of one series, or None."""
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(got.get(k) == str(v) for k, v in labels.items()):
            return float(m.group(4))
    return None


def series_nodes(text, name):
    return set(re.findall(r'^%s\{[^}]*node="([^"]+)"' % re.escape(name), text, re.M))


def read_int(tree, rel):
    """An integer sysfs value, or None while the agent is rewriting the file (a write truncates
    it first, so a concurrent reader can see it empty)."""
    try:
        return int(tree.read(rel).strip())
    except (ValueError, FileNotFoundError):
        return None


def limit_uw(tree, n=0, mmio=False):
    return read_int(tree, FakeSysfs.rapl_limit_file(n, 0, mmio))


def max_freq(tree, n=0):
    return read_int(tree, FakeSysfs.policy_file(n, "scaling_max_freq"))
