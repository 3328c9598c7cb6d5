"""Workload traces for the energy evaluation (docs/design.md#evaluation): a seeded generator, or a user's CSV.

A job is {"id", "arrival" (simulated seconds from midnight of day one), "class" (performance | eco |
general), "cpus" (the pod's CPU request, whole cores), "work" (run time in seconds at full core
frequency), "memFraction" (share of that run time stalled on memory, which a lower frequency does
not slow: 0 = compute-bound, 1 = memory-bound)}.

Generator (all randomness from one random.Random(seed)), per named regime (REGIMES):
- Arrivals: a Poisson process in 60 s bins with rate  λ(t) = min(λ0 · diurnal(t) · event(t), λmax).
  diurnal(t) = 0.4 + 0.6 · (1 − cos(2π (h − 4) / 24)) / 2: trough at 04:00 (0.4), peak at 16:00
  (1.0); the saturated regime is flat (diurnal = 1).
  Events, drawn per simulated day (Poisson counts, uniform start times), never overlapping (an
  event that would overlap one already drawn is dropped), so at most one factor applies:
    bursts  (mean 4/day, 15–45 min): ×4 rate, 60 % of the arrivals are performance jobs;
    quiet   (mean 2/day, 30–120 min): ×0.15 rate;
    surges  (mean 0.7/day, 2–4 h):   ×1.7 rate.
  λ0 is set so that the offered load (cores requested by the jobs that would be running if each
  started on arrival) averages `utilisation` of the cluster's cores: λ0 = utilisation · cores /
  (mean(diurnal) · E[cpus] · E[work]). λmax bounds the arrival rate so that its steady-state
  offered load stays ≤ `peak` of the cluster (λmax = peak · cores / (E[cpus] · E[work])): a burst
  at the daily peak is clipped, bursts cannot stack. offered_load() measures the real mean and peak.
- Class (outside bursts): performance 30 %, eco 30 %, general 40 %.
- cpus: 4, 8, 16, 32 with probabilities 0.3, 0.35, 0.25, 0.1 (the smallest node has 32 cores).
- work: log-normal, median 40 min, σ 0.8, clipped to [5 min, 3 h].
- memFraction by mix: balanced U(0.05, 0.75); compute (compute-bound-heavy) U(0.0, 0.2);
  memory (memory-bound-heavy) U(0.5, 0.9).

CSV trace (--trace FILE): a header line and the columns
    id,arrival_seconds,class,cpus,work_seconds,mem_fraction
(class performance|eco|general; cpus a positive integer ≤ the largest node's cores; work_seconds > 0; mem_fraction in
[0,1]; arrival_seconds ≥ 0, simulated seconds from midnight). Rows may come in any order.
"""

import csv
import math
import random

CLASSES = ("performance", "eco", "general")
CPU_CHOICES = ((4, 0.3), (8, 0.35), (16, 0.25), (32, 0.1))
WORK_MEDIAN = 2400.0
WORK_SIGMA = 0.8
WORK_MIN = 300.0
WORK_MAX = 3 * 3600.0
MIXES = {"balanced": (0.05, 0.75), "compute": (0.0, 0.2), "memory": (0.5, 0.9)}
DIURNAL_MEAN = 0.7
# Named load regimes: target mean offered load, the bound on the arrival rate's offered load, and
# whether the diurnal cycle applies. Moderate is where a cluster normally lives (the main
# comparison); saturated offers about the cluster's capacity, bursts above it (queues form).
REGIMES = {
    "moderate": {"utilisation": 0.35, "peak": 0.9, "diurnal": True},
    "saturated": {"utilisation": 0.95, "peak": 1.5, "diurnal": False},
}
EVENTS = {  # name: (mean per day, min minutes, max minutes, rate factor)
    "burst": (4.0, 15, 45, 4.0),
    "quiet": (2.0, 30, 120, 0.15),
    "surge": (0.7, 120, 240, 1.7),
}
MAX_CPUS = 32


def diurnal(t):
    h = (t / 3600.0) % 24.0
    return 0.4 + 0.6 * (1.0 - math.cos(2.0 * math.pi * (h - 4.0) / 24.0)) / 2.0


def _poisson(rng, mean):
    # Knuth for small means, normal approximation above 30 (bins are 60 s: means stay small).
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, int(round(rng.gauss(mean, math.sqrt(mean)))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def expected_work():
    """E[work] of the clipped log-normal, numerically (deterministic)."""
    total, n = 0.0, 2000
    for i in range(n):
        z = _inv_norm((i + 0.5) / n)
        total += min(WORK_MAX, max(WORK_MIN, WORK_MEDIAN * math.exp(WORK_SIGMA * z)))
    return total / n


def _inv_norm(p):
    # Acklam's rational approximation of the standard normal quantile (|error| < 1.2e-9).
    a = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
         1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
    b = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
         6.680131188771972e+01, -1.328068155288572e+01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
         -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00)
    lo = 0.02425
    if p < lo:
        q = math.sqrt(-2 * math.log(p))
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    if p > 1 - lo:
        q = math.sqrt(-2 * math.log(1 - p))
        return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    q = p - 0.5
    r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / \
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)


def _events(rng, hours):
    out = []
    taken = []
    days = max(1, int(math.ceil(hours / 24.0)))
    for name, (per_day, lo, hi, factor) in EVENTS.items():
        for day in range(days):
            for _ in range(_poisson(rng, per_day)):
                start = day * 86400.0 + rng.uniform(0, 86400.0)
                length = rng.uniform(lo, hi) * 60.0
                end = min(start + length, hours * 3600.0)
                if start < hours * 3600.0 and not any(start < e and s < end for s, e in taken):
                    taken.append((start, end))
                    out.append({"kind": name, "start": round(start, 1),
                                "end": round(min(start + length, hours * 3600.0), 1),
                                "factor": factor})
    out.sort(key=lambda e: (e["start"], e["kind"]))
    return out


def generate(seed, hours, cores, mix="balanced", regime="moderate"):
    """The trace: {"source": "generator", "seed", "hours", "mix", "regime", "utilisation", "peak",
    "events", "jobs"}."""
    if mix not in MIXES:
        raise ValueError("mix must be one of %s" % ", ".join(MIXES))
    if regime not in REGIMES:
        raise ValueError("regime must be one of %s" % ", ".join(REGIMES))
    reg = REGIMES[regime]
    utilisation = reg["utilisation"]
    rng = random.Random(seed)
    events = _events(rng, hours)
    mean_cpus = sum(c * p for c, p in CPU_CHOICES)
    per_job = mean_cpus * expected_work()
    shape = diurnal if reg["diurnal"] else (lambda t: 1.0)
    lam0 = utilisation * cores / ((DIURNAL_MEAN if reg["diurnal"] else 1.0) * per_job)
    lam_max = reg["peak"] * cores / per_job
    lo, hi = MIXES[mix]
    jobs = []
    bin_s = 60.0
    for b in range(int(hours * 3600 / bin_s)):
        t0 = b * bin_s
        mid = t0 + bin_s / 2
        factor, burst = 1.0, False
        for e in events:  # at most one: events never overlap
            if e["start"] <= mid < e["end"]:
                factor = e["factor"]
                burst = e["kind"] == "burst"
        rate = min(lam0 * shape(mid) * factor, lam_max)
        for _ in range(_poisson(rng, rate * bin_s)):
            arrival = t0 + rng.uniform(0, bin_s)
            r = rng.random()
            if burst:
                cls = "performance" if r < 0.6 else ("eco" if r < 0.8 else "general")
            else:
                cls = "performance" if r < 0.3 else ("eco" if r < 0.6 else "general")
            x, acc, cpus = rng.random(), 0.0, CPU_CHOICES[-1][0]
            for c, p in CPU_CHOICES:
                acc += p
                if x < acc:
                    cpus = c
                    break
            work = min(WORK_MAX, max(WORK_MIN, WORK_MEDIAN * math.exp(rng.gauss(0, WORK_SIGMA))))
            jobs.append({"arrival": round(arrival, 3), "class": cls, "cpus": cpus,
                         "work": round(work, 1), "memFraction": round(rng.uniform(lo, hi), 4)})
    jobs.sort(key=lambda j: j["arrival"])
    for i, j in enumerate(jobs):
        j["id"] = "job-%05d" % i
    return {"source": "generator", "seed": seed, "hours": hours, "mix": mix, "regime": regime,
            "utilisation": utilisation, "peak": reg["peak"], "events": events, "jobs": jobs}


def load_csv(path, max_cpus=MAX_CPUS):
    """A user trace (columns in the module docstring; cpus at most max_cpus, the largest node's
    cores); raises ValueError naming the bad row."""
    jobs = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        need = {"id", "arrival_seconds", "class", "cpus", "work_seconds", "mem_fraction"}
        if not reader.fieldnames or not need <= set(reader.fieldnames):
            raise ValueError("%s: the header must name %s" % (path, ",".join(sorted(need))))
        seen = set()
        for n, row in enumerate(reader, start=2):
            try:
                job = {"id": row["id"].strip(), "arrival": float(row["arrival_seconds"]),
                       "class": row["class"].strip(), "cpus": int(row["cpus"]),
                       "work": float(row["work_seconds"]), "memFraction": float(row["mem_fraction"])}
            except (TypeError, ValueError) as e:
                raise ValueError("%s line %d: %s" % (path, n, e)) from None
            if (not job["id"] or job["id"] in seen or job["class"] not in CLASSES or
                    not 0 < job["cpus"] <= max_cpus or job["work"] <= 0 or job["arrival"] < 0 or
                    not 0.0 <= job["memFraction"] <= 1.0):
                raise ValueError("%s line %d: invalid or duplicate job %r" % (path, n, row))
            seen.add(job["id"])
            jobs.append(job)
    if not jobs:
        raise ValueError("%s: no jobs" % path)
    jobs.sort(key=lambda j: (j["arrival"], j["id"]))
    hours = max(j["arrival"] for j in jobs) / 3600.0
    return {"source": path, "seed": None, "hours": round(hours, 3), "mix": "csv", "regime": "csv",
            "utilisation": None, "peak": None, "events": [], "jobs": jobs}


def offered_load(trace, step=300.0):
    """Requested cores over time if every job started on arrival and ran at full speed: a list of
    (t, cores) at the start of each `step`-second bin (the bin's time-average), over the trace."""
    horizon = max([trace["hours"] * 3600.0] + [j["arrival"] + j["work"] for j in trace["jobs"]])
    n = int(math.ceil(horizon / step))
    acc = [0.0] * n
    for j in trace["jobs"]:
        a, b = j["arrival"], j["arrival"] + j["work"]
        i = int(a // step)
        while i < n and i * step < b:
            lo, hi = max(a, i * step), min(b, (i + 1) * step)
            acc[i] += j["cpus"] * (hi - lo) / step
            i += 1
    return [(round(i * step, 1), round(v, 3)) for i, v in enumerate(acc)]


def perf_job_cores(trace):
    """Mean CPU request of the trace's performance jobs (all jobs if it has none): what a
    performance node absorbs per pod."""
    perf = [j["cpus"] for j in trace["jobs"] if j["class"] == "performance"] or \
        [j["cpus"] for j in trace["jobs"]]
    return sum(perf) / float(len(perf))


def summary(trace, cores=None):
    """Counts, core-hours and, with the cluster's cores, the offered load's mean and peak over the
    trace's hours (fractions of the cores)."""
    jobs = trace["jobs"]
    by = {c: sum(1 for j in jobs if j["class"] == c) for c in CLASSES}
    out = {"source": trace["source"], "seed": trace["seed"], "hours": trace["hours"],
           "mix": trace["mix"], "regime": trace.get("regime"), "jobs": len(jobs), "byClass": by,
           "coreHours": round(sum(j["cpus"] * j["work"] for j in jobs) / 3600.0, 1),
           "meanPerfJobCores": round(perf_job_cores(trace), 3) if jobs else None,
           "events": {k: sum(1 for e in trace["events"] if e["kind"] == k) for k in EVENTS}}
    if cores:
        load = [c for t, c in offered_load(trace) if t < trace["hours"] * 3600.0] or [0.0]
        out["cores"] = cores
        out["offeredMean"] = round(sum(load) / len(load) / cores, 4)
        out["offeredPeak"] = round(max(load) / cores, 4)
    return out
