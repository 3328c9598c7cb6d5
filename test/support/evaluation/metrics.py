"""From the raw runs of one comparison (same trace, baselines A–D) to the figures of docs/design.md#evaluation.

Energy is compared over one window [0, T] for every baseline, T = max(trace horizon, the last job's
completion in any baseline): a baseline that finishes earlier idles (its nodes at their idle draw
under their last cap) until T, computed from the same models as the simulator (physics.py), so
no baseline gains from stopping the meter early.
"""

import json
import math

from powersim import physics

CLASSES = ("performance", "eco", "general")
FLAP_WINDOW = 3600.0  # a node back in a state it left less than this (simulated s) ago: a flap
STEP = 60.0
WORK_TOLERANCE = 1e-6  # relative: work done vs work given, per job
SAMPLED_TOLERANCE = 0.01  # relative: the independently sampled energy vs the simulator's integral


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(math.ceil(q / 100.0 * len(v))) - 1))
    return v[k]


def tail_energy(idle_it, capacity, start, end):
    """IT and facility joules of a cluster idling at idle_it watts from start to end (simulated s),
    integrated like the simulator does (steps of at most 60 s, ambient at the step's start)."""
    it = fac = 0.0
    t = start
    while t < end - 1e-9:
        dt = min(STEP, end - t)
        it += idle_it * dt
        fac += physics.facility_watts(idle_it, physics.ambient_celsius(t), capacity) * dt
        t += dt
    return it, fac


def flaps(events):
    """Transitions that return a node to the label it held less than FLAP_WINDOW before."""
    last_left = {}  # (node, label) -> t it was left
    count = 0
    for t, node, old, new in events:
        left = last_left.get((node, new))
        if left is not None and t - left < FLAP_WINDOW:
            count += 1
        last_left[(node, old)] = t
    return count


def baseline_figures(run, window_end, total_jobs, node_count):
    st = run["status"]
    end = run["end"]
    idle = {n: st["nodes"][n]["powerWatts"] for n in st["nodes"]}
    idle_total = sum(idle.values())
    tail_it, tail_fac = tail_energy(idle_total, st["capacityWatts"], end, window_end)
    it_j = st["itEnergyJoules"] + tail_it
    fac_j = st["facilityEnergyJoules"] + tail_fac
    node_sum_j = sum(st["nodes"][n]["energyJoules"] + idle[n] * max(0.0, window_end - end)
                     for n in st["nodes"])
    jobs = run["jobs"]
    per_class = {}
    for cls in CLASSES:
        js = [j for j in jobs if j["class"] == cls]
        completion = [j["finish"] - j["arrival"] for j in js]
        slowdown = [(j["finish"] - j["arrival"]) / j["work"] for j in js]
        runtime_stretch = [(j["finish"] - j["start"]) / j["work"] for j in js]
        per_class[cls] = {"count": len(js), "p50": _r(percentile(completion, 50)),
                          "p95": _r(percentile(completion, 95)), "p99": _r(percentile(completion, 99)),
                          "slowdownP50": _r(percentile(slowdown, 50), 4),
                          "slowdownP95": _r(percentile(slowdown, 95), 4),
                          "slowdownMean": _r(sum(slowdown) / len(slowdown), 4) if js else None,
                          "runStretchP50": _r(percentile(runtime_stretch, 50), 4),
                          "runStretchP95": _r(percentile(runtime_stretch, 95), 4),
                          "pendingP95": _r(percentile([j["start"] - j["arrival"] for j in js], 95))}
    core_hours = sum(j["cpus"] * j["work"] for j in jobs) / 3600.0
    completions = [j["finish"] - j["arrival"] for j in jobs]
    mean_completion_h = sum(completions) / len(completions) / 3600.0 if jobs else None
    sampled = run.get("sampled") or {}
    measured = st["itEnergyJoules"]
    sampled_err = (abs(sampled["energyJoules"] - measured) / measured
                   if sampled.get("energyJoules") is not None and measured > 0 else None)
    perf = [j for j in jobs if j["class"] == "performance"]
    pending = [j["start"] - j["arrival"] for j in perf]
    capped_jobs = [j for j in perf if j["cappedSeconds"] > 0]
    events = run["labelEvents"]
    node_days = node_count * window_end / 86400.0
    return {
        "title": run["title"], "policy": run["policy"], "available": True,
        "itEnergyKWh": round(it_j / 3.6e6, 4),
        "facilityEnergyKWh": round(fac_j / 3.6e6, 4),
        "nodeEnergySumKWh": round(node_sum_j / 3.6e6, 4),
        "itEnergyJoules": it_j, "facilityEnergyJoules": fac_j, "nodeEnergySumJoules": node_sum_j,
        "perfPodSecondsCapped": round(st["perfCappedSeconds"], 3),
        "perfPodSecondsCappedFromJobs": round(sum(j["cappedSeconds"] for j in perf), 3),
        "perfJobsEverCapped": len(capped_jobs),
        "cappedPerfJobs": capped_diagnosis(capped_jobs, events),
        "jobsDone": len(jobs), "jobsTotal": total_jobs,
        "jobs": per_class,
        "workCheck": run.get("workCheck"),
        "sampledEnergy": {"simulatorJoules": measured, "sampledJoules": sampled.get("energyJoules"),
                          "relativeError": None if sampled_err is None else round(sampled_err, 6),
                          "samples": sampled.get("samples"),
                          "maxGapSimSeconds": sampled.get("maxGapSimSeconds")},
        "capsPerformance": bool(run.get("capsPerformance")),
        "completedCoreHours": round(core_hours, 3),
        "itKWhPerCoreHour": round(it_j / 3.6e6 / core_hours, 6) if core_hours else None,
        "slowdownMean": _r(sum((j["finish"] - j["arrival"]) / j["work"] for j in jobs) / len(jobs), 4)
        if jobs else None,
        "meanCompletionHours": _r(mean_completion_h, 4),
        "edpKWhHours": _r(it_j / 3.6e6 * mean_completion_h, 3) if jobs else None,
        "makespanHours": _r((max(j["finish"] for j in jobs) - min(j["arrival"] for j in jobs)) / 3600.0,
                            4) if jobs else None,
        "perfPendingSecondsP50": _r(percentile(pending, 50)),
        "perfPendingSecondsP95": _r(percentile(pending, 95)),
        "perfPendingSecondsMax": _r(max(pending) if pending else None),
        "transitions": len(events),
        "flaps": flaps(events),
        "transitionsPerNodeDay": round(len(events) / node_days, 4) if node_days else None,
        "flapsPerNodeDay": round(flaps(events) / node_days, 4) if node_days else None,
        "lastJobFinish": round(end, 1),
        "realSeconds": run["realSeconds"],
        "flags": run["flags"],
        "signals": run.get("signals"),
    }


def capped_diagnosis(capped_jobs, events, limit=20):
    """Each performance job that ran capped (at most `limit`): its node, when it started and first
    ran capped, and the node's label changes within 30 simulated minutes before that -- the
    evidence for which write order let it happen."""
    out = []
    for j in sorted(capped_jobs, key=lambda j: j["start"])[:limit]:
        since = j.get("cappedSince")
        at = since if since is not None else j["start"]
        near = [{"t": round(t, 1), "from": old, "to": new}
                for t, node, old, new in events
                if node == j["node"] and at - 1800.0 <= t <= at + 60.0]
        out.append({"id": j["id"], "node": j["node"], "start": round(j["start"], 1),
                    "cappedSince": None if since is None else round(since, 1),
                    "cappedSeconds": round(j["cappedSeconds"], 1), "labelChanges": near})
    return out


def _r(v, nd=1):
    return None if v is None else round(v, nd)


def comparison(runs, trace, node_count, available):
    """runs: {key: raw run} of the baselines that ran; available: {key: reason or None}."""
    window_end = max([trace["hours"] * 3600.0] + [r["end"] for r in runs.values()])
    out = {}
    for key, reason in available.items():
        if reason is not None:
            out[key] = {"available": False, "reason": reason}
            continue
        out[key] = baseline_figures(runs[key], window_end, len(trace["jobs"]), node_count)
    a = out.get("A")
    for key, b in out.items():
        if not b.get("available"):
            continue
        if a and a.get("available") and a["itEnergyJoules"] > 0:
            b["savingsVsA"] = round(1.0 - b["itEnergyJoules"] / a["itEnergyJoules"], 4)
            b["facilitySavingsVsA"] = round(1.0 - b["facilityEnergyJoules"] / a["facilityEnergyJoules"], 4)
    return {"windowSeconds": round(window_end, 1), "baselines": out}


def work_check(trace_jobs, done):
    """Work conservation: every job of the trace finished exactly once and the work the simulator
    did for it (integrated apart from the counter that ends it) equals the work it was given.
    done: the simulator's records (id, workDone)."""
    given = {j["id"]: j["work"] for j in trace_jobs}
    seen, worst, bad = set(), 0.0, []
    for d in done:
        if d["id"] not in given or d["id"] in seen:
            bad.append("%s finished twice or is not in the trace" % d["id"])
            continue
        seen.add(d["id"])
        err = abs(d["workDone"] - given[d["id"]]) / given[d["id"]]
        worst = max(worst, err)
        if err > WORK_TOLERANCE:
            bad.append("%s: work given %.3f s, done %.3f s" % (d["id"], given[d["id"]], d["workDone"]))
    missing = len(given) - len(seen)
    return {"jobs": len(seen), "missing": missing, "maxRelativeError": worst,
            "violations": len(bad) + missing, "first": bad[:3]}


def invariants(comp):
    """The checks the quick run asserts: every job done; work conservation; the simulator's energy
    integral within 1 % of an independent integration of the power it exported (the sampler);
    no performance-pod-second on a capped node (except where a baseline caps every node by design);
    the per-node integrals add up to the cluster total. A list of failures (empty: all hold)."""
    bad = []
    for key, b in comp["baselines"].items():
        if not b.get("available"):
            continue
        if b["jobsDone"] != b["jobsTotal"]:
            bad.append("%s: %d of %d jobs done" % (key, b["jobsDone"], b["jobsTotal"]))
        wc = b.get("workCheck") or {}
        if wc.get("violations") != 0:
            bad.append("%s: work conservation: %s" % (key, json.dumps(wc, sort_keys=True)))
        se = b.get("sampledEnergy") or {}
        if se.get("relativeError") is None or se["relativeError"] > SAMPLED_TOLERANCE:
            bad.append("%s: sampled energy %s J vs the simulator's %s J (tolerance %g)" % (
                key, se.get("sampledJoules"), se.get("simulatorJoules"), SAMPLED_TOLERANCE))
        if b["perfPodSecondsCapped"] != 0 and not b.get("capsPerformance"):
            first = (b.get("cappedPerfJobs") or [{}])[0]
            bad.append("%s: %.1f performance-pod-seconds on capped nodes (%d jobs; first: %s)" % (
                key, b["perfPodSecondsCapped"], b["perfJobsEverCapped"],
                json.dumps(first, sort_keys=True)))
        if abs(b["nodeEnergySumJoules"] - b["itEnergyJoules"]) > 1e-6 * max(1.0, b["itEnergyJoules"]):
            bad.append("%s: per-node energy %.3f J != cluster %.3f J" % (
                key, b["nodeEnergySumJoules"], b["itEnergyJoules"]))
    return bad
