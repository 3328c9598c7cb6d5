"""The energy evaluation (SPEC.md §9): `scripts/evaluate.sh --quick` replays a trace against the real
operator and pool agent for every baseline and the invariants hold; the report, the plots and
summary.json (with the keys the spec names) are written.

The quick run takes about a minute here (3 baselines × ~17 s + start-up). It uses seed 7, not the
default 1 that produced docs/evaluation.md, so two seeds are exercised.
"""

import json
import os
import subprocess

from harness import REPO

# Seconds: the CI budget for the quick run; the sanitizer pass runs the same replay on the
# slower ASan+UBSan binaries, which are what it is there to exercise, not to time.
QUICK_BUDGET = 300 if os.environ.get("JOULIE_SANITIZER_PASS") == "1" else 180


def test_quick_evaluation_invariants(tmp_path, joulie_bin):
    out = tmp_path / "eval"
    env = dict(os.environ, JOULIE_BIN=str(joulie_bin))
    res = subprocess.run(["bash", str(REPO / "scripts" / "evaluate.sh"), "--quick", "--seed", "7",
                          "--out", str(out)], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=QUICK_BUDGET)
    assert res.returncode == 0, "evaluate.sh --quick failed:\n" + res.stderr[-4000:]
    summary = json.loads((out / "evaluation" / "summary.json").read_text())
    assert summary["seed"] == 7
    assert summary["invariants"] == {"ok": True, "failures": []}
    trace = summary["trace"]
    assert trace["jobs"] > 0 and sum(trace["byClass"].values()) == trace["jobs"]
    ran = {k: b for k, b in summary["baselines"].items() if b.get("available")}
    assert {"A", "B", "C"} <= set(ran), summary["baselines"].keys()
    if not summary["baselines"]["D"].get("available"):
        assert "not available" in summary["baselines"]["D"]["reason"]
    for key, b in ran.items():
        # The invariants, re-checked from the published figures.
        assert b["jobsDone"] == b["jobsTotal"] == trace["jobs"], key
        assert b["perfPodSecondsCapped"] == 0, (key, b["perfJobsEverCapped"])
        assert b["facilityEnergyKWh"] >= b["itEnergyKWh"] > 0, key
        assert abs(b["nodeEnergySumKWh"] - b["itEnergyKWh"]) <= 1e-3, key
        for k in ("itEnergyKWh", "facilityEnergyKWh", "savingsVsA", "perfPodSecondsCapped",
                  "jobsDone", "jobsTotal", "jobs", "perfPendingSecondsP95", "transitions"):
            assert k in b, (key, k)
        for cls in ("performance", "eco", "general"):
            j = b["jobs"][cls]
            assert set(j) >= {"p50", "p95", "p99", "slowdownP95"}, (key, cls)
            if j["count"]:
                assert j["p50"] <= j["p95"] <= j["p99"]
                assert j["slowdownP95"] >= 1.0 - 1e-9  # nothing finishes faster than at full speed
    assert ran["A"]["savingsVsA"] == 0
    # A caps nothing: its jobs run at full speed once started.
    assert ran["A"]["jobs"]["eco"]["runStretchP95"] <= 1.0 + 1e-6
    report = (out / "evaluation.md").read_text()
    assert "Seed: 7" in report and "--quick" in report
    for png in ("power.png", "energy.png", "energy-vs-slowdown.png"):
        data = (out / "evaluation" / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and "evaluation/" + png in report


def test_csv_trace_is_replayed(tmp_path, joulie_bin):
    """A user's CSV trace replaces the generator; a bad row is refused with its line number."""
    bad = tmp_path / "bad.csv"
    bad.write_text("id,arrival_seconds,class,cpus,work_seconds,mem_fraction\nj1,0,turbo,4,60,0.1\n")
    env = dict(os.environ, JOULIE_BIN=str(joulie_bin))
    res = subprocess.run(["bash", str(REPO / "scripts" / "evaluate.sh"), "--quick", "--trace", str(bad),
                          "--out", str(tmp_path / "x")], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2 and "line 2" in res.stderr, res.stderr
    good = tmp_path / "good.csv"
    good.write_text("id,arrival_seconds,class,cpus,work_seconds,mem_fraction\n"
                    "p1,0,performance,8,1200,0.2\ne1,60,eco,32,1800,0.0\ng1,120,general,4,600,0.9\n")
    out = tmp_path / "csv"
    res = subprocess.run(["bash", str(REPO / "scripts" / "evaluate.sh"), "--quick", "--trace", str(good),
                          "--baselines", "A,B", "--out", str(out)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=QUICK_BUDGET)
    assert res.returncode == 0, res.stderr[-4000:]
    summary = json.loads((out / "evaluation" / "summary.json").read_text())
    assert summary["trace"]["jobs"] == 3 and summary["trace"]["source"] == str(good)
    a, b = summary["baselines"]["A"], summary["baselines"]["B"]
    assert a["jobsDone"] == b["jobsDone"] == 3
    # The compute-bound eco job runs on a capped node in B: it takes longer than in A.
    assert b["jobs"]["eco"]["runStretchP95"] > a["jobs"]["eco"]["runStretchP95"]
