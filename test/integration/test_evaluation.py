"""The energy evaluation: `scripts/evaluate.sh --quick` replays a trace against the real operator and
pool agent for every baseline and its invariants hold (every job done, work conservation, the
simulator's energy integral against an independent meter, no performance pod capped); a user's
hardware file and CSV trace replace the built-in ones; and the committed report is rebuilt
byte-for-byte from the committed raw results.

The quick run takes about a minute here (4 baselines, 2 side by side). It uses seed 7, not the
default 1, so the invariants are exercised on a seed the full report does not use.
"""

import filecmp
import json
import os
import subprocess
import sys

import pytest
from harness import REPO

# Seconds: the CI budget for the quick run; the sanitizer pass runs the same replay on the
# slower ASan+UBSan binaries, which are what it is there to exercise, not to time.
QUICK_BUDGET = 300 if os.environ.get("JOULIE_SANITIZER_PASS") == "1" else 180
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def evaluate(args, joulie_bin=None, timeout=QUICK_BUDGET):
    env = dict(os.environ)
    if joulie_bin is not None:
        env["JOULIE_BIN"] = str(joulie_bin)
    return subprocess.run(["bash", str(REPO / "scripts" / "evaluate.sh")] + args, cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_quick_evaluation_invariants(tmp_path, joulie_bin):
    out = tmp_path / "eval"
    res = evaluate(["--quick", "--seed", "7", "--out", str(out)], joulie_bin)
    assert res.returncode == 0, "evaluate.sh --quick failed:\n" + res.stderr[-4000:]
    summary = json.loads((out / "evaluation" / "summary.json").read_text())
    assert summary["seed"] == 7
    assert summary["invariants"] == {"ok": True, "failures": []}
    trace = summary["trace"]
    assert trace["jobs"] > 0 and sum(trace["byClass"].values()) == trace["jobs"]
    assert 0 < trace["offeredMean"] <= trace["offeredPeak"] < 1.2  # moderate: bounded
    ran = {k: b for k, b in summary["baselines"].items() if b.get("available")}
    assert {"A", "B", "C"} <= set(ran), summary["baselines"].keys()
    if not summary["baselines"]["D"].get("available"):
        assert "not available" in summary["baselines"]["D"]["reason"]
    for key, b in ran.items():
        # The invariants, re-checked from the published figures.
        assert b["jobsDone"] == b["jobsTotal"] == trace["jobs"], key
        assert b["workCheck"]["violations"] == 0 and b["workCheck"]["jobs"] == trace["jobs"], key
        assert b["workCheck"]["maxRelativeError"] <= 1e-6, key
        meter = b["sampledEnergy"]
        assert meter["samples"] > 20 and meter["relativeError"] <= 0.01, (key, meter)
        assert b["perfPodSecondsCapped"] == 0, (key, b["perfJobsEverCapped"])
        assert abs(b["nodeEnergySumKWh"] - b["itEnergyKWh"]) <= 1e-3, key
        for k in ("itEnergyKWh", "facilityEnergyKWh", "savingsVsA", "perfPodSecondsCapped",
                  "jobsDone", "jobsTotal", "jobs", "perfPendingSecondsP95", "transitions",
                  "itKWhPerCoreHour", "slowdownMean", "edpKWhHours", "makespanHours"):
            assert k in b, (key, k)
        for cls in ("performance", "eco", "general"):
            j = b["jobs"][cls]
            assert set(j) >= {"p50", "p95", "p99", "slowdownP95", "runStretchP50"}, (key, cls)
            if j["count"]:
                assert j["p50"] <= j["p95"] <= j["p99"]
                assert j["slowdownP95"] >= 1.0 - 1e-9  # nothing finishes faster than at full speed
    assert ran["A"]["savingsVsA"] == 0
    # A caps nothing: its jobs run at full speed once started.
    assert ran["A"]["jobs"]["eco"]["runStretchP95"] <= 1.0 + 1e-6
    report = (out / "evaluation.md").read_text()
    assert "Quick run" in report and "moderate" in report
    for png in ("offered-load.png", "savings.png", "power.png", "saving-vs-slowdown.png"):
        data = (out / "evaluation" / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and "evaluation/" + png in report
    # The run's own raw results rebuild its report and plots byte-for-byte.
    rebuilt = tmp_path / "rebuilt"
    res = evaluate(["--report-from", str(out / "evaluation" / "raw" / "results.json.gz"),
                    "--out", str(rebuilt)], joulie_bin)
    assert res.returncode == 0, res.stderr[-4000:]
    assert_same_outputs(out, rebuilt)


def assert_same_outputs(a, b):
    names = ["evaluation.md"] + ["evaluation/" + n for n in sorted(os.listdir(a / "evaluation"))
                                 if n.endswith((".png", ".json"))]
    assert len(names) > 3
    for name in names:
        assert filecmp.cmp(a / name, b / name, shallow=False), "%s differs after --report-from" % name


@pytest.mark.skipif(os.environ.get("JOULIE_SANITIZER_PASS") == "1",
                    reason="runs no joulie binary: the release pass covers it")
def test_committed_report_is_rebuilt_byte_for_byte_from_the_committed_raw_results(tmp_path):
    """docs/evaluation.md, its plots and summary.json are what --report-from makes of
    docs/evaluation/raw/results.json.gz: nobody edited them, and nothing in them is lost."""
    raw = REPO / "docs" / "evaluation" / "raw" / "results.json.gz"
    assert raw.exists(), "the raw results of the committed report are missing"
    out = tmp_path / "docs"
    res = subprocess.run([PYTHON, "-m", "evaluation", "--report-from", str(raw), "--out", str(out)],
                         cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO / "test" / "support")),
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-4000:]
    assert_same_outputs(out, REPO / "docs")
    # And the other way round: every committed plot is one the rebuild made.
    committed = {n for n in os.listdir(REPO / "docs" / "evaluation") if n.endswith(".png")}
    assert committed == {n for n in os.listdir(out / "evaluation") if n.endswith(".png")}


@pytest.mark.slow
def test_csv_trace_and_hardware_file_are_replayed(tmp_path, joulie_bin):
    """A user's CSV trace and hardware file replace the generator and the built-in cluster; a bad
    row or a bad hardware file is refused with where the problem is."""
    bad = tmp_path / "bad.csv"
    bad.write_text("id,arrival_seconds,class,cpus,work_seconds,mem_fraction\nj1,0,turbo,4,60,0.1\n")
    res = evaluate(["--quick", "--trace", str(bad), "--out", str(tmp_path / "x")], joulie_bin, 60)
    assert res.returncode == 2 and "line 2" in res.stderr, res.stderr
    bad_hw = tmp_path / "bad.yaml"
    bad_hw.write_text("types:\n  - {name: x, count: 2, cores: 8}\n")
    res = evaluate(["--quick", "--hardware", str(bad_hw), "--out", str(tmp_path / "y")], joulie_bin, 60)
    assert res.returncode == 2 and "types[0]" in res.stderr, res.stderr
    examples = REPO / "examples" / "evaluation"
    out = tmp_path / "csv"
    res = evaluate(["--quick", "--trace", str(examples / "trace.csv"), "--hardware",
                    str(examples / "hardware.yaml"), "--baselines", "A,B", "--out", str(out)], joulie_bin)
    assert res.returncode == 0, res.stderr[-4000:]
    summary = json.loads((out / "evaluation" / "summary.json").read_text())
    assert summary["trace"]["jobs"] == 8 and summary["trace"]["source"] == str(examples / "trace.csv")
    assert summary["trace"]["cores"] == 6 * 32 + 10 * 64  # the hardware file's cluster
    a, b = summary["baselines"]["A"], summary["baselines"]["B"]
    assert a["jobsDone"] == b["jobsDone"] == 8
    # Eco jobs run on capped nodes in B: they take longer than in A.
    assert b["jobs"]["eco"]["runStretchP95"] > a["jobs"]["eco"]["runStretchP95"]
    assert "older-2s-32c" in (out / "evaluation.md").read_text()


def test_pod_history_becomes_a_trace(tmp_path):
    """examples/evaluation/pods-to-trace.py: completed pods become trace rows the evaluation loads
    (arrival from creation, work from start to the last container's finish, CPUs rounded up, the
    class from the power-profile nodeSelector); running pods are left out."""
    def pod(name, ns, created, start, end, cpu, profile=None, phase="Succeeded"):
        spec = {"containers": [{"resources": {"requests": {"cpu": cpu}}}]}
        if profile:
            spec["nodeSelector"] = {"joulie.io/power-profile": profile}
        status = {"phase": phase, "startTime": start,
                  "containerStatuses": [{"state": {"terminated": {"finishedAt": end}}}]}
        return {"metadata": {"name": name, "namespace": ns, "uid": ns + name,
                             "creationTimestamp": created}, "spec": spec, "status": status}
    pods = {"items": [
        pod("b1", "ci", "2026-12-01T10:00:00Z", "2026-12-01T10:00:30Z", "2026-12-01T10:20:30Z",
            "3500m", "performance"),
        pod("e1", "etl", "2026-12-01T10:05:00Z", "2026-12-01T10:06:00Z", "2026-12-01T11:06:00Z", "8"),
        pod("r1", "etl", "2026-12-01T10:07:00Z", "2026-12-01T10:07:00Z", "2026-12-01T10:08:00Z", "2",
            phase="Running")]}
    src = tmp_path / "pods.json"
    src.write_text(json.dumps(pods))
    res = subprocess.run([PYTHON, str(REPO / "examples" / "evaluation" / "pods-to-trace.py"), str(src),
                          "--mem", "etl=0.6"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    out = tmp_path / "trace.csv"
    out.write_text(res.stdout)
    from evaluation import trace
    jobs = trace.load_csv(str(out))["jobs"]
    assert [(j["id"], j["arrival"], j["class"], j["cpus"], j["work"], j["memFraction"]) for j in jobs] == [
        ("ci/b1", 0.0, "performance", 4, 1200.0, 0.3), ("etl/e1", 300.0, "general", 8, 3600.0, 0.6)]
