"""The heterogeneous-demand scenario (`scripts/evaluate.sh --scenario hetero`, docs/evaluation.md,
*Heterogeneous demand*): count-based supply (C, queue_aware_v1) against fit-aware supply (D,
context_aware_v1) when performance jobs require a hardware type, some are too big for one type
and one type's pool is tainted; A (every node performance, nothing capped) as the reference.

Cluster: three node types (gen1-32c, gen2-64c, gen3-96c: powersim/physics.py), labelled
`node.kubernetes.io/instance-type: <type>`, allocatable memory 4 GiB per core; the gen3-96c pool
carries the taint `pool=dense:NoSchedule`. Node names interleave the types (cluster_nodes).

Jobs: the moderate generator's (trace.py) between 08:00 and 16:00 of its day, shifted to start at
0, each given a kind (seeded, per class), which decides its requirements; every pod requests 2 GiB
of memory per CPU:
- performance: `any` (no type), `big` (no type, 48 CPUs: too big for gen1-32c, fits gen2-64c
  only, the dense pool being tainted), `gen1`/`gen2` (nodeSelector on that instance type),
  `dense` (gen3-96c and the pool's toleration);
- eco: no requirement; general: half tolerate the dense pool (`general-dense`), half not;
- two performance jobs per trace fit no node even at performance: `too-big` (gen1-32c, 48 CPUs)
  and `untolerated` (gen3-96c without the toleration). They are *unschedulable*: no policy can
  place them, and the run ends without them.
A run ends when every placeable job is done or, past `cutoff` (the trace's end + GRACE), when
nothing has run for STUCK simulated seconds (every pending job waits for a node the policy does not
make performance): a placeable job still pending then was **never placed** (its pending time
counts up to the run's end: a lower bound).
"""

import concurrent.futures
import os
import random
import sys
import time

from . import metrics, predicates, rawio, runner, stats, trace as tracemod

INSTANCE_TYPE = "node.kubernetes.io/instance-type"
TAINT = {"key": "pool", "value": "dense", "effect": "NoSchedule"}
TOLERATION = {"key": "pool", "operator": "Equal", "value": "dense", "effect": "NoSchedule"}
DENSE = "gen3-96c"
GIB = 1024 ** 3
NODE_GIB_PER_CORE = 4
POD_GIB_PER_CPU = 2
GRACE = 4 * 3600.0  # past the trace's end: the longest job (3 h) and an hour to spare
STUCK = 1800.0  # past the grace, nothing running for this long (simulated s): the run is stuck
BIG_CPUS = 48
# Performance kinds and their shares; general: half may run in the dense pool.
PERF_KINDS = (("any", 0.30), ("big", 0.10), ("gen1", 0.20), ("gen2", 0.15), ("dense", 0.25))
KINDS = ("any", "big", "gen1", "gen2", "dense", "too-big", "untolerated", "eco", "general",
         "general-dense")
UNSCHEDULABLE_KINDS = ("too-big", "untolerated")
FULL = {"counts": (("gen1-32c", 4), ("gen2-64c", 4), (DENSE, 4)), "seeds": 5, "hours": 8.0,
        "offset": 8.0, "factor": 1200.0, "jobs": 3, "baselines": "A,C,D", "grace": GRACE}
# The CI case: a fixed trace (quick_trace) on 2 nodes of each type, C and D only, no Prometheus.
QUICK = {"counts": (("gen1-32c", 2), ("gen2-64c", 2), (DENSE, 2)), "seeds": 1, "hours": 0.5,
         "offset": 0.0, "factor": 1200.0, "jobs": 2, "baselines": "C,D", "grace": 1800.0}
BASELINES = ("A", "C", "D")


def requirements(kind):
    """(extra nodeSelector, tolerations) of a job kind."""
    sel = {"gen1": {INSTANCE_TYPE: "gen1-32c"}, "gen2": {INSTANCE_TYPE: "gen2-64c"},
           "dense": {INSTANCE_TYPE: DENSE}, "too-big": {INSTANCE_TYPE: "gen1-32c"},
           "untolerated": {INSTANCE_TYPE: DENSE}}.get(kind, {})
    tol = [dict(TOLERATION)] if kind in ("dense", "general-dense") else []
    return sel, tol


def with_requirements(job):
    sel, tol = requirements(job["kind"])
    out = dict(job, memory=job["cpus"] * POD_GIB_PER_CPU * GIB)
    if sel:
        out["nodeSelector"] = sel
    if tol:
        out["tolerations"] = tol
    return out


def node_extras(types):
    """Per type: the instance-type label, allocatable memory and, for the dense pool, the taint."""
    out = {}
    for name, hw in types.items():
        e = {"labels": {INSTANCE_TYPE: name}, "memory": hw.cores * NODE_GIB_PER_CORE * GIB}
        if name == DENSE:
            e["taints"] = [dict(TAINT)]
        out[name] = e
    return out


def hardware(kind):
    types = runner.hardware_types(None)
    return {"types": {n: types[n] for n, _ in kind["counts"]}, "counts": list(kind["counts"])}


def _pick(rng, choices):
    x, acc = rng.random(), 0.0
    for name, p in choices:
        acc += p
        if x < acc:
            return name
    return choices[-1][0]


def generated_trace(seed, hours, offset, cores):
    """The moderate generator's jobs from `offset` to `offset + hours` (simulated hours of its
    day), shifted to 0, with a kind each and the two unschedulable jobs."""
    base = tracemod.generate(seed, offset + hours, cores, "balanced", "moderate")
    lo, hi = offset * 3600.0, (offset + hours) * 3600.0
    rng = random.Random("hetero-%d" % seed)
    jobs = []
    for j in base["jobs"]:
        if not lo <= j["arrival"] < hi:
            continue
        j = dict(j, arrival=round(j["arrival"] - lo, 3))
        if j["class"] == "performance":
            j["kind"] = _pick(rng, PERF_KINDS)
            if j["kind"] == "big":
                j["cpus"] = BIG_CPUS
        elif j["class"] == "general":
            j["kind"] = "general-dense" if rng.random() < 0.5 else "general"
        else:
            j["kind"] = "eco"
        jobs.append(j)
    for kind, at, cpus in (("too-big", 0.25, BIG_CPUS), ("untolerated", 0.6, 16)):
        jobs.append({"arrival": round(at * hours * 3600.0, 3), "class": "performance", "cpus": cpus,
                     "work": 1800.0, "memFraction": 0.3, "kind": kind})
    events = [dict(e, start=max(0.0, e["start"] - lo), end=min(hi, e["end"]) - lo)
              for e in base["events"] if e["end"] > lo and e["start"] < hi]
    return _finish(jobs, {"source": "generator", "seed": seed, "hours": hours, "mix": "balanced",
                          "regime": "moderate %g:00-%g:00" % (offset, offset + hours),
                          "utilisation": base["utilisation"], "peak": base["peak"],
                          "events": events})


def quick_trace():
    """The CI case: on 6 nodes interleaved gen1, gen2, gen3, gen1, ... (names 001-006), C's
    count (base round(6 × 0.2) = 1; 4 performance pods at 4 per node: 1) makes only node 001
    (gen1-32c) performance, so the dense jobs never find a node under C; D upgrades a gen3-96c."""
    rows = [  # (arrival s, class, cpus, work s, kind)
        (0.0, "eco", 8, 1200.0, "eco"), (0.0, "general", 8, 1200.0, "general"),
        (60.0, "performance", 8, 1200.0, "gen1"), (120.0, "performance", 8, 1200.0, "dense"),
        (180.0, "performance", 8, 1200.0, "dense"), (240.0, "performance", BIG_CPUS, 1200.0, "too-big"),
        (300.0, "eco", 4, 900.0, "eco")]
    jobs = [{"arrival": a, "class": c, "cpus": n, "work": w, "memFraction": 0.3, "kind": k}
            for a, c, n, w, k in rows]
    return _finish(jobs, {"source": "hetero quick case", "seed": None, "hours": QUICK["hours"],
                          "mix": "fixed", "regime": "fixed", "utilisation": None, "peak": None,
                          "events": []})


def _finish(jobs, meta):
    jobs.sort(key=lambda j: (j["arrival"], j["kind"]))
    for i, j in enumerate(jobs):
        j["id"] = "job-%05d" % i
    return dict(meta, jobs=[with_requirements(j) for j in jobs])


def compact_trace(trc):
    c = rawio.compact_trace(trc)
    c["columns"]["kind"] = [KINDS.index(j["kind"]) for j in trc["jobs"]]
    return c


def expand_trace(c):
    trc = rawio.expand_trace(c)
    kinds = c["columns"]["kind"]
    trc["jobs"] = [with_requirements(dict(j, kind=KINDS[kinds[i]])) for i, j in enumerate(trc["jobs"])]
    return trc


def node_views(nodes, types):
    return {n["name"]: runner.node_view(n, types) for n in nodes}


def unschedulable(trc, views):
    """Ids of the jobs that fit no node even at performance, whatever the policy."""
    nodes = list(views.values())
    return [j["id"] for j in trc["jobs"]
            if not predicates.fits_anywhere(dict(runner.pod_request(j), nodeSelector=runner.pod_selector(
                j, True)), nodes, ignore_keys=(runner.PROFILE,))]


# ---------------------------------------------------------------------------------------- runs
def run_task(task):
    """One baseline of one seed, in a worker process: the compact raw run and what is pending."""
    g, key, cfg, eco_cap = task

    def log(msg):
        print("evaluate: hetero seed %s %s" % (g["seed"], msg.strip()), file=sys.stderr, flush=True)
    b = {x.key: x for x in runner.baselines(eco_cap, g["perfPodsPerNode"], None, True)}[key]
    t0 = time.monotonic()
    run = runner.run_baseline(b, g["trace"], cfg, cfg["workdir"], log)
    run["workCheck"] = metrics.work_check(g["trace"]["jobs"], run["jobs"])
    out = rawio.compact_run(run, g["trace"])
    out["pendingAtEnd"] = run["pendingAtEnd"]
    log("baseline %s done in %.0f s real, ended at %.0f s simulated" % (
        key, time.monotonic() - t0, run["end"]))
    return out


def plan(args, quick):
    kind = QUICK if quick else FULL
    hw = hardware(kind)
    types = hw["types"]
    nodes = runner.cluster_nodes(0, args.seed, hw)
    cores = sum(types[n["type"]].cores for n in nodes)
    wanted = args.baselines or kind["baselines"]
    keys = [k for k in BASELINES if k in wanted.split(",")]
    groups = []
    for i in range(args.seeds or kind["seeds"]):
        seed = args.seed + i
        trc = quick_trace() if quick else generated_trace(seed, args.hours or kind["hours"],
                                                          kind["offset"], cores)
        ppn = max(1, int(round(cores / float(len(nodes)) / tracemod.perf_job_cores(trc))))
        groups.append({"seed": seed, "trace": trc, "nodes": len(nodes), "cores": cores,
                       "perfPodsPerNode": ppn, "baselines": keys,
                       "factor": args.factor or kind["factor"],
                       "cutoff": trc["hours"] * 3600.0 + kind["grace"]})
    return kind, hw, groups


def run(args, quick, workroot, eco_cap):
    """Runs every group's baselines (side by side); the raw results (compact, --report-from)."""
    kind, hw, groups = plan(args, quick)
    extras = node_extras(hw["types"])
    d_ok = runner.supports_policy(args.joulie, "context_aware_v1")
    tasks, meta = [], []
    for gi, g in enumerate(groups):
        nodes = runner.cluster_nodes(0, g["seed"], hw)
        for n in nodes:
            n.update(extras[n["type"]])
        g["unschedulable"] = unschedulable(g["trace"], node_views(nodes, hw["types"]))
        g["available"] = {k: (None if k != "D" or d_ok else "not available in this build")
                          for k in g["baselines"]}
        for key in g["baselines"]:
            if g["available"][key]:
                continue
            cfg = {"nodes": g["nodes"], "factor": g["factor"], "tick": 0.1, "seed": g["seed"],
                   "sample_seconds": 60.0 if quick else 300.0, "joulie": args.joulie,
                   "support": os.path.join(runner_root(), "test", "support"),
                   "crds": os.path.join(runner_root(), "crds"),
                   "rules": os.path.join(runner_root(), "examples", "monitoring", "powersim-rules.yaml"),
                   "prometheus": not (quick or args.no_prometheus), "d_stability": True,
                   "policy_config": None, "hardware": hw, "node_extras": extras,
                   "unplaceable": g["unschedulable"], "cutoff": g["cutoff"], "stuck": STUCK,
                   "start_timeout": 60.0, "run_timeout": 150.0 if quick else 1800.0,
                   "workdir": os.path.join(workroot, "hetero-%d-%s" % (g["seed"], key))}
            tasks.append((g, key, cfg, eco_cap))
            meta.append((gi, key))
    results = {}
    jobs = args.jobs or kind["jobs"]
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=jobs)
    try:
        futures = {pool.submit(run_task, t): m for t, m in zip(tasks, meta)}
        for fut in concurrent.futures.as_completed(futures):
            results[futures[fut]] = fut.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    raw_groups = []
    for gi, g in enumerate(groups):
        raw_groups.append({
            "seed": g["seed"], "factor": g["factor"], "nodes": g["nodes"], "cores": g["cores"],
            "perfPodsPerNode": g["perfPodsPerNode"], "available": g["available"],
            "cutoff": g["cutoff"], "unschedulable": g["unschedulable"],
            "trace": compact_trace(g["trace"]),
            "runs": {k: results[(gi, k)] for k in g["baselines"] if (gi, k) in results}})
    return {"version": 1, "scenario": "hetero", "quick": bool(quick), "groups": raw_groups,
            "counts": [list(c) for c in kind["counts"]], "nodeExtras": extras,
            "ecoCapWatts": eco_cap, "performanceCapWatts": runner.PERFORMANCE_CAP,
            "hardware": {k: t.describe() for k, t in hw["types"].items()},
            "grace": kind["grace"], "stuck": STUCK, "offset": kind["offset"]}, jobs


def runner_root():
    return os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))


# ------------------------------------------------------------------------------------- figures
def _pending(trc, run, unsched):
    """Per placeable performance job: (id, pending seconds, placed?). A job never placed waited
    until the run's end (a lower bound of what it would have waited)."""
    started = {j["id"]: j for j in run["jobs"]}
    out = []
    for j in trc["jobs"]:
        if j["class"] != "performance" or j["id"] in unsched:
            continue
        s = started.get(j["id"])
        out.append((j["id"], (s["start"] if s else run["end"]) - j["arrival"], s is not None))
    return out


def placement_violations(trc, run, views):
    """Started jobs bound where the scheduler's filters (power profile aside) would refuse them."""
    by_id = {j["id"]: j for j in trc["jobs"]}
    bad = []
    for j in run["jobs"]:
        job = by_id[j["id"]]
        pod = dict(runner.pod_request(job), nodeSelector=runner.pod_selector(job, False))
        v = views[j["node"]]
        why = predicates.why_not(pod, v, {"cpu": v["cpu"], "memory": v["memory"]})
        if why is not None:
            bad.append("%s (%s) on %s: %s" % (j["id"], job["kind"], j["node"], why))
    return bad


def group_figures(g, types):
    trc = expand_trace(g["trace"])
    runs = {k: rawio.expand_run(r, trc) for k, r in g["runs"].items()}
    comp = metrics.comparison(runs, trc, g["nodes"], g["available"])
    unsched = set(g["unschedulable"])
    out = {}
    for key, run in runs.items():
        b = comp["baselines"][key]
        views = node_views(run["nodes"], types)
        pend = _pending(trc, run, unsched)
        waits = [w for _, w, _ in pend]
        pending_end = set(run["pendingAtEnd"])
        started = {j["id"] for j in run["jobs"]}
        wc = run["workCheck"]
        fails = []
        if wc["violations"] - wc["missing"] != 0 or wc["maxRelativeError"] > metrics.WORK_TOLERANCE:
            fails.append("work conservation: %s" % wc["first"])
        if wc["missing"] != len(pending_end) or len(started) + len(pending_end) != len(trc["jobs"]):
            fails.append("%d done + %d pending at the end != %d jobs" % (
                len(started), len(pending_end), len(trc["jobs"])))
        if not unsched <= pending_end:
            fails.append("an unschedulable job ran: %s" % sorted(unsched - pending_end))
        fails += ["placement: " + v for v in placement_violations(trc, run, views)[:3]]
        se = b["sampledEnergy"]
        if se["relativeError"] is None or se["relativeError"] > metrics.SAMPLED_TOLERANCE:
            fails.append("sampled energy off by %s" % se["relativeError"])
        if b["perfPodSecondsCapped"] != 0:
            fails.append("%.1f performance-pod-seconds capped" % b["perfPodSecondsCapped"])
        out[key] = {
            "perfPlaceable": len(pend), "unschedulable": len(unsched & pending_end),
            "neverPlaced": sum(1 for _, _, placed in pend if not placed),
            "neverPlacedAll": len(pending_end - unsched),
            "pendingMeanMin": sum(waits) / len(waits) / 60.0 if waits else None,
            "pendingP95Min": metrics.percentile(waits, 95) / 60.0 if waits else None,
            "pendingMaxMin": max(waits) / 60.0 if waits else None,
            "pendingByKind": _by_kind(trc, pend),
            "neverPlacedByKind": _never_by_kind(trc, pend),
            "itKWh": b["itEnergyKWh"], "saving": (b.get("savingsVsA") or 0.0) * 100.0
            if "A" in runs else None,
            "whPerCoreHour": b["itKWhPerCoreHour"] * 1000.0 if b["itKWhPerCoreHour"] else None,
            "coreHoursDone": b["completedCoreHours"], "makespanH": b["makespanHours"],
            "endH": run["end"] / 3600.0, "transitions": b["transitions"],
            "realSeconds": run["realSeconds"], "failures": fails,
            "sampledError": se["relativeError"]}
    return trc, out


def _never_by_kind(trc, pend):
    kind = {j["id"]: j["kind"] for j in trc["jobs"]}
    out = {}
    for jid, _, placed in pend:
        if not placed:
            out[kind[jid]] = out.get(kind[jid], 0) + 1
    return dict(sorted(out.items()))


def _by_kind(trc, pend):
    kind = {j["id"]: j["kind"] for j in trc["jobs"]}
    out = {}
    for jid, w, _ in pend:
        out.setdefault(kind[jid], []).append(w / 60.0)
    return {k: round(sum(v) / len(v), 3) for k, v in sorted(out.items())}


METRICS = ("pendingMeanMin", "pendingP95Min", "pendingMaxMin", "neverPlaced", "unschedulable",
           "itKWh", "saving", "whPerCoreHour", "coreHoursDone", "makespanH")


def aggregate(raw):
    types = {k: runner_type(d) for k, d in raw["hardware"].items()}
    per_seed, traces = {}, []
    for g in raw["groups"]:
        trc, figs = group_figures(g, types)
        traces.append((g, trc))
        for key, f in figs.items():
            per_seed.setdefault(key, {})[g["seed"]] = f
    agg = {}
    for key, seeds in per_seed.items():
        agg[key] = {m: stats.ci([seeds[s][m] for s in sorted(seeds)]) for m in METRICS}
    paired = {}
    for a, b in (("D", "C"), ("C", "A"), ("D", "A")):
        if a in per_seed and b in per_seed:
            paired["%s − %s" % (a, b)] = {m: stats.paired(
                {s: f[m] for s, f in per_seed[a].items()},
                {s: f[m] for s, f in per_seed[b].items()}) for m in METRICS}
    return per_seed, agg, paired, traces


def runner_type(d):
    from powersim import physics
    return physics.HardwareType.from_dict(d)


def failures(per_seed):
    return ["hetero seed %s %s: %s" % (s, k, f) for k, seeds in sorted(per_seed.items())
            for s, fig in sorted(seeds.items()) for f in fig["failures"]]


def _r(v, nd=4):
    return None if v is None else round(v, nd)


def summary(raw, per_seed, agg, paired):
    plain = lambda c: {k: _r(v) for k, v in c.items()}  # noqa: E731
    return {"scenario": "hetero", "seeds": [g["seed"] for g in raw["groups"]],
            "baselines": {k: {m: plain(c) for m, c in v.items()} for k, v in sorted(agg.items())},
            "perSeed": {k: {str(s): {m: _r(f[m]) if not isinstance(f[m], (dict, list)) else f[m]
                                     for m in sorted(f)} for s, f in sorted(v.items())}
                        for k, v in sorted(per_seed.items())},
            "paired": {k: {m: plain(c) for m, c in v.items()} for k, v in sorted(paired.items())},
            "invariants": {"ok": not failures(per_seed), "failures": failures(per_seed)}}


# -------------------------------------------------------------------------------------- report
def _ci(c, fmt="%.1f", signed=False):
    from . import report
    return report._ci(c, fmt, signed)


TITLES = {"A": "A no power management (every node performance; pods keep their type and toleration)",
          "C": "C queue_aware_v1: count-based supply (the first nodes by name)",
          "D": "D context_aware_v1: fit-aware supply"}


def section(raw, level="##"):
    """The report's section on this scenario (markdown lines); the summary beside it."""
    per_seed, agg, paired, traces = aggregate(raw)
    summ = summary(raw, per_seed, agg, paired)
    g0, trc0 = traces[0]
    seeds = [g["seed"] for g, _ in traces]
    keys = [k for k in BASELINES if k in agg]
    counts = ", ".join("%d × %s%s" % (n, t, " (tainted `pool=dense:NoSchedule`)" if t == DENSE else "")
                       for t, n in raw["counts"])
    kinds = {}
    for _, trc in traces:
        for j in trc["jobs"]:
            kinds[j["kind"]] = kinds.get(j["kind"], 0) + 1
    run = raw.get("run") or {}
    h = level + "#"
    lines = [level + " Heterogeneous demand: count-based (C) against fit-aware (D) supply", ""]
    lines += [
        "Generated by `bash scripts/evaluate.sh --scenario hetero` (test/support/evaluation/hetero.py); "
        "raw results in docs/evaluation/raw/hetero.json.gz, rebuilt with the rest of this page by "
        "`--report-from`.", "",
        h + " Setup", "",
        "- Cluster: %d nodes, %s; label `node.kubernetes.io/instance-type: <type>`, allocatable "
        "memory %d GiB per core; node names interleave the types. Caps as above: performance "
        "%g W, eco %g W per package on every type (no hardware classes, so that C and D differ "
        "only in which nodes they make performance)." % (
            g0["nodes"], counts, NODE_GIB_PER_CORE, raw["performanceCapWatts"], raw["ecoCapWatts"]),
        (("- Jobs: the quick case's fixed trace (hetero.quick_trace: %g:00 to %g:00, %s h), every "
         "pod requesting %d GiB per CPU; the full run's mix, for reference:" if raw["quick"] else
         "- Jobs: the moderate generator's from %g:00 to %g:00 of its day (%s h), every pod "
         "requesting %d GiB per CPU.") + " Performance jobs: `any` 30 %% (no type), `big` 10 %% (no type, "
        "%d CPUs: too big for gen1-32c, and the dense pool is tainted, so gen2-64c only), `gen1` "
        "20 %% and `gen2` 15 %% (nodeSelector on that type), `dense` 25 %% (gen3-96c and the pool's "
        "toleration); eco jobs no requirement; general jobs half tolerate the dense pool. Two "
        "performance jobs per trace fit no node even at performance: `too-big` (gen1-32c, %d CPUs) "
        "and `untolerated` (gen3-96c without the toleration). Jobs over the %d seeds by kind: %s.") % (
            raw["offset"], raw["offset"] + trc0["hours"], "%g" % trc0["hours"], POD_GIB_PER_CPU,
            BIG_CPUS, BIG_CPUS, len(seeds), ", ".join("%s %d" % (k, kinds[k]) for k in KINDS if k in kinds)),
        "- Baselines as in the main comparison (C and D with %s performance pods per node; D with "
        "its stability block%s). The scheduler stand-in filters nodes as kube-scheduler does "
        "(nodeSelector on every key, taints against tolerations, CPU and memory requests against "
        "allocatable minus what is bound: test/support/evaluation/predicates.py) and every bound "
        "job is re-checked against those filters afterwards." % (
            "/".join(sorted({str(g["perfPodsPerNode"]) for g, _ in traces})),
            ", Prometheus signals" if not raw["quick"] else ", no Prometheus"),
        "- A run ends when every placeable job is done or, from %g h after the trace's end, once "
        "nothing has run for %g simulated minutes (every pending job waits for a node the policy "
        "does not make performance): a placeable job still pending then was *never placed*, and "
        "its pending time counts to the run's end (a lower bound). Seeds %s; %s." % (
            raw["grace"] / 3600.0, raw.get("stuck", STUCK) / 60.0, ", ".join(str(s) for s in seeds),
            "took %.1f min real, %s runs side by side, started %s" % (
                run["durationSeconds"] / 60.0, run.get("parallelRuns"), run.get("startedUtc"))
            if run else "quick case"), ""]
    lines += [h + " Results", "",
              "| baseline | perf pending mean (min) | perf pending p95 (min) | perf pending max (min) "
              "| placeable perf jobs never placed | unschedulable jobs | IT energy (kWh) | IT saved vs A "
              "| IT Wh per core-hour done | core-hours done | makespan (h) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for k in keys:
        a = agg[k]
        lines.append("| **%s** | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            TITLES[k], _ci(a["pendingMeanMin"]), _ci(a["pendingP95Min"]), _ci(a["pendingMaxMin"]),
            _ci(a["neverPlaced"]), _ci(a["unschedulable"]), _ci(a["itKWh"], "%.2f"),
            _ci(a["saving"], "%.1f %%") if "A" in agg else "–", _ci(a["whPerCoreHour"]),
            _ci(a["coreHoursDone"]), _ci(a["makespanH"], "%.2f")))
    lines += ["", "Every cell: mean [95 % confidence interval, Student's t over the seeds]. *Perf "
              "pending*: arrival to start of the placeable performance jobs (never placed: to the "
              "run's end). IT energy over one window per seed (the longest run; a baseline done "
              "earlier idles until then), so a baseline that leaves work undone also spends less: "
              "read it with the core-hours done and Wh per core-hour. Makespan: first arrival to "
              "last finish of the jobs that ran.", ""]
    if paired:
        lines += ["| difference (paired by seed) | perf pending mean (min) | perf pending p95 (min) "
                  "| never placed | IT energy (kWh) | Wh per core-hour done | makespan (h) |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for name, p in paired.items():
            lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                name, _ci(p["pendingMeanMin"], signed=True), _ci(p["pendingP95Min"], signed=True),
                _ci(p["neverPlaced"], signed=True), _ci(p["itKWh"], "%.2f", True),
                _ci(p["whPerCoreHour"], signed=True), _ci(p["makespanH"], "%.2f", True)))
        lines.append("")
    lines += ["Mean pending (min) of the placeable performance jobs by kind, per baseline (mean over "
              "seeds): " + "; ".join("%s: %s" % (k, ", ".join(
                  "%s %.1f" % (kind, v) for kind, v in _kind_means(per_seed[k]).items())) for k in keys),
              "", "Placeable performance jobs never placed, by kind (all seeds): " + "; ".join(
                  "%s: %s" % (k, ", ".join("%s %d" % kv for kv in _never_sum(per_seed[k]).items()) or "none")
                  for k in keys) + ".", ""]
    lines += [h + " What it shows", ""] + shows(agg, paired) + [""]
    lines += [h + " Limits", ""] + LIMITS + [""]
    fails = summ["invariants"]["failures"]
    lines += ["Invariants (every seed, every baseline): %s." % (
        "all hold: work conservation for every job that ran, every job either done or pending at "
        "the end, the unschedulable jobs never ran, every bound job on a node its filters allow, "
        "the independent energy meter within 1 %, no performance-pod-second on a capped node"
        if not fails else "FAILED: " + "; ".join(fails[:5])), ""]
    return lines, summ


def headline(summ):
    """The headline's line on this scenario (from its summary), or None without C and D."""
    b, p = summ["baselines"], summ["paired"].get("D − C")
    if "C" not in b or "D" not in b or p is None:
        return None
    return ("- Heterogeneous demand (separately, see *Heterogeneous demand*): placeable performance "
            "jobs waited %s min on average under C's count-based supply, %s under D's fit-aware "
            "supply (D − C %s min, paired); never placed per seed: C %s, D %s." % (
                _ci(b["C"]["pendingMeanMin"]), _ci(b["D"]["pendingMeanMin"]),
                _ci(p["pendingMeanMin"], signed=True), _ci(b["C"]["neverPlaced"]),
                _ci(b["D"]["neverPlaced"])))


def _never_sum(seeds):
    acc = {}
    for f in seeds.values():
        for kind, n in f["neverPlacedByKind"].items():
            acc[kind] = acc.get(kind, 0) + n
    return dict(sorted(acc.items()))


def _kind_means(seeds):
    acc = {}
    for f in seeds.values():
        for kind, v in f["pendingByKind"].items():
            acc.setdefault(kind, []).append(v)
    return {k: sum(v) / len(v) for k, v in sorted(acc.items())}


def shows(agg, paired):
    """The measured statements, from the numbers (no wording tuned to a result)."""
    out = []
    for k in ("C", "D"):
        if k in agg:
            a = agg[k]
            out.append("- **%s**: placeable performance jobs waited %s min on average (p95 %s); "
                       "%s of them per seed were never placed; %s unschedulable per seed." % (
                           k, _ci(a["pendingMeanMin"]), _ci(a["pendingP95Min"]),
                           _ci(a["neverPlaced"]), _ci(a["unschedulable"])))
    p = paired.get("D − C")
    if p:
        out.append("- D − C, paired by seed: pending mean %s min, p95 %s min, never placed %s, "
                   "IT energy %s kWh, Wh per core-hour done %s, makespan %s h. An interval that "
                   "excludes 0 is a difference at this number of seeds; one that contains it is "
                   "not." % (
                       _ci(p["pendingMeanMin"], signed=True), _ci(p["pendingP95Min"], signed=True),
                       _ci(p["neverPlaced"], signed=True), _ci(p["itKWh"], "%.2f", True),
                       _ci(p["whPerCoreHour"], signed=True), _ci(p["makespanH"], "%.2f", True)))
    if "A" in agg:
        out.append("- A (every node performance, nothing capped) shows the queueing for cores of "
                   "the right type alone: %s min on average (p95 %s)." % (
                       _ci(agg["A"]["pendingMeanMin"]), _ci(agg["A"]["pendingP95Min"])))
    if "D − A" in paired:
        out.append("- D − A, paired by seed: pending mean %s min, IT energy %s kWh." % (
            _ci(paired["D − A"]["pendingMeanMin"], signed=True),
            _ci(paired["D − A"]["itKWh"], "%.2f", True)))
    return out


LIMITS = [
    "- One cluster shape and one mix of requirements, chosen to exercise the fit rules (types, a "
    "tainted pool, a job too big for one type); how much fit-aware supply matters depends on how "
    "much of the demand is constrained and on how node names sort against types (C takes the "
    "first nodes by name; here names interleave the types).",
    "- Same eco cap on every type (no hardware classes): per-class caps are a separate question.",
    "- D differs from C in more than fit (its stability block, Prometheus signals): the difference "
    "is D's supply as shipped against C's, not fit alone. C is `queue_aware_v1` as it always was: "
    "fit-aware supply is `context_aware_v1`'s alone, the reference policies keep their count-based "
    "vectors (docs/policies.md), so no switch was needed to keep C for this comparison.",
    "- Jobs never placed are censored at the run's end: their pending times are lower bounds, and "
    "their work is missing from C's energy (compare Wh per core-hour done).",
    "- Memory requests are proportional to CPU (2 GiB per CPU against 4 GiB per core): the memory "
    "filter is applied but never the one that binds.",
    "- No seed is run twice: this scenario's run-to-run variation is not measured apart from "
    "the seed-to-seed spread in the intervals (the main comparison's *Run-to-run variation* "
    "measures it for the same loops).",
    "- Time accelerated as in the main comparison (factor %g): the loops' real latencies stretch "
    "into simulated minutes the same way for every baseline." % FULL["factor"],
]
