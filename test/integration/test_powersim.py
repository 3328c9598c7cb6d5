"""The power simulator (test/support/powersim) behaves as docs/design.md#http-simulator-contract
says.

Run alone: PYTHONPATH=test/support /usr/bin/python3 -m pytest test/integration/test_powersim.py
"""

import http.client
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from fake_sysfs import FakeSysfs

PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
SUPPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support")


def wait_for(condition, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)  # bounded polling of a condition, not synchronisation by sleeping
    raise AssertionError("timed out waiting for " + what)


class Sim:
    def __init__(self, tmp_path, *args):
        self.port_file = tmp_path / "powersim.port"
        env = dict(os.environ, PYTHONPATH=SUPPORT, PYTHONDONTWRITEBYTECODE="1")
        self.log = open(tmp_path / "powersim.log", "w+")
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "powersim", "--port", "0", "--port-file", str(self.port_file),
             "--hang-seconds", "5", *args],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)

        def port():
            if self.proc.poll() is not None:
                raise AssertionError("powersim exited: " + self.output())
            try:
                text = self.port_file.read_text()
            except FileNotFoundError:
                return None
            return int(text) if text.endswith("\n") else None
        self.port = wait_for(port, what="the port file")
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def request(self, method, path, body=None, raw=None, timeout=None, conn=None):
        conn = conn or self.conn
        if timeout is not None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
        try:
            parsed = json.loads(payload)
        except ValueError:
            parsed = None
        return resp.status, parsed, payload

    def control(self, node, action, /, cap=150.0, pct=-1, **override):
        body = {"node": node, "action": action, "capWatts": cap, "throttlePct": pct,
                "ts": "2026-11-29T10:00:00.000Z"}
        body.update(override)
        return self.request("POST", "/control/" + node, body)

    def state(self, node):
        return self.request("GET", "/state/" + node)[1]

    def close(self):
        self.conn.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def sim_process(tmp_path_factory):
    s = Sim(tmp_path_factory.mktemp("powersim"))
    yield s
    s.close()


@pytest.fixture
def sim(sim_process):
    """One simulator process per module, every node forgotten before each test."""
    assert sim_process.request("POST", "/reset", {})[0] == 200
    return sim_process


def test_telemetry_shape_and_power_model(sim):
    status, body, _ = sim.request("GET", "/telemetry/n1")
    assert status == 200
    assert set(body) == {"node", "packagePowerWatts", "cpu", "ts"}
    assert body["node"] == "n1"
    assert body["packagePowerWatts"] == body["cpu"]["packagePowerWatts"] == 200.0  # 60 + 140
    assert body["ts"].endswith("Z") and "T" in body["ts"]

    status, state, _ = sim.request("POST", "/load/n1", {"load": 0.5})
    assert status == 200
    assert sim.request("GET", "/telemetry/n1")[1]["packagePowerWatts"] == 130.0
    assert sim.state("n1")["telemetryCalls"] == 2


def test_rapl_cap_clips_power(sim):
    status, body, _ = sim.control("n1", "rapl.set_power_cap_watts", cap=120.0, pct=-1)
    assert status == 200 and body["result"] == "applied"
    assert sim.request("GET", "/telemetry/n1")[1]["packagePowerWatts"] == 120.0
    state = sim.state("n1")
    assert state["capWatts"] == 120.0
    assert state["controlCalls"]["rapl.set_power_cap_watts"] == 1
    assert state["lastControl"]["action"] == "rapl.set_power_cap_watts"


def test_throttle_lowers_dynamic_power(sim):
    status, body, _ = sim.control("n1", "dvfs.set_throttle_pct", cap=120.0, pct=50)
    assert status == 200 and body["result"] == "applied"
    # 60 + 140 * (1 - 0.8 * 0.5) = 144
    assert sim.request("GET", "/telemetry/n1")[1]["packagePowerWatts"] == 144.0
    state = sim.state("n1")
    assert state["throttlePct"] == 50
    assert state["controlCalls"] == {"rapl.set_power_cap_watts": 0, "dvfs.set_throttle_pct": 1}
    assert state["capWatts"] is None  # a throttle is not a cap


def test_nodes_are_independent(sim):
    sim.control("a", "rapl.set_power_cap_watts", cap=90.0)
    assert sim.state("b")["capWatts"] is None
    assert sim.request("GET", "/telemetry/b")[1]["packagePowerWatts"] == 200.0


@pytest.mark.parametrize("override,reason", [
    ({"action": "cpu.melt"}, "unknown action"),
    ({"throttlePct": 5}, "throttlePct must be -1"),
    ({"capWatts": 0}, "capWatts must be > 0"),
    ({"capWatts": "150"}, "capWatts must be a number"),
    ({"node": "other"}, "does not match"),
    ({"extra": 1}, "unexpected fields"),
])
def test_control_body_is_validated(sim, override, reason):
    status, body, _ = sim.control("n1", "rapl.set_power_cap_watts", **override)
    assert status == 400
    assert body["result"] == "error"
    assert reason in body["message"]
    assert sim.state("n1")["capWatts"] is None


def test_control_rejects_bad_json_and_missing_fields(sim):
    status, body, _ = sim.request("POST", "/control/n1", raw=b"{nope")
    assert status == 400 and "invalid JSON" in body["message"]
    status, body, _ = sim.request("POST", "/control/n1", {"node": "n1"})
    assert status == 400 and "missing fields" in body["message"]
    status, body, _ = sim.control("n1", "dvfs.set_throttle_pct", pct=101)
    assert status == 400


@pytest.mark.parametrize("fault,status,result", [
    ("blocked", 200, "blocked"),
    ("error", 200, "error"),
    ("500", 500, "error"),
])
def test_control_faults(sim, fault, status, result):
    assert sim.request("POST", "/faults/n1", {"rapl": fault})[0] == 200
    got_status, body, _ = sim.control("n1", "rapl.set_power_cap_watts", cap=100.0)
    assert got_status == status
    assert body["result"] == result
    state = sim.state("n1")
    assert state["capWatts"] is None
    assert state["controlCalls"]["rapl.set_power_cap_watts"] == 1
    assert state["appliedCalls"]["rapl.set_power_cap_watts"] == 0
    # The fault is per channel: DVFS still applies.
    assert sim.control("n1", "dvfs.set_throttle_pct", cap=100.0, pct=20)[1]["result"] == "applied"


def test_control_garbage_reply(sim):
    sim.request("POST", "/faults/n1", {"control": "garbage"})
    status, body, raw = sim.control("n1", "dvfs.set_throttle_pct", pct=10)
    assert body is None and status >= 500
    assert sim.state("n1")["throttlePct"] == 0


def test_telemetry_faults(sim):
    sim.request("POST", "/faults/n1", {"telemetry": "500"})
    assert sim.request("GET", "/telemetry/n1")[0] == 500
    sim.request("POST", "/faults/n1", {"telemetry": "garbage"})
    status, body, raw = sim.request("GET", "/telemetry/n1")
    assert status == 200 and body is None
    sim.request("POST", "/faults/n1", {"telemetry": "stale"})
    status, body, _ = sim.request("GET", "/telemetry/n1")
    assert status == 200 and body["ts"] < time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 300))
    sim.request("POST", "/faults/n1", {"telemetry": "none"})
    assert sim.request("GET", "/telemetry/n1")[0] == 200


def test_hang_holds_the_request_and_others_still_answer(sim):
    sim.request("POST", "/faults/slow", {"telemetry": "hang"})
    assert sim.state("slow")["faults"]["telemetry"] == "hang"
    with pytest.raises((TimeoutError, OSError)):
        sim.request("GET", "/telemetry/slow", timeout=0.5)
    # The server is threaded: other nodes are unaffected while one request hangs.
    assert sim.request("GET", "/telemetry/fast")[0] == 200


def test_bad_fault_and_load_requests(sim):
    assert sim.request("POST", "/faults/n1", {"rapl": "explode"})[0] == 400
    assert sim.request("POST", "/faults/n1", {"telemetry": "blocked"})[0] == 400
    assert sim.request("POST", "/faults/n1", {})[0] == 400
    assert sim.request("POST", "/load/n1", {"load": 2})[0] == 400
    assert sim.request("POST", "/load/n1", {"load": "x"})[0] == 400
    assert sim.request("GET", "/nope")[0] == 404


def test_keep_alive_connection_is_reused(sim):
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=5)
    sim.request("GET", "/telemetry/n1", conn=conn)
    sock = conn.sock
    for _ in range(10):
        assert sim.request("GET", "/telemetry/n1", conn=conn)[0] == 200
    assert conn.sock is sock  # same TCP connection throughout
    conn.close()


def test_node_names_are_url_unescaped(sim):
    sim.control("a.b", "rapl.set_power_cap_watts", cap=80.0)
    status, body, _ = sim.request("GET", "/telemetry/a.b")
    assert body["node"] == "a.b" and body["packagePowerWatts"] == 80.0


def test_flags_set_loads(tmp_path):
    s = Sim(tmp_path, "--idle-watts", "50", "--dynamic-watts", "100", "--load", "0.2",
            "--node-load", "hot=1.0")
    try:
        assert s.request("GET", "/telemetry/cold")[1]["packagePowerWatts"] == 70.0
        assert s.request("GET", "/telemetry/hot")[1]["packagePowerWatts"] == 150.0
    finally:
        s.close()
    assert s.proc.returncode == 0  # SIGTERM is a clean stop


def test_closed_loop_with_a_throttling_controller(sim):
    """A crude hysteresis loop (like the agent's) converges under the cap on this model."""
    cap, pct = 120.0, 0
    for _ in range(30):
        power = sim.request("GET", "/telemetry/loop")[1]["packagePowerWatts"]
        if power > cap + 10 and pct < 100:
            pct = min(100, pct + 10)
            sim.control("loop", "dvfs.set_throttle_pct", cap=cap, pct=pct)
        elif power < cap - 15 and pct > 0:
            pct = max(0, pct - 10)
            sim.control("loop", "dvfs.set_throttle_pct", cap=cap, pct=pct)
    power = sim.request("GET", "/telemetry/loop")[1]["packagePowerWatts"]
    assert cap - 15 <= power <= cap + 10


# ------------------------------------------------------------------------- fake_sysfs builder

def test_fake_sysfs_layout_and_lock():
    with FakeSysfs() as tree:
        tree.add_rapl_package(0)
        tree.add_rapl_package(1, long_term_index=1)
        tree.add_rapl_mmio(0)
        tree.add_cpufreq_policy(0, cpus=[0, 1], available=[3000000, 2000000, 1000000])
        root = tree.root
        assert os.path.islink(root / "class/powercap/intel-rapl:0")
        assert os.path.realpath(root / "class/powercap/intel-rapl:0") == os.path.realpath(
            root / "devices/virtual/powercap/intel-rapl/intel-rapl:0")
        assert (root / "class/powercap/intel-rapl:0:0/name").read_text() == "core\n"
        assert tree.rapl_limit_uw(0) == 200_000_000
        assert tree.read("class/powercap/intel-rapl:1/constraint_1_name") == "long_term\n"
        assert tree.rapl_limit_uw(0, mmio=True) == 200_000_000
        assert os.path.realpath(root / "devices/system/cpu/cpu1/cpufreq") == os.path.realpath(
            root / "devices/system/cpu/cpufreq/policy0")
        assert tree.scaling_max_freq(0) == 3_000_000

        tree.add_energy(0, 5)
        assert tree.read_int(tree.rapl_energy_file(0)) == 6_000_000

        tree.lock(tree.rapl_limit_file(0))
        tree.lock(tree.rapl_limit_file(0))  # idempotent
        assert tree.rapl_limit_uw(0) == 200_000_000  # still readable
        # Unwritable the way the agent writes (O_NOFOLLOW), even as root.
        with pytest.raises(OSError):
            fd = os.open(root / tree.rapl_limit_file(0), os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)
            os.close(fd)
        tree.unlock(tree.rapl_limit_file(0))
        fd = os.open(root / tree.rapl_limit_file(0), os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)
        os.write(fd, b"5")
        os.close(fd)
        assert tree.rapl_limit_uw(0) == 5
    assert not os.path.exists(root)


def test_fake_sysfs_energy_wraps():
    with FakeSysfs() as tree:
        tree.add_rapl_package(0, energy_uj=999_000_000, max_energy_range_uj=1_000_000_000)
        tree.add_energy(0, 3)
        assert tree.read_int(tree.rapl_energy_file(0)) == 2_000_000
