"""summary.json, the PNG plots and docs/evaluation.md of the energy evaluation (SPEC.md §9)."""

import os
import platform
import subprocess
import time

from powersim import physics

from . import runner, trace as tracemod

BASELINE_ORDER = ("A", "B", "C", "D")
COLOURS = {"A": "#555555", "B": "#1f77b4", "C": "#2ca02c", "D": "#d62728"}
SPEC_KEYS = ("itEnergyKWh", "facilityEnergyKWh", "savingsVsA", "perfPodSecondsCapped", "jobsDone",
             "jobsTotal", "jobs", "perfPendingSecondsP95", "transitions")


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = "%.1f GiB" % (int(f.readline().split()[1]) / 1048576.0)
    except (OSError, ValueError, IndexError):
        pass
    return {"cpus": os.cpu_count(), "cpuModel": model, "memory": mem,
            "kernel": platform.release(), "python": platform.python_version()}


def joulie_version(binary):
    try:
        res = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=10)
        return (res.stdout or res.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def _spec_baselines(comp):
    out = {}
    for key in BASELINE_ORDER:
        b = comp["baselines"].get(key)
        if b is None:
            continue
        if not b.get("available"):
            out[key] = b
            continue
        out[key] = {k: v for k, v in b.items() if not k.endswith("Joules")}
    return out


def summary(args, comp, sens, failures, meta):
    return {
        "seed": args.seed,
        "quick": bool(args.quick),
        "trace": comp["trace"],
        "windowSeconds": comp["windowSeconds"],
        "baselines": _spec_baselines(comp),
        "settings": {"nodes": comp["nodes"], "factor": comp["factor"], "tickSeconds": comp["tick"],
                     "ecoCapWatts": comp["ecoCapWatts"],
                     "performanceCapWatts": comp["performanceCapWatts"],
                     "perfPodsPerNode": comp["perfPodsPerNode"], "controlFlags": comp["controlFlags"]},
        "invariants": {"ok": not failures, "failures": failures},
        "sensitivity": [{"name": c["name"], "nodes": c["nodes"], "factor": c["factor"],
                         "trace": c["trace"], "error": c.get("error"),
                         "windowSeconds": c.get("windowSeconds"),
                         "baselines": _spec_baselines(c)} for c in sens],
        "run": {"commandLine": meta["commandLine"], "joulie": joulie_version(meta["joulie"]),
                "startedUtc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(meta["started"])),
                "durationSeconds": round(meta["finished"] - meta["started"], 1),
                "loadAverageBefore": [round(x, 2) for x in meta["loadBefore"]],
                "loadAverageAfter": [round(x, 2) for x in meta["loadAfter"]],
                "machine": machine()},
    }


# ------------------------------------------------------------------------------------ plots
def plots(outdir, runs, comp, sens, log):
    """Writes the PNGs; returns their file names (relative to outdir), or [] without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("python3-matplotlib is not installed: no plots (scripts/deps.sh installs it)")
        return []
    names = []
    keys = [k for k in BASELINE_ORDER if k in runs]

    fig, ax = plt.subplots(figsize=(9, 4.2))
    for k in keys:
        s = runs[k]["series"]
        ax.plot([p["t"] / 3600.0 for p in s], [p["itWatts"] / 1000.0 for p in s], label="%s IT" % k,
                color=COLOURS[k], linewidth=1.1)
    if "A" in runs:
        s = runs["A"]["series"]
        ax.plot([p["t"] / 3600.0 for p in s], [p["facilityWatts"] / 1000.0 for p in s],
                label="A facility", color=COLOURS["A"], linestyle=":", linewidth=1.0)
    ax.set_xlabel("simulated time (h from midnight)")
    ax.set_ylabel("power (kW)")
    ax.set_title("Cluster power over time (%d nodes)" % comp["nodes"])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "power.png"), dpi=110)
    plt.close(fig)
    names.append("power.png")

    fig, ax = plt.subplots(figsize=(9, 4.2))
    for k in keys:
        s = runs[k]["series"]
        ax.plot([p["t"] / 3600.0 for p in s], [p["itEnergyJoules"] / 3.6e6 for p in s],
                label="%s IT" % k, color=COLOURS[k])
        ax.plot([p["t"] / 3600.0 for p in s], [p["facilityEnergyJoules"] / 3.6e6 for p in s],
                label="%s facility" % k, color=COLOURS[k], linestyle="--", linewidth=0.9)
    ax.set_xlabel("simulated time (h)")
    ax.set_ylabel("cumulative energy (kWh)")
    ax.set_title("Cumulative energy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "energy.png"), dpi=110)
    plt.close(fig)
    names.append("energy.png")

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    groups = [("main", comp)] + [(c["name"], c) for c in sens if c.get("baselines")]
    markers = ["o", "s", "^", "D", "v"]
    for gi, (gname, c) in enumerate(groups):
        for k in BASELINE_ORDER:
            b = c["baselines"].get(k)
            if not b or not b.get("available"):
                continue
            sd = b["jobs"]["performance"]["slowdownP95"]
            if sd is None:
                continue
            ax.scatter([sd], [b["itEnergyKWh"] / c["nodes"]], color=COLOURS[k], marker=markers[gi % 5],
                       label="%s (%s)" % (k, gname) if gi == 0 or k == "A" else None, s=40)
            ax.annotate(k, (sd, b["itEnergyKWh"] / c["nodes"]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
    ax.set_xlabel("performance jobs: p95 slowdown (completion / full-speed run time)")
    ax.set_ylabel("IT energy per node (kWh)")
    ax.set_title("Energy vs performance cost")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "energy-vs-slowdown.png"), dpi=110)
    plt.close(fig)
    names.append("energy-vs-slowdown.png")
    return names


# ----------------------------------------------------------------------------------- report
def _f(v, fmt="%.1f"):
    return "–" if v is None else fmt % v


def _pct(v):
    if v is None:
        return "–"
    if abs(v) < 5e-4:
        return "0.0 %"
    return "%+.1f %%" % (-100.0 * v)


def _energy_table(comp):
    rows = ["| baseline | IT energy (kWh) | facility energy (kWh) | IT vs A | facility vs A | "
            "transitions / node-day | flaps / node-day | perf-pod-s capped |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for k in BASELINE_ORDER:
        b = comp["baselines"].get(k)
        if b is None:
            continue
        if not b.get("available"):
            rows.append("| %s | %s | | | | | | |" % (k, b.get("reason", "not run")))
            continue
        rows.append("| **%s** %s | %.2f | %.2f | %s | %s | %s | %s | %s |" % (
            k, b["title"], b["itEnergyKWh"], b["facilityEnergyKWh"], _pct(b.get("savingsVsA")),
            _pct(b.get("facilitySavingsVsA")), _f(b["transitionsPerNodeDay"], "%.2f"),
            _f(b["flapsPerNodeDay"], "%.2f"), _f(b["perfPodSecondsCapped"], "%.0f")))
    return rows


def _jobs_table(comp):
    rows = ["| baseline | class | jobs | completion p50 / p95 / p99 (min) | slowdown p50 / p95 | "
            "run-time stretch p95 | pending p95 (min) |",
            "|---|---|---:|---:|---:|---:|---:|"]
    for k in BASELINE_ORDER:
        b = comp["baselines"].get(k)
        if not b or not b.get("available"):
            continue
        for cls in ("performance", "eco", "general"):
            j = b["jobs"][cls]
            rows.append("| %s | %s | %d | %s / %s / %s | %s / %s | %s | %s |" % (
                k, cls, j["count"], _f(_m(j["p50"])), _f(_m(j["p95"])), _f(_m(j["p99"])),
                _f(j["slowdownP50"], "%.2f"), _f(j["slowdownP95"], "%.2f"),
                _f(j["runStretchP95"], "%.2f"), _f(_m(j["pendingP95"]))))
    return rows


def _binding_util(hw, cap):
    """The utilisation above which cap lowers the package's frequency."""
    lo, hi = 0.0, 1.0
    if physics.package_watts(hw, 1.0, 1.0) <= cap:
        return 1.0
    for _ in range(40):
        mid = (lo + hi) / 2
        if physics.package_watts(hw, mid, 1.0) > cap:
            hi = mid
        else:
            lo = mid
    return lo


def _d_signals(comp):
    d = comp["baselines"].get("D") or {}
    if not d.get("available"):
        return "D did not run (%s)" % d.get("reason", "not requested")
    return d.get("signals") or "from the given policy file"


def _m(seconds):
    return None if seconds is None else seconds / 60.0


def _utilisation(comp, seed):
    """Requested core-hours of the trace over the cluster's core-hours in the energy window."""
    cores = sum(physics.HARDWARE[n["type"]].cores for n in runner.cluster_nodes(comp["nodes"], seed))
    window_h = (comp.get("windowSeconds") or 0) / 3600.0
    if not cores or not window_h:
        return None
    return comp["trace"]["coreHours"] / (cores * window_h)


def _sens_table(main, sens, seed):
    rows = ["| scenario | nodes | jobs | mean utilisation | B IT vs A | C IT vs A | D IT vs A | "
            "perf slowdown p95 A / B / C / D | A perf pending p50 (min) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, c in [("balanced mix (main run)", main)] + [(c["name"], c) for c in sens]:
        if c.get("error"):
            rows.append("| %s | %d | %d | | did not complete: %s | | | | |" % (
                name, c["nodes"], c["trace"]["jobs"], c["error"]))
            continue
        bs = c["baselines"]

        def sav(k):
            b = bs.get(k)
            return _pct(b.get("savingsVsA")) if b and b.get("available") else "n/a"

        def sd(k):
            b = bs.get(k)
            return (_f(b["jobs"]["performance"]["slowdownP95"], "%.2f")
                    if b and b.get("available") else "n/a")
        u = _utilisation(c, seed)
        a = bs.get("A") or {}
        rows.append("| %s | %d | %d | %s | %s | %s | %s | %s / %s / %s / %s | %s |" % (
            name, c["nodes"], c["trace"]["jobs"], "–" if u is None else "%.0f %%" % (100 * u),
            sav("B"), sav("C"), sav("D"),
            sd("A"), sd("B"), sd("C"), sd("D"),
            _f(_m(a.get("perfPendingSecondsP50"))) if a.get("available") else "n/a"))
    return rows


def write(out, summary, runs, comp, sens, log):
    img_dir = os.path.join(out, "evaluation")
    images = plots(img_dir, runs, comp, sens, log)
    run = summary["run"]
    tr = comp["trace"]
    hw_rows = ["| type | cores | platform W | package idle–max W | node idle / full W | curve g(0,10..100 %) |",
               "|---|---:|---:|---:|---:|---|"]
    for hw in physics.HARDWARE.values():
        hw_rows.append("| %s (%s) | %d | %g | %g–%g | %g / %g | %s |" % (
            hw.name, hw.about, hw.cores, hw.platform_watts, hw.idle_pkg_watts, hw.max_pkg_watts,
            hw.idle_node_watts(), hw.max_node_watts(), " ".join("%.2f" % x for x in hw.curve)))
    mix = {}
    for n in runner.cluster_nodes(comp["nodes"], summary["seed"]):
        mix[n["type"]] = mix.get(n["type"], 0) + 1
    inv = summary["invariants"]
    flags = comp["controlFlags"]
    lines = [
        "# Energy evaluation: what Joulie saves and what it costs",
        "",
        "Generated by `scripts/evaluate.sh` (SPEC.md §9); do not edit by hand, run it again. How it works,",
        "the models and their sources, and what the time acceleration does: see *Method* below and",
        "`test/support/evaluation/`, `test/support/powersim/physics.py`.",
        "",
        "## This run",
        "",
        "- Command: `%s`" % run["commandLine"],
        "- Seed: %d; trace: %s, %g simulated hours, mix `%s`, %d jobs (%s), %.0f core-hours; events: %s" % (
            summary["seed"], tr["source"], tr["hours"], tr["mix"], tr["jobs"],
            ", ".join("%s %d" % (k, v) for k, v in tr["byClass"].items()), tr["coreHours"],
            ", ".join("%s %d" % (k, v) for k, v in tr["events"].items())),
        "- Cluster: %d nodes (%s); energy compared over [0, %.1f h] of simulated time; mean "
        "utilisation (requested core-hours / core-hours in that window) %.0f %%" % (
            comp["nodes"], ", ".join("%d × %s" % (v, k) for k, v in sorted(mix.items())),
            comp["windowSeconds"] / 3600.0, 100 * (_utilisation(comp, summary["seed"]) or 0)),
        "- joulie: `%s`; started %s, took %.1f min real" % (
            run["joulie"], run["startedUtc"], run["durationSeconds"] / 60.0),
        "- Machine: %d CPUs (%s), %s, Linux %s, Python %s; load average (1/5/15 min) %s before, %s after "
        "(the machine is shared: other work ran alongside)" % (
            run["machine"]["cpus"] or 0, run["machine"]["cpuModel"], run["machine"]["memory"],
            run["machine"]["kernel"], run["machine"]["python"],
            " ".join("%.2f" % x for x in run["loadAverageBefore"]),
            " ".join("%.2f" % x for x in run["loadAverageAfter"])),
        "- Clock factor %g (simulated s per real s); operator `%s`; agent `%s`; scheduler tick %g s real" % (
            comp["factor"], " ".join(flags["operator"]), " ".join(flags["agent"]), comp["tick"]),
        "- Caps: performance %g W, eco %g W per package; queue_aware_v1 assumes %d performance pods per "
        "node" % (comp["performanceCapWatts"], comp["ecoCapWatts"], comp["perfPodsPerNode"]),
        "- Baseline D's signals: %s" % (_d_signals(comp)),
        "- Invariants: %s" % ("all hold (every job done, 0 performance-pod-seconds on capped nodes, "
                              "facility ≥ IT, per-node energy adds up to the cluster's)" if inv["ok"]
                              else "**FAILED**: " + "; ".join(inv["failures"])),
        "",
        "## Energy and stability",
        "",
    ] + _energy_table(comp) + [
        "",
        "*IT vs A*: negative = less energy than A. Transitions: label changes the scheduler saw",
        "(performance → draining-performance → eco counts two); a flap is a node returning to a label",
        "it left less than an hour (simulated) before.",
        "",
        "## What it costs: jobs",
        "",
    ] + _jobs_table(comp) + [
        "",
        "Completion = finish − arrival (pending included); slowdown = completion / the job's run time",
        "at full frequency; run-time stretch = (finish − start) / that run time (what the cap costs a",
        "running job). Pending time of performance jobs, all baselines: " + "; ".join(
            "%s p50 %s / p95 %s / max %s min" % (
                k, _f(_m(b["perfPendingSecondsP50"])), _f(_m(b["perfPendingSecondsP95"])),
                _f(_m(b["perfPendingSecondsMax"])))
            for k, b in sorted(comp["baselines"].items()) if b.get("available")) + ".",
        "",
    ]
    if images:
        lines += ["## Plots", ""]
        captions = {"power.png": "IT power of every baseline (and A's facility power) over time",
                    "energy.png": "Cumulative IT (solid) and facility (dashed) energy",
                    "energy-vs-slowdown.png": "IT energy per node against the performance jobs' p95 "
                                              "slowdown, main run and sensitivity runs"}
        for name in images:
            lines += ["![%s](evaluation/%s)" % (captions[name], name), "", "*%s.*" % captions[name], ""]
    lines += ["## Sensitivity: where the savings come from", ""]
    if sens:
        lines += _sens_table(comp, sens, summary["seed"]) + [
            "",
            "Shorter traces than the main run (to fit the 30-minute budget of the full run): compare",
            "savings within a row, not absolute energy across rows. " + "; ".join(
                "%s: %g h trace, factor %g" % (c["name"], c["trace"]["hours"], c["factor"]) for c in sens) +
            ". At 1 000 nodes the Python test API server and scheduler stand-in (not joulie) need the",
            "lower factor to keep up, and B is left out for time. Mean utilisation = the trace's",
            "requested core-hours over the cluster's core-hours in the energy window: a cap only saves",
            "energy on a node busy enough for it to bind (see the eco cap line under *Hardware types*);",
            "mostly idle clusters draw their idle power whatever the policy. In A nothing constrains",
            "placement, so A's pending time beyond a few scheduler ticks is the stand-in's own",
            "latency: where it is large (the 1 000-node row), the stand-in binds more slowly than",
            "jobs arrive, and that row's job times measure the stand-in, not the policies; read its",
            "energy columns only.",
            "",
        ]
        for c in sens:
            if c.get("error") or not c.get("baselines"):
                continue
            lines += ["### %s" % c["name"], ""] + _energy_table(c) + [""]
    else:
        lines += ["Not run (`--sensitivity off` or `--quick`).", ""]
    lines += METHOD.format(
        alpha=physics.ALPHA, smin=physics.S_MIN, rth=physics.R_TH, tau=physics.TAU_TH,
        factor=comp["factor"], op_interval=60.0 / comp["factor"] * 1000.0,
        agent_sim=comp["factor"], tick=comp["tick"], tick_sim=comp["tick"] * comp["factor"],
        settle_ms=runner.DOWNGRADE_SETTLE_REAL * 1000.0,
        settle_sim=runner.DOWNGRADE_SETTLE_REAL * comp["factor"],
        cpu_choices=", ".join("%d (%.0f %%)" % (c, 100 * p) for c, p in tracemod.CPU_CHOICES),
    ).splitlines()
    lines += ["", "### Hardware types", ""] + hw_rows + [
        "",
        "The eco cap (%g W per package) binds above about %s utilisation on %s." % (
            comp["ecoCapWatts"], " / ".join("%.0f %%" % (100 * _binding_util(hw, comp["ecoCapWatts"]))
                                           for hw in physics.HARDWARE.values()),
            " / ".join(physics.HARDWARE)),
        ""]
    with open(os.path.join(out, "evaluation.md"), "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")


METHOD = """
## Method

### What runs
`scripts/evaluate.sh` builds `joulie` if needed and runs `python3 -m evaluation`
(test/support/evaluation/). For each baseline it starts, from scratch: the test API server
(test/support/kapi) with the CRDs and the nodes (labelled `joulie.io/managed=true` and with their
hardware type and CPU capacity), the power simulator in evaluation mode (test/support/powersim), a
cluster-scoped TelemetryProfile routing every node's telemetry and RAPL control through the
simulator, the **real** `joulie agent --mode pool` and `joulie operator` with the baseline's
flags, and the scheduler stand-in (runner.py). When every node is labelled and its cap applied in
the simulator, the simulated clock starts at midnight and the trace is replayed.

Baselines (same trace, same seed, same cluster):
- **A** — no power management: `static_partition --static-hp-frac 1`. The operator and the agent
  run (every node labelled `performance`, the performance cap applied: nothing is ever capped) and
  the trace's jobs are submitted as to a cluster without Joulie, without power-profile
  constraints, so any job may run on any node. A is the reference for energy *and* for job times:
  what B–D cost includes confining performance and eco jobs to their nodes.
- **B** — `static_partition --static-hp-frac 0.5`: half the nodes eco, capped.
- **C** — `queue_aware_v1 --queue-hp-base-frac 0.2 --queue-hp-min 1 --queue-perf-per-hp-node N`,
  N = the mean cores per node over the trace's mean job size (12.4 cores): a performance node
  absorbs about N performance jobs.
- **D** — `context_aware_v1` when this joulie build has it (`joulie operator --help` lists it),
  otherwise reported as not available; never emulated. Its policy file has C's demand parameters
  (base 0.2, the same performance pods per node), the signals from Prometheus when that is
  installed and the operator collects them (else none, as the line *Baseline D's signals* says),
  no time windows (the operator's clock is real time), and its stability block (minDwell 10
  simulated minutes, change budget 10 % of the nodes per pass; `--no-d-stability` leaves it out).

The scheduler stand-in creates each job's pod at its arrival (in B–D with the nodeSelector
`joulie.io/power-profile: performance|eco`, none for general; the CPU request), binds pending pods
in arrival order by those constraints and free cores (performance pods only on nodes labelled
exactly `performance`, never `draining-performance`; kube-scheduler's LeastAllocated score), starts
the job in the simulator, and marks the pod `Succeeded` when the simulator reports the job's work
done. Pending performance pods are the queue queue_aware_v1 reads.

### Time acceleration
The simulator's clock runs at factor F = {factor:g} simulated seconds per real second. Job progress,
energy and temperature are integrated by the simulator in simulated time (event-driven steps that
end at job completions, sample instants and every 60 simulated seconds at most; power is constant
inside a step), so **the energy figures do not depend on the machine's speed** for a given
sequence of decisions. What does depend on it is *when*, in simulated time, the real loops act:
- operator `--interval` = its default 1 min of simulated time = {op_interval:.0f} ms real;
- agent `--interval 1s` real = {agent_sim:g} s simulated: it only re-applies and samples telemetry;
  a NodePowerProfile change reaches the simulator from the agent's watch, within a few tens of ms
  real, i.e. up to tens of simulated seconds; `--telemetry-ttl 5s` real (5 intervals); the DVFS
  cooldown is its 20 s default in simulated time (the route is RAPL: DVFS stays idle);
- the scheduler stand-in polls every {tick:g} s real = {tick_sim:.0f} s simulated: a pod waits up to
  that long for a bind after it arrives or after cores free up, in every baseline alike;
- `draining-performance` → `eco` after the last performance pod leaves happens within 2 s real
  (SPEC §4.5), i.e. up to 2·F simulated seconds of extra time at the performance cap;
- a downgrade from `performance` writes the eco label first and the eco cap only after
  `--downgrade-settle` (set to {settle_ms:.0f} ms real here = {settle_sim:.0f} s simulated; 2 s by
  default) if no performance pod reached the node meanwhile; an upgrade publishes the `performance`
  label once the agent has reported the raised cap (`--upgrade-apply-timeout`, 10 s at most): a
  performance job waits for that report instead of starting capped. Both are real-time
  latencies, paid in every baseline that changes profiles (docs/decisions.md).
- the stand-in checks the chosen node's label again right before each bind (kube-scheduler takes
  a fresh snapshot for every scheduling cycle), so it never binds on a label it has already seen
  replaced; the label's watch latency (milliseconds) is the window the two-phase writes cover.
A slower or busier machine stretches these reaction times in simulated terms, so a repeated run
gives close but not bit-identical figures.

### Trace
Generated from the seed (test/support/evaluation/trace.py): Poisson arrivals in 60 s bins with a
diurnal rate (trough at 04:00 at 0.4 of the peak at 16:00), bursts (mean 4 a day, 15–45 min, ×4,
60 % performance jobs), quiet windows (2 a day, 30–120 min, ×0.15) and surges (0.7 a day, 2–4 h,
×1.7); the base rate is set so that requested cores average 45 % of the cluster over a day. Classes
outside bursts: performance 30 %, eco 30 %, general 40 %. CPU requests {cpu_choices}; run time at
full frequency log-normal, median 40 min, σ 0.8, clipped to [5 min, 3 h]; memory-bound fraction
uniform in [0.05, 0.75] (balanced), [0, 0.2] (compute-bound-heavy) or [0.5, 0.9]
(memory-bound-heavy). A user's CSV trace can replace it (`--trace FILE`, columns
`id,arrival_seconds,class,cpus,work_seconds,mem_fraction`).

### Models (test/support/powersim/physics.py, with their sources)
- Node power = platform (constant) + CPU package; package = idle + (max − idle)·g(u)·s^{alpha:g} with
  u = busy cores / cores, g a SPECpower_ssj2008-shaped load curve per hardware type (below) and
  s = f/f_max. Sources: SPECpower_ssj2008 published results (shape: near-linear, slightly
  concave, idle 20–50 % of full load) and Barroso, Hölzle, Ranganathan, *The Datacenter as a
  Computer*, 3rd ed., ch. 5; the exponent from P_dyn ∝ C·V²·f with V ∝ f inside the DVFS range
  (Le Sueur & Heiser, HotPower 2010).
- The cap (RAPL, per package) lowers s until the package is within it; below the lowest P-state
  (s = {smin:g}) by clock modulation, power then linear in the duty cycle.
- Job progress per second = 1 / ((1 − m)/s + m), m the job's memory-bound fraction (Choi, Soma,
  Pedram, DATE 2004): a capped compute-bound job runs longer, a memory-bound one hardly; a
  longer-running job draws power longer, which the energy integral counts.
- Temperature: first order, T → inlet + {rth:g} K/W × package power, τ = {tau:g} s; inlet 22 °C
  + 0.15 × (outdoor − 20 °C) + a seeded per-node offset in [−2, 3] °C; outdoor 20 ± 7 °C, daily
  sinusoid peaking at 15:00.
- Facility = IT + 0.04·C + 0.03·IT + 0.02·IT²/C + IT/COP(T_out), C the cluster's design
  (full-load) IT power, COP = max(2, 7 − 0.15·(T_out − 15 °C)) (Rasmussen, APC/Schneider white
  paper 113, *Electrical efficiency modeling for data centers*: fixed, proportional and
  square-law losses; chiller COP falling with outdoor temperature). PUE = facility / IT is
  therefore higher at low load and on hot afternoons.
- The simulator exports all of it on `/metrics` (`joulie_sim_node_power_watts{{node}}`,
  `joulie_sim_node_temperature_celsius{{node}}`, `joulie_sim_node_cap_watts{{node}}`,
  `joulie_sim_node_utilisation_ratio{{node}}`, `joulie_sim_pue_ratio`, …) for a real Prometheus
  (examples/monitoring/powersim-rules.yaml).

### Figures
- Energy: the simulator's integrals over [0, T], T = max(trace length, last completion in any
  baseline); a baseline done earlier idles until T (computed with the same models). Checked: the
  per-node integrals add up to the cluster's; facility ≥ IT.
- Performance-pod-seconds on a capped node: for every running performance-only job, the simulated
  seconds during which its node's applied cap (in the simulator) was below the performance cap.
- Jobs: completion p50/p95/p99 per class (nearest rank), slowdown = completion / full-speed run
  time, pending time of performance jobs.
- Transitions and flaps per node-day, from the label changes the scheduler observed.
"""
