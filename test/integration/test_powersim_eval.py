"""The power simulator's evaluation mode (docs/design.md#evaluation) and its /metrics (issue 10 item 6): the models
behave as docs/evaluation.md says, the integrals are exact in simulated time, the exposition is valid
for promtool, and the example rules over it are valid and fire when they should.

The model is driven in-process with an injected clock (no sleeps); /metrics through the real server.
"""

import http.client
import json
import os
import shutil
import subprocess

import pytest

from evaluation import metrics as evmetrics
from evaluation import trace as tracemod
from powersim import PowerModel, physics, serve

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MONITORING = os.path.join(REPO, "examples", "monitoring")


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def model(factor=10.0, nodes=(("n1", "gen2-64c"),), clock=None):
    clock = clock or FakeClock()
    m = PowerModel(eval_config={"factor": factor, "performanceCapWatts": 5000, "sampleSeconds": 100,
                                "nodes": [{"name": n, "type": t} for n, t in nodes]}, now=clock)
    return m, clock


def run_until_done(m, clock, step=1.0, limit=100000):
    for _ in range(limit):
        clock.now += step
        m.advance()
        if not any(n.jobs for n in m.nodes.values()):
            return
    raise AssertionError("jobs never finished")


def test_clock_waits_for_start_and_runs_at_the_factor():
    m, clock = model(factor=10.0)
    clock.now = 5.0
    m.advance()
    assert m.t == 0.0 and m.it_energy_j == 0.0  # frozen until /sim/start
    m.start()
    clock.now = 7.0
    m.advance()
    assert m.t == pytest.approx(20.0)
    idle = physics.HARDWARE["gen2-64c"].idle_node_watts()
    assert m.it_energy_j == pytest.approx(idle * 20.0)
    m.stop()
    clock.now = 100.0
    m.advance()
    assert m.t == pytest.approx(20.0)


def test_the_clock_stalls_at_its_horizon_and_resumes_from_it():
    m, clock = model(factor=10.0)
    m.start()
    m.set_horizon(50.0)
    clock.now = 20.0  # 200 simulated seconds of real time, but the horizon is at 50
    m.advance()
    assert m.t == pytest.approx(50.0) and m.stalled == pytest.approx(15.0)
    m.set_horizon(None)
    clock.now = 21.0
    m.advance()
    assert m.t == pytest.approx(60.0)  # resumed from the horizon at the factor, not jumped
    idle = physics.HARDWARE["gen2-64c"].idle_node_watts()
    assert m.it_energy_j == pytest.approx(idle * 60.0)


def test_energy_of_a_job_is_exact_and_independent_of_how_often_the_model_is_advanced():
    results = []
    for step in (0.013, 0.5, 37.0):
        m, clock = model(factor=10.0)
        m.start()
        m.add_job({"id": "j", "node": "n1", "cpus": 32, "work": 600, "memFraction": 0.3,
                   "class": "general"})
        run_until_done(m, clock, step)
        clock.now = 200.0  # 2000 simulated seconds after the start
        m.advance()
        results.append((m.it_energy_j, m.done[0]["finish"]))
    hw = physics.HARDWARE["gen2-64c"]
    busy = hw.platform_watts + physics.package_watts(hw, 0.5, 1.0, [(32, 0.3)])
    expect = busy * 600 + hw.idle_node_watts() * 1400
    for energy, finish in results:
        assert finish == pytest.approx(600.0)
        assert energy == pytest.approx(expect, rel=1e-9)


def test_a_cap_slows_compute_bound_work_more_than_memory_bound_and_lowers_power():
    durations, speeds = {}, {}
    for mem in (0.0, 0.9):
        m, clock = model(factor=10.0, nodes=(("n1", "gen3-96c"),))
        m.nodes["n1"].cap_watts = 200.0
        m.start()
        m.add_job({"id": "j", "node": "n1", "cpus": 96, "work": 1000, "memFraction": mem,
                   "class": "eco"})
        assert m.nodes["n1"].package_watts() == pytest.approx(200.0, abs=1e-6)  # the cap holds
        speeds[mem] = m.nodes["n1"].speed()
        run_until_done(m, clock, 0.7)
        durations[mem] = m.done[0]["finish"] - m.done[0]["start"]
    # A memory-bound job's stalled cores draw less: the same cap leaves it a higher clock.
    assert 0.5 < speeds[0.0] < speeds[0.9] < 1.0
    assert durations[0.0] == pytest.approx(1000.0 / speeds[0.0], rel=1e-9)  # compute-bound: 1/s
    assert durations[0.9] == pytest.approx(1000.0 * (0.1 / speeds[0.9] + 0.9), rel=1e-9)
    assert durations[0.0] > durations[0.9] > 1000.0
    assert m.done[0]["workDone"] == pytest.approx(1000.0, rel=1e-12)


def test_package_power_has_a_frequency_independent_share_and_depends_on_memory_boundness():
    hw = physics.HARDWARE["gen2-64c"]
    dyn = hw.max_pkg_watts - hw.idle_pkg_watts
    p = physics.Physics(alpha=2.4, static=0.3, stall=0.4)
    # Full load, full speed, compute-bound: the SPECpower curve's maximum whatever the split.
    assert physics.package_watts(hw, 1.0, 1.0, [(64, 0.0)], p) == pytest.approx(hw.max_pkg_watts)
    # At the lowest P-state only the frequency-scaled part has shrunk: σ·D stays.
    low = physics.package_watts(hw, 1.0, physics.S_MIN, [(64, 0.0)], p)
    assert low == pytest.approx(hw.idle_pkg_watts + dyn * (0.3 + 0.7 * physics.S_MIN ** 2.4))
    # Memory-bound work draws less at full speed: a = c + β(1 − c) with c = 0.2 at s = 1.
    mem = physics.package_watts(hw, 1.0, 1.0, [(64, 0.8)], p)
    assert mem == pytest.approx(hw.idle_pkg_watts + dyn * (0.3 + 0.7 * (0.2 + 0.4 * 0.8)))
    # A cap below idle + σ·D cannot be met: the slowest duty cycle.
    assert physics.speed_under(hw, 1.0, hw.idle_pkg_watts + 0.29 * dyn, 1.0, [(64, 0.0)], p) == \
        physics.S_FLOOR


def energy_per_work(hw, cap, mem, p):
    s = physics.speed_under(hw, 1.0, cap, 1.0, [(hw.cores, mem)], p)
    watts = hw.platform_watts + physics.package_watts(hw, 1.0, s, [(hw.cores, mem)], p)
    return watts / physics.job_rate(s, mem)


def test_the_static_share_bounds_what_a_cap_saves():
    """With no static share a cap saves energy per unit of compute-bound work; with a large one
    (and the platform's constant draw) the same cap costs energy: the job draws σ·D for longer."""
    hw = physics.HARDWARE["gen3-96c"]
    saving = {}
    for static in (0.0, 0.4):
        p = physics.Physics(alpha=2.4, static=static)
        saving[static] = 1.0 - energy_per_work(hw, 200.0, 0.0, p) / energy_per_work(hw, None, 0.0, p)
    assert saving[0.0] > 0.05
    assert saving[0.4] < saving[0.0] - 0.05


def test_repricing_a_recorded_schedule_at_the_default_physics_matches_the_simulator():
    from evaluation import reprice
    m, clock = model(factor=10.0, nodes=(("n1", "gen2-64c"), ("n2", "gen1-32c")))
    m.start()
    m.add_job({"id": "a", "node": "n1", "cpus": 48, "work": 900, "memFraction": 0.2, "class": "eco"})
    clock.now = 20.0
    m.advance()
    m.add_job({"id": "b", "node": "n2", "cpus": 32, "work": 400, "memFraction": 0.6,
               "class": "general"})
    # Two caps applied at the same simulated instant (the clock stood still): the last one holds.
    m.cap_log.append([m.t, "n1", 5000.0])
    m.nodes["n1"].cap_watts = 150.0
    m.cap_log.append([m.t, "n1", 150.0])
    clock.now = 50.0
    m.advance()
    m.nodes["n1"].cap_watts = 5000.0
    m.cap_log.append([m.t, "n1", 5000.0])
    run_until_done(m, clock, 0.37)
    window = m.t
    jobs = {"a": (900, 48, 0.2), "b": (400, 32, 0.6)}
    run = {"jobs": [{"node": d["node"], "start": d["start"], "cpus": jobs[d["id"]][1],
                     "work": jobs[d["id"]][0], "memFraction": jobs[d["id"]][2]} for d in m.done],
           "caps": [tuple(c) for c in m.cap_log],
           "nodes": [{"name": "n1", "type": "gen2-64c"}, {"name": "n2", "type": "gen1-32c"}]}
    priced = reprice.run_energy(run, None, physics.HARDWARE, physics.DEFAULT, 150.0, 150.0, 5000.0)
    assert reprice.window_energy(priced, window) == pytest.approx(m.it_energy_j, rel=1e-9)
    # A lower eco cap stretches job a, and with a static share the energy moves with it.
    lower = reprice.run_energy(run, None, physics.HARDWARE, physics.DEFAULT, 150.0, 120.0, 5000.0)
    assert lower["n1"][1] > priced["n1"][1]


def test_cap_below_idle_cannot_be_met_and_work_still_progresses():
    m, clock = model(nodes=(("n1", "gen1-32c"),))
    m.nodes["n1"].cap_watts = 10.0
    m.start()
    m.add_job({"id": "j", "node": "n1", "cpus": 32, "work": 10, "memFraction": 0, "class": "eco"})
    node = m.nodes["n1"]
    assert node.speed() == pytest.approx(physics.S_FLOOR)
    assert node.package_watts() > node.hw.idle_pkg_watts
    run_until_done(m, clock, 1.0)
    assert m.done[0]["finish"] == pytest.approx(10 / physics.S_FLOOR)


def test_performance_job_seconds_under_a_cap_are_counted():
    m, clock = model(factor=1.0)
    m.start()
    m.add_job({"id": "p", "node": "n1", "cpus": 8, "work": 100, "memFraction": 0, "class": "performance"})
    clock.now = 10.0
    m.advance()
    m.nodes["n1"].cap_watts = 150.0  # an eco cap arrives while the job runs
    clock.now = 15.0
    m.advance()
    m.nodes["n1"].cap_watts = 5000.0
    run_until_done(m, clock)
    assert m.perf_capped_seconds == pytest.approx(5.0)
    assert m.done[0]["cappedSeconds"] == pytest.approx(5.0)


def test_room_is_checked_and_facility_exceeds_it():
    m, clock = model(nodes=(("n1", "gen1-32c"), ("n2", "gen3-96c")))
    m.start()
    m.add_job({"id": "a", "node": "n1", "cpus": 30, "work": 50, "class": "general"})
    with pytest.raises(KeyError):
        m.add_job({"id": "b", "node": "n1", "cpus": 4, "work": 50, "class": "general"})
    with pytest.raises(KeyError):
        m.add_job({"id": "c", "node": "nope", "cpus": 4, "work": 50, "class": "general"})
    with pytest.raises(ValueError):
        m.add_job({"id": "d", "node": "n2", "cpus": 4, "work": -1, "class": "general"})
    run_until_done(m, clock)
    clock.now += 9000  # past a whole day: hot afternoon and cool night
    m.advance()
    assert m.facility_energy_j > m.it_energy_j
    pues = [p["pue"] for p in m.series]
    assert min(pues) > 1.0 and max(pues) > min(pues)  # PUE follows the ambient temperature
    assert sum(n.energy_j for n in m.nodes.values()) == pytest.approx(m.it_energy_j, rel=1e-12)


def test_legacy_nodes_keep_the_old_formula():
    m = PowerModel(60.0, 140.0, 0.5)
    with m.lock:
        node = m.node("x")
        node.throttle_pct = 50
        assert node.power_watts() == pytest.approx(60 + 0.5 * 140 * 0.6)
        node.cap_watts = 80
        assert node.power_watts() == 80


def test_trace_generator_is_seeded_and_shaped():
    a = tracemod.generate(3, 24, 2500)
    assert a == tracemod.generate(3, 24, 2500)
    assert a["jobs"] != tracemod.generate(4, 24, 2500)["jobs"]
    jobs = a["jobs"]
    assert {j["class"] for j in jobs} == {"performance", "eco", "general"}
    assert all(0 <= j["arrival"] < 24 * 3600 and j["cpus"] <= 32 for j in jobs)
    assert tracemod.diurnal(4 * 3600) == pytest.approx(0.4)
    assert tracemod.diurnal(16 * 3600) == pytest.approx(1.0)

    def rate(lo, hi):  # arrivals per hour outside burst/quiet/surge windows
        quiet = [(e["start"], e["end"]) for e in a["events"]]
        free = [t for t in range(lo * 60, hi * 60) if not any(s <= t * 60 < e for s, e in quiet)]
        n = sum(1 for j in jobs if lo * 3600 <= j["arrival"] < hi * 3600 and
                not any(s <= j["arrival"] < e for s, e in quiet))
        return n / (len(free) / 60.0)
    assert rate(14, 18) > 1.8 * rate(2, 6)  # the diurnal cycle (expected ratio 0.98 / 0.43)
    heavy = tracemod.generate(3, 4, 2500, mix="memory")["jobs"]
    assert min(j["memFraction"] for j in heavy) >= 0.5


@pytest.mark.parametrize("regime", ["moderate", "saturated"])
def test_offered_load_is_bounded_and_near_its_target(regime):
    """Events never overlap (bursts cannot stack) and the arrival rate's bound holds: over many
    seeds the offered load's peak stays below the regime's bound plus the spread of the jobs
    already running, and its mean near the target."""
    reg = tracemod.REGIMES[regime]
    means = []
    for seed in range(1, 9):
        t = tracemod.generate(seed, 24 if regime == "moderate" else 6, 2688, regime=regime)
        ev = sorted((e["start"], e["end"]) for e in t["events"])
        assert all(a[1] <= b[0] for a, b in zip(ev, ev[1:])), ev
        s = tracemod.summary(t, 2688)
        assert s["offeredPeak"] <= reg["peak"] * 1.15, (seed, s)
        means.append(s["offeredMean"])
    assert abs(sum(means) / len(means) - reg["utilisation"]) < 0.1 * reg["utilisation"] + 0.03, means
    assert max(means) < reg["peak"]


def test_confidence_intervals_use_student_t():
    from evaluation import stats
    c = stats.ci([1, 2, 3, 4, 5])
    assert c["mean"] == 3 and c["sd"] == pytest.approx(1.5811388)
    assert c["hi"] - c["mean"] == pytest.approx(2.776 * 1.5811388 / 5 ** 0.5, rel=1e-4)
    assert stats.ci([2.0])["lo"] is None
    d = stats.paired({1: 5.0, 2: 7.0, 3: 6.0}, {1: 4.0, 2: 6.0, 3: 5.0, 4: 100.0})
    assert d["n"] == 3 and d["mean"] == pytest.approx(1.0) and d["sd"] == pytest.approx(0.0)


def test_hardware_file_is_validated(tmp_path):
    from evaluation import hardware
    hw = hardware.load(os.path.join(REPO, "examples", "evaluation", "hardware.yaml"))
    assert [c for _, c in hw["counts"]] == [6, 10]
    from evaluation import runner
    nodes = runner.cluster_nodes(0, 1, hw)
    assert len(nodes) == 16 and {n["type"] for n in nodes[:4]} == set(hw["types"])  # interleaved
    bad = tmp_path / "bad.yaml"
    for text, what in (("types: []", "non-empty"),
                       ("types: [{name: x, count: 0, cores: 8, platformWatts: 1, idlePackageWatts: 1,"
                        " maxPackageWatts: 2, curve: [0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1]}]", "count"),
                       ("types: [{name: x, count: 2, cores: 8, platformWatts: 1, idlePackageWatts: 3,"
                        " maxPackageWatts: 2, curve: [0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1]}]", "idle"),
                       ("types: [{name: x, count: 2, cores: 8, platformWatts: 1, idlePackageWatts: 1,"
                        " maxPackageWatts: 2, curve: [0,0.5,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1]}]", "decrease")):
        bad.write_text(text)
        with pytest.raises(ValueError, match=what):
            hardware.load(str(bad))


def test_percentiles_and_flaps():
    assert evmetrics.percentile([5, 1, 3, 2, 4], 50) == 3
    assert evmetrics.percentile(list(range(1, 101)), 95) == 95
    assert evmetrics.percentile([], 95) is None
    events = [(0, "n", "performance", "eco"), (600, "n", "eco", "performance"),
              (9000, "n", "performance", "eco"), (20000, "n", "eco", "performance")]
    assert evmetrics.flaps(events) == 1


# ---- /metrics through the server ----------------------------------------------------------------

@pytest.fixture
def sim_server():
    m = PowerModel(eval_config={"factor": 60, "nodes": [{"name": "n1", "type": "gen1-32c"},
                                                          {"name": 'we"ird', "type": "gen2-64c"}]})
    server = serve(model=m)
    import threading
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server
    server.shutdown()
    server.server_close()


def get(server, path, method="GET", body=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, r.getheader("Content-Type"), data


def test_metrics_exposition_is_valid_and_reports_each_node(sim_server):
    code, _, _ = get(sim_server, "/control/n1", "POST", {
        "node": "n1", "action": "rapl.set_power_cap_watts", "capWatts": 150, "throttlePct": -1,
        "ts": "2026-01-01T00:00:00Z"})
    assert code == 200
    get(sim_server, "/sim/start", "POST", {})
    code, _, _ = get(sim_server, "/sim/jobs", "POST", {"id": "j", "node": "n1", "cpus": 32,
                                                         "work": 100000, "class": "eco"})
    assert code == 201
    code, ctype, data = get(sim_server, "/metrics")
    assert code == 200 and ctype.startswith("text/plain; version=0.0.4")
    text = data.decode()
    assert 'joulie_sim_node_cap_watts{node="n1"} 150.0' in text
    assert 'joulie_sim_node_utilisation_ratio{node="n1"} 1.0' in text
    pkg = [line for line in text.splitlines()
           if line.startswith('joulie_sim_node_package_power_watts{node="n1"}')]
    assert len(pkg) == 1 and float(pkg[0].split()[1]) == pytest.approx(150.0, abs=1e-6)
    assert 'node="we\\"ird"' in text
    assert "joulie_sim_pue_ratio " in text and "joulie_sim_node_temperature_celsius{" in text
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    res = subprocess.run([promtool, "check", "metrics"], input=data, capture_output=True, timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr


def _promtool():
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    return path


def test_simulator_rules_are_valid_and_fire_when_they_should():
    res = subprocess.run([_promtool(), "check", "rules", "powersim-rules.yaml"], capture_output=True,
                         text=True, cwd=MONITORING, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    res = subprocess.run([_promtool(), "test", "rules", "powersim-rules.test.yaml"],
                         capture_output=True, text=True, cwd=MONITORING, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
