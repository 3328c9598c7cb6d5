"""summary.json, the PNG plots and docs/evaluation.md of the energy evaluation.

Everything here is a pure function of the raw results (rawio): the same raw file gives the same
bytes (fixed plot metadata, Agg backend, fixed fonts, no dates but the run's own).
"""

import os
import platform
import subprocess
import time

from powersim import physics

from . import metrics, runner, stats, trace as tracemod

BASELINE_ORDER = ("A", "B", "C", "D", "B0", "C0", "U")
# colour, line style, marker, hatch: every baseline distinguishable in grey print too.
STYLES = {"A": ("#444444", "-", "o", ""), "B": ("#1f77b4", "--", "s", "//"),
          "C": ("#2ca02c", "-.", "^", "\\\\"), "D": ("#d62728", ":", "D", "xx"),
          "B0": ("#9ecae1", (0, (5, 1)), "v", ".."), "C0": ("#98df8a", (0, (3, 1, 1, 1)), "<", "oo"),
          "U": ("#9467bd", (0, (1, 1)), "P", "--")}
PAIRS = (("D", "C"), ("C", "B"), ("B", "B0"), ("C", "C0"), ("D", "C0"), ("B0", "A"), ("C0", "A"),
         ("U", "A"), ("U", "B"))
DELAY_OK = 0.02  # sweep rows whose jobs waited more than this share of the work: schedule strained
REGIME_TEXT = {"moderate": "moderate load (the main comparison)",
               "saturated": "saturated load (offered load about the cluster's capacity; queues form)",
               "csv": "the given CSV trace"}


# ------------------------------------------------------------------------------ run metadata
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


def run_meta(args, started, finished, load_before, load_after, jobs):
    return {"commandLine": args.command_line or "python3 -m evaluation",
            "joulie": joulie_version(args.joulie),
            "startedUtc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "durationSeconds": round(finished - started, 1),
            "loadAverageBefore": [round(x, 2) for x in load_before],
            "loadAverageAfter": [round(x, 2) for x in load_after],
            "parallelRuns": jobs, "machine": machine()}


# ------------------------------------------------------------------------------ aggregation
def _keys(comps):
    present = set()
    for _, _, _, c in comps:
        present |= {k for k, b in c["baselines"].items() if b.get("available")}
    return [k for k in BASELINE_ORDER if k in present]


def _metric(b, path):
    v = b
    for p in path:
        v = v.get(p) if isinstance(v, dict) else None
    return v


METRICS = {  # name: (path in the baseline's figures, scale)
    "itKWh": (("itEnergyKWh",), 1.0), "facilityKWh": (("facilityEnergyKWh",), 1.0),
    "saving": (("savingsVsA",), 100.0), "facilitySaving": (("facilitySavingsVsA",), 100.0),
    "kwhPerCoreHour": (("itKWhPerCoreHour",), 1000.0), "slowdownMean": (("slowdownMean",), 1.0),
    "edp": (("edpKWhHours",), 1.0), "makespan": (("makespanHours",), 1.0),
    "transitions": (("transitionsPerNodeDay",), 1.0), "flaps": (("flapsPerNodeDay",), 1.0),
    "perfCapped": (("perfPodSecondsCapped",), 1.0),
}
for _cls in tracemod.CLASSES:
    METRICS.update({
        "%s.p50" % _cls: (("jobs", _cls, "p50"), 1 / 60.0),
        "%s.p95" % _cls: (("jobs", _cls, "p95"), 1 / 60.0),
        "%s.stretchP50" % _cls: (("jobs", _cls, "runStretchP50"), 1.0),
        "%s.stretchP95" % _cls: (("jobs", _cls, "runStretchP95"), 1.0),
        "%s.slowdownP95" % _cls: (("jobs", _cls, "slowdownP95"), 1.0),
    })


def aggregate(comps):
    """Per regime: seeds, per-seed values and CIs of every metric and baseline, paired pairs."""
    out = {}
    for g, trc, runs, comp in comps:
        if g["repeat"]:
            continue
        r = out.setdefault(g["regime"], {"seeds": [], "values": {}, "traces": []})
        r["seeds"].append(g["seed"])
        r["traces"].append(comp["trace"])
        for k, b in comp["baselines"].items():
            if not b.get("available"):
                continue
            for name, (path, scale) in METRICS.items():
                v = _metric(b, path)
                r["values"].setdefault(k, {}).setdefault(name, {})[g["seed"]] = (
                    None if v is None else v * scale)
    for r in out.values():
        r["ci"] = {k: {m: stats.ci(list(vals.values())) for m, vals in ms.items()}
                   for k, ms in r["values"].items()}
        r["paired"] = {}
        for x, y in PAIRS:
            if x in r["values"] and y in r["values"]:
                r["paired"]["%s-%s" % (x, y)] = {
                    m: stats.paired(r["values"][x][m], r["values"][y][m])
                    for m in ("saving", "performance.slowdownP95", "performance.p95", "eco.p95",
                              "general.p95", "slowdownMean")}
    return out


def repeat_rows(comps):
    """Run-to-run variation: the repeated group against its twin (same regime, seed, trace)."""
    twins = {(g["regime"], g["seed"]): c for g, _, _, c in comps if not g["repeat"]}
    rows = []
    for g, _, _, c in comps:
        if not g["repeat"] or (g["regime"], g["seed"]) not in twins:
            continue
        first = twins[(g["regime"], g["seed"])]
        for k in BASELINE_ORDER:
            a, b = first["baselines"].get(k), c["baselines"].get(k)
            if not a or not b or not a.get("available") or not b.get("available"):
                continue
            rows.append({"regime": g["regime"], "seed": g["seed"], "baseline": k,
                         "itKWh": (a["itEnergyKWh"], b["itEnergyKWh"]),
                         "saving": (a.get("savingsVsA"), b.get("savingsVsA")),
                         "perfP95": (a["jobs"]["performance"]["p95"], b["jobs"]["performance"]["p95"]),
                         "ecoP95": (a["jobs"]["eco"]["p95"], b["jobs"]["eco"]["p95"]),
                         "transitions": (a["transitions"], b["transitions"])})
    return rows


def invariant_failures(comps):
    bad = []
    for g, _, _, c in comps:
        bad += ["%s: %s" % (g["name"], f) for f in metrics.invariants(c)]
    return bad


def _spec_baselines(comp):
    out = {}
    for key in BASELINE_ORDER:
        b = comp["baselines"].get(key)
        if b is None:
            continue
        out[key] = b if not b.get("available") else {
            k: v for k, v in b.items() if not k.endswith("Joules")}
    return out


def summary(raw, comps, agg, failures):
    g0, _, _, c0 = comps[0]

    def plain(r):
        return {"seeds": r["seeds"], "traces": r["traces"], "ci": r["ci"], "paired": r["paired"]}
    return {
        "seed": g0["seed"], "quick": raw["quick"], "trace": c0["trace"],
        "windowSeconds": c0["windowSeconds"], "baselines": _spec_baselines(c0),
        "settings": {"nodes": g0["nodes"], "ecoCapWatts": raw["ecoCapWatts"],
                     "performanceCapWatts": raw["performanceCapWatts"],
                     "tickSeconds": raw["tickSeconds"], "physics": raw["physics"],
                     "controlFlags": raw["controlFlags"]},
        "invariants": {"ok": not failures, "failures": failures},
        "regimes": {k: plain(v) for k, v in agg.items()},
        "groups": [{"name": g["name"], "regime": g["regime"], "seed": g["seed"],
                    "repeat": g["repeat"], "factor": g["factor"], "windowSeconds": c["windowSeconds"],
                    "trace": c["trace"], "baselines": _spec_baselines(c)} for g, _, _, c in comps],
        "sweep": raw.get("sweep"),
        "run": raw["run"],
    }


# ------------------------------------------------------------------------------------ plots
def _plt():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    matplotlib.rcParams.update({"font.family": "DejaVu Sans", "font.size": 9,
                                "svg.hashsalt": "joulie", "path.simplify": True})
    return plt


def _save(plt, fig, path):
    fig.tight_layout()
    # No "Software" tEXt chunk and no date: the same figures give the same bytes.
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def _err(c):
    if c["mean"] is None or c["lo"] is None:
        return 0.0
    return c["mean"] - c["lo"]


def plot_offered(plt, path, comps):
    regimes = []
    for g, _, _, _ in comps:
        if not g["repeat"] and g["regime"] not in regimes:
            regimes.append(g["regime"])
    fig, axes = plt.subplots(1, len(regimes), figsize=(4.6 * len(regimes), 3.6), squeeze=False)
    styles = ["-", "--", "-.", ":", (0, (5, 1)), (0, (1, 1))]
    for ax, regime in zip(axes[0], regimes):
        cap = None
        for i, (g, trc, _, comp) in enumerate([x for x in comps if x[0]["regime"] == regime and
                                              not x[0]["repeat"]]):
            load = tracemod.offered_load(trc)
            cap = g["cores"]
            ax.plot([t / 3600.0 for t, _ in load], [100.0 * v / cap for _, v in load],
                    linestyle=styles[i % len(styles)], linewidth=1.0,
                    label="seed %d (mean %.0f %%, peak %.0f %%)" % (
                        g["seed"], 100 * comp["trace"]["offeredMean"], 100 * comp["trace"]["offeredPeak"]))
        ax.axhline(100.0, color="black", linewidth=1.2, label="capacity (%d cores)" % (cap or 0))
        ax.set_title("offered load, %s" % regime)
        ax.set_xlabel("simulated time (h)")
        ax.set_ylabel("requested cores (% of capacity)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    _save(plt, fig, path)


def plot_savings(plt, path, agg, keys):
    regimes = list(agg)
    fig, ax = plt.subplots(figsize=(8, 3.8))
    width = 0.8 / max(1, len(keys) - 1)
    for i, k in enumerate([k for k in keys if k != "A"]):
        xs, ys, es = [], [], []
        for ri, regime in enumerate(regimes):
            c = agg[regime]["ci"].get(k, {}).get("saving")
            if not c or c["mean"] is None:
                continue
            xs.append(ri + (i - (len(keys) - 2) / 2.0) * width)
            ys.append(c["mean"])
            es.append(_err(c))
        colour, _, _, hatch = STYLES[k]
        ax.bar(xs, ys, width=width * 0.95, color=colour, hatch=hatch, edgecolor="black",
               linewidth=0.6, yerr=es, capsize=3, label=k)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(regimes)))
    ax.set_xticklabels(["%s (%d seeds)" % (r, len(agg[r]["seeds"])) for r in regimes])
    ax.set_ylabel("IT energy saved vs A (%), mean and 95 % CI")
    ax.set_title("Savings by baseline and regime")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=len(keys))
    _save(plt, fig, path)


def plot_power(plt, path, comps, regime, keys):
    groups = [x for x in comps if x[0]["regime"] == regime and not x[0]["repeat"]]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    for k in keys:
        series = [x[2][k]["series"] for x in groups if k in x[2]]
        if not series:
            continue
        n = min(len(s) for s in series)
        ts = [series[0][i]["t"] / 3600.0 for i in range(n)]
        cis = [stats.ci([s[i]["itWatts"] / 1000.0 for s in series]) for i in range(n)]
        colour, style, _, _ = STYLES[k]
        ax.plot(ts, [c["mean"] for c in cis], color=colour, linestyle=style, linewidth=1.2,
                label="%s" % k)
        if all(c["lo"] is not None for c in cis):
            ax.fill_between(ts, [c["lo"] for c in cis], [c["hi"] for c in cis], color=colour,
                            alpha=0.12, linewidth=0)
    ax.set_xlabel("simulated time (h from midnight)")
    ax.set_ylabel("IT power (kW): mean over seeds, 95 % CI band")
    ax.set_title("Cluster IT power, %s regime (%d seeds)" % (regime, len(groups)))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=len(keys))
    _save(plt, fig, path)


def plot_cost(plt, path, agg, keys):
    fig, ax = plt.subplots(figsize=(6.8, 4.6))
    fills = {"moderate": "full", "saturated": "none"}
    for regime, r in agg.items():
        for k in keys:
            sav = r["ci"].get(k, {}).get("saving")
            sd = r["ci"].get(k, {}).get("performance.slowdownP95")
            if not sav or not sd or sav["mean"] is None or sd["mean"] is None:
                continue
            colour, _, marker, _ = STYLES[k]
            ax.errorbar([sd["mean"]], [sav["mean"]], xerr=[[_err(sd)], [_err(sd)]],
                        yerr=[[_err(sav)], [_err(sav)]], color=colour, marker=marker,
                        fillstyle=fills.get(regime, "full"), markersize=7, capsize=3, linewidth=1,
                        label="%s, %s" % (k, regime))
    ax.set_xlabel("performance jobs: p95 slowdown (completion / full-speed run time)")
    ax.set_ylabel("IT energy saved vs A (%)")
    ax.set_title("Saving against cost, mean and 95 % CI over seeds\n"
                 "(filled: moderate, hollow: saturated)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=2)
    _save(plt, fig, path)


def plot_sweep(plt, path, sweep):
    panels = [("alpha", "frequency exponent α"), ("static", "static share σ of active power"),
              ("ecoCap", "eco cap (W per package)")]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), sharey=True)
    for ax, (kind, label) in zip(axes, panels):
        rows = [r for r in sweep["rows"] if r["kind"] == kind]
        for k in sweep["baselines"]:
            if k == "A":
                continue
            pts = [(r["value"], stats.ci([100 * v for v in r["savings"].get(k, [])])) for r in rows]
            pts = [(x, c) for x, c in pts if c["mean"] is not None]
            if not pts:
                continue
            colour, style, marker, _ = STYLES[k]
            ax.errorbar([x for x, _ in pts], [c["mean"] for _, c in pts],
                        yerr=[[_err(c) for _, c in pts], [_err(c) for _, c in pts]], color=colour,
                        linestyle=style, marker=marker, markersize=5, capsize=2, label=k)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("IT energy saved vs A (%), re-priced")
    axes[0].legend(fontsize=8)
    fig.suptitle("Physics sensitivity (moderate regime, recorded schedules re-priced)", fontsize=10)
    _save(plt, fig, path)


def plots(outdir, raw, comps, agg, keys, log):
    plt = _plt()
    if plt is None:
        log("python3-matplotlib is not installed: no plots (scripts/deps.sh installs it)")
        return []
    names = []
    plot_offered(plt, os.path.join(outdir, "offered-load.png"), comps)
    names.append("offered-load.png")
    plot_savings(plt, os.path.join(outdir, "savings.png"), agg, keys)
    names.append("savings.png")
    main = "moderate" if "moderate" in agg else next(iter(agg))
    plot_power(plt, os.path.join(outdir, "power.png"), comps, main, keys)
    names.append("power.png")
    plot_cost(plt, os.path.join(outdir, "saving-vs-slowdown.png"), agg, keys)
    names.append("saving-vs-slowdown.png")
    if raw.get("sweep"):
        plot_sweep(plt, os.path.join(outdir, "sensitivity.png"), raw["sweep"])
        names.append("sensitivity.png")
    return names


# ----------------------------------------------------------------------------------- report
def _f(v, fmt="%.1f"):
    return "–" if v is None else fmt % v


def _ci(c, fmt="%.1f", signed=False):
    """'mean [lo, hi]' (n = 1: the value alone)."""
    if not c or c["mean"] is None:
        return "–"
    f = ("%+" + fmt[1:]) if signed else fmt
    if c["lo"] is None:
        return f % c["mean"]
    return "%s [%s, %s]" % (f % c["mean"], f % c["lo"], f % c["hi"])


def _title(comps, k):
    for _, _, runs, c in comps:
        b = c["baselines"].get(k)
        if b and b.get("available"):
            return b["title"]
    return ""


def energy_table(r, keys, comps):
    rows = ["| baseline | IT energy (kWh) | IT saved vs A | facility saved vs A | "
            "IT Wh per core-hour of work | mean slowdown | EDP (kWh·h) | makespan (h) | "
            "transitions / node-day | perf-pod-s capped |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for k in keys:
        c = r["ci"].get(k)
        if not c:
            continue
        rows.append("| **%s** %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            k, _title(comps, k), _ci(c["itKWh"], "%.1f"), _ci(c["saving"], "%.1f %%"),
            _ci(c["facilitySaving"], "%.1f %%"), _ci(c["kwhPerCoreHour"], "%.1f"),
            _ci(c["slowdownMean"], "%.2f"), _ci(c["edp"], "%.0f"), _ci(c["makespan"], "%.1f"),
            _ci(c["transitions"], "%.1f"), _ci(c["perfCapped"], "%.0f")))
    return rows


def jobs_table(r, keys):
    rows = ["| baseline | class | completion p50 (min) | completion p95 (min) | run-time stretch p50 "
            "| run-time stretch p95 |", "|---|---|---:|---:|---:|---:|"]
    for k in keys:
        c = r["ci"].get(k)
        if not c:
            continue
        for cls in tracemod.CLASSES:
            rows.append("| %s | %s | %s | %s | %s | %s |" % (
                k, cls, _ci(c[cls + ".p50"]), _ci(c[cls + ".p95"]),
                _ci(c[cls + ".stretchP50"], "%.2f"), _ci(c[cls + ".stretchP95"], "%.2f")))
    return rows


def paired_table(r):
    rows = ["| difference (paired by seed) | IT saving (points) | perf slowdown p95 | perf p95 (min) "
            "| eco p95 (min) | general p95 (min) |", "|---|---:|---:|---:|---:|---:|"]
    for name, p in r["paired"].items():
        rows.append("| %s | %s | %s | %s | %s | %s |" % (
            name.replace("-", " − "), _ci(p["saving"], "%.2f", True),
            _ci(p["performance.slowdownP95"], "%.2f", True), _ci(p["performance.p95"], "%.1f", True),
            _ci(p["eco.p95"], "%.1f", True), _ci(p["general.p95"], "%.1f", True)))
    return rows


def ablation_lines(r):
    """How much of B's and C's saving and cost comes from placement and from the cap."""
    out = []
    for pol, abl in (("B", "B0"), ("C", "C0"), ("D", "C0")):
        p = r["paired"]
        if "%s-%s" % (pol, abl) not in p or "%s-A" % abl not in p:
            continue
        place, cap = p["%s-A" % abl], p["%s-%s" % (pol, abl)]
        total = r["ci"][pol]["saving"]
        out.append(
            "- **%s** saves %s of A's IT energy: placement alone (%s%s) %s points, the cap on top "
            "(%s − %s) %s points. Performance p95 slowdown: placement %s, cap %s; eco p95 completion "
            "(min): placement %s, cap %s." % (
                pol, _ci(total, "%.1f %%"), abl, "" if pol != "D" else ", C's placement: D's own "
                "no-cap twin is not run, so this split of D is approximate", _ci(place["saving"], "%.2f", True), pol, abl,
                _ci(cap["saving"], "%.2f", True), _ci(place["performance.slowdownP95"], "%.2f", True),
                _ci(cap["performance.slowdownP95"], "%.2f", True), _ci(place["eco.p95"], "%.1f", True),
                _ci(cap["eco.p95"], "%.1f", True)))
    if "U-A" in r["paired"]:
        u = r["paired"]["U-A"]
        out.append("- **U** (the eco cap on every node, no partition) saves %s points at a "
                   "performance p95 slowdown change of %s: capping without placement." % (
                       _ci(u["saving"], "%.2f", True), _ci(u["performance.slowdownP95"], "%.2f", True)))
    return out


def sweep_section(sweep, keys):
    if not sweep:
        return ["Not run (`--sweep off` or `--quick`).", ""]
    ks = [k for k in sweep["baselines"] if k != "A" and k in keys]
    rows = ["| parameter | value | α | σ | eco cap (W) | " + " | ".join("%s saved vs A" % k for k in ks)
            + " | jobs delayed |", "|---|---|---:|---:|---:|" + "---:|" * len(ks) + "---:|"]
    ranges, held = {}, {}
    for row in sweep["rows"]:
        cells = []
        for k in ks:
            c = stats.ci([100 * v for v in row["savings"].get(k, [])])
            cells.append(_ci(c, "%.1f %%"))
            if c["mean"] is not None:
                for acc in (ranges, held) if row["delayedShare"] <= DELAY_OK else (ranges,):
                    lo, hi = acc.get(k, (c["mean"], c["mean"]))
                    acc[k] = (min(lo, c["mean"]), max(hi, c["mean"]))
        rows.append("| %s | %s | %g | %g | %g | %s | %s |" % (
            row["kind"], row["value"], row["alpha"], row["staticShare"], row["ecoCapWatts"],
            " | ".join(cells), "%.1f %%%s" % (100 * row["delayedShare"],
                                             "" if row["delayedShare"] <= DELAY_OK else " ⚠")))
    err = sweep.get("defaultRepricingMaxError")
    return rows + [
        "",
        "Range of the mean saving over every parameter set above: " + "; ".join(
            "**%s %.1f %% to %.1f %%**" % (k, lo, hi) for k, (lo, hi) in ranges.items()) + ". "
        "Over the rows where the recorded schedule still holds (jobs delayed ≤ %.0f %% of the "
        "work; ⚠ marks the others): " % (100 * DELAY_OK) + "; ".join(
            "%s %.1f %% to %.1f %%" % (k, lo, hi) for k, (lo, hi) in held.items()) + ".",
        "",
        "Re-priced, not re-run: each recorded moderate run's schedule (job start times and nodes, the "
        "caps the agent applied, the eco cap value replaced by the swept one) is re-simulated offline "
        "with the other parameters (evaluation/reprice.py); job durations and energy follow them, the "
        "control loops' decisions do not. At the default parameters the re-priced energy differs "
        "from the simulator's by at most %s (the approximation's own error). *Jobs delayed*: "
        "core-hours that jobs waited because a job before them on their node ran longer under the "
        "new parameters, as a share of the work's core-hours; where it is large the cap cannot be "
        "met on busy nodes (it is below idle + σ·D: the package falls to its slowest duty cycle), "
        "work crawls and piles up, and the live control loops would have placed jobs differently: "
        "read those rows as *this cap does not work with this physics*, not as a number. The "
        "sweep took %s s%s." % (
            "–" if err is None else "%.4f %%" % (100 * err), _f(sweep.get("realSeconds"), "%.0f"),
            " (recomputed after the run from its raw results: `--report-from RAW --resweep`)"
            if sweep.get("recomputed") else ""),
        ""]


def hardware_rows(raw, eco):
    rows = ["| type | cores | platform W | package idle–max W | node idle / full W | eco cap binds above "
            "| lowest cap it can hold at full load | curve g(0,10..100 %) |",
            "|---|---:|---:|---:|---:|---:|---:|---|"]
    static = raw["physics"]["staticShare"]
    for name, d in sorted(raw["hardware"].items()):
        hw = physics.HardwareType.from_dict(d)
        rows.append("| %s (%s) | %d | %g | %g–%g | %g / %g | %s | %.0f W (idle + σ·D) | %s |" % (
            hw.name, hw.about, hw.cores, hw.platform_watts, hw.idle_pkg_watts, hw.max_pkg_watts,
            hw.idle_node_watts(), hw.max_node_watts(), "%.0f %% load" % (100 * _binding_util(hw, eco)),
            hw.idle_pkg_watts + static * (hw.max_pkg_watts - hw.idle_pkg_watts),
            " ".join("%.2f" % x for x in hw.curve)))
    return rows


def _binding_util(hw, cap):
    """The utilisation above which cap lowers the frequency (compute-bound work)."""
    if physics.package_watts(hw, 1.0, 1.0) <= cap:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = (lo + hi) / 2
        if physics.package_watts(hw, mid, 1.0) > cap:
            hi = mid
        else:
            lo = mid
    return lo


def regime_section(regime, r, keys, comps, main):
    tr = r["traces"]
    offered = [100 * t["offeredMean"] for t in tr]
    peak = [100 * t["offeredPeak"] for t in tr]
    windows = [c["windowSeconds"] / 3600.0 for g, _, _, c in comps
               if g["regime"] == regime and not g["repeat"]]
    lines = [
        "## %s: %s" % (regime.capitalize(), REGIME_TEXT.get(regime, regime)),
        "",
        "%d seeds (%s); %g h traces, %s jobs per trace (mean); offered load over the trace's hours, "
        "as measured: mean %s %% and peak %s %% of the cluster's %d cores (per seed: %s); energy "
        "compared over %.1f–%.1f h." % (
            len(r["seeds"]), ", ".join(str(s) for s in r["seeds"]), tr[0]["hours"],
            "%.0f" % (sum(t["jobs"] for t in tr) / float(len(tr))),
            "%.0f" % (sum(offered) / len(offered)), "%.0f" % max(peak), tr[0].get("cores") or 0,
            ", ".join("%.0f/%.0f" % (m, p) for m, p in zip(offered, peak)), min(windows), max(windows)),
        "",
    ] + energy_table(r, keys, comps) + [
        "",
        "Every cell: mean [95 % confidence interval, Student's t over the seeds]. *Saved vs A*: "
        "positive = less energy than A on the same trace. Wh per core-hour: IT energy over the "
        "trace's work (cores × full-speed hours). EDP: IT energy × mean job completion time.",
        "",
        "### What it costs: jobs (%s)" % regime,
        "",
    ] + jobs_table(r, keys) + [""]
    if r["paired"]:
        lines += ["### Differences between policies, paired by seed (%s)" % regime, ""] + \
            paired_table(r) + [""]
    split = ablation_lines(r)
    if split:
        lines += ["### Placement or cap? (%s)" % regime, ""] + split + [""]
    return lines


def write(out, raw, comps, log, hetero_raw=None):
    """Writes OUT/evaluation.md, OUT/evaluation/*.png and summary.json (and, with the
    heterogeneous scenario's raw results, its section and hetero-summary.json); returns the
    summary."""
    import json
    img_dir = os.path.join(out, "evaluation")
    os.makedirs(img_dir, exist_ok=True)
    agg = aggregate(comps)
    keys = _keys(comps)
    failures = invariant_failures(comps)
    hetero_lines, headline = [], None
    if hetero_raw is not None:
        from . import hetero
        hetero_lines, hsumm = _hetero(img_dir, hetero_raw)
        failures = failures + hsumm["invariants"]["failures"]
        headline = hetero.headline(hsumm)
    summ = summary(raw, comps, agg, failures)
    with open(os.path.join(img_dir, "summary.json"), "w") as f:
        json.dump(summ, f, indent=1, sort_keys=True)
        f.write("\n")
    images = plots(img_dir, raw, comps, agg, keys, log)
    lines = header(raw, comps, agg, keys, failures, headline)
    for regime, r in agg.items():
        lines += regime_section(regime, r, keys, comps, regime == "moderate")
    lines += repeat_section(comps)
    lines += ["## Physics sensitivity (moderate regime)", ""] + sweep_section(raw.get("sweep"), keys)
    lines += hetero_lines
    if images:
        lines += ["## Plots", ""]
        for name in images:
            lines += ["![%s](evaluation/%s)" % (CAPTIONS[name], name), "", "*%s.*" % CAPTIONS[name], ""]
    lines += method(raw, comps)
    with open(os.path.join(out, "evaluation.md"), "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    log("wrote %s" % os.path.join(out, "evaluation.md"))
    return summ


def _hetero(img_dir, hetero_raw):
    """The heterogeneous scenario's section and its summary (written as hetero-summary.json)."""
    import json
    from . import hetero
    lines, summ = hetero.section(hetero_raw)
    with open(os.path.join(img_dir, "hetero-summary.json"), "w") as f:
        json.dump(summ, f, indent=1, sort_keys=True)
        f.write("\n")
    return lines, summ


def write_hetero_alone(out, hetero_raw, log):
    """OUT/evaluation.md with the heterogeneous scenario's section only (no main raw results in
    OUT: the quick case); returns the invariant failures."""
    lines, summ = _hetero(os.path.join(out, "evaluation"), hetero_raw)
    title = "# Energy evaluation: heterogeneous demand%s" % (" (quick case)" if hetero_raw["quick"] else "")
    with open(os.path.join(out, "evaluation.md"), "w") as f:
        f.write("\n".join([title, ""] + lines).rstrip() + "\n")
    log("wrote %s" % os.path.join(out, "evaluation.md"))
    return summ["invariants"]["failures"]


CAPTIONS = {
    "offered-load.png": "Offered load (cores requested by the jobs that would run if each started on "
                        "arrival) against the cluster's capacity, every seed of each regime",
    "savings.png": "IT energy saved against A, by baseline and regime: mean and 95 % CI over seeds",
    "power.png": "Cluster IT power over the day, moderate regime: mean over seeds with its 95 % CI band",
    "saving-vs-slowdown.png": "Saving against the performance jobs' p95 slowdown, both with 95 % CIs "
                              "(relative axes: regimes of different lengths are comparable)",
    "sensitivity.png": "How each saving moves with the physics parameters (re-priced recorded "
                       "schedules, mean and 95 % CI over seeds)",
}


def header(raw, comps, agg, keys, failures, hetero_headline=None):
    run = raw["run"]
    nodes = comps[0][0]["nodes"]
    mix = {}
    for n in comps[0][2][next(iter(comps[0][2]))]["nodes"]:
        mix[n["type"]] = mix.get(n["type"], 0) + 1
    lines = [
        "# Energy evaluation: what Joulie saves and what it costs",
        "",
        "Generated by `scripts/evaluate.sh`; do not edit by hand: run it again, or rebuild this page "
        "from the committed raw results with `bash scripts/evaluate.sh --report-from "
        "docs/evaluation/raw/results.json.gz` (byte-for-byte; a test checks it). What the "
        "evaluation must show: [design](design.md#evaluation); method, models and sources: *Method* "
        "below.",
        "",
    ]
    if raw["quick"]:
        lines += ["**Quick run** (`--quick`): a CI-sized check of the invariants, not a result.", ""]
    main = agg.get("moderate")
    if main and not raw["quick"]:
        lines += ["## Headline (moderate load)", ""]
        sweep_ranges, worst = {}, {}
        for row in (raw.get("sweep") or {}).get("rows", []):
            for k, v in row["savings"].items():
                c = stats.ci([100 * x for x in v])
                if c["mean"] is None:
                    continue
                worst[k] = min(worst.get(k, c["mean"]), c["mean"])
                if row["delayedShare"] <= DELAY_OK:
                    lo, hi = sweep_ranges.get(k, (c["mean"], c["mean"]))
                    sweep_ranges[k] = (min(lo, c["mean"]), max(hi, c["mean"]))
        for k in keys:
            if k == "A" or k not in main["ci"]:
                continue
            c = main["ci"][k]
            rng = sweep_ranges.get(k)
            lines.append("- **%s** %s: IT energy saved vs A %s%s; performance p95 slowdown %s (A %s); "
                         "eco p95 completion %s min (A %s)." % (
                             k, _title(comps, k), _ci(c["saving"], "%.1f %%"),
                             "" if rng is None else ", **%.1f %% to %.1f %% over the physics sweep** "
                             "(down to %.1f %% where the cap cannot be met)" % (rng + (worst[k],)),
                             _ci(c["performance.slowdownP95"], "%.2f"),
                             _ci(main["ci"]["A"]["performance.slowdownP95"], "%.2f"),
                             _ci(c["eco.p95"], "%.0f"), _ci(main["ci"]["A"]["eco.p95"], "%.0f")))
        sat = agg.get("saturated")
        if sat:
            lines.append("- Saturated load (separately: queues form, job times there are queueing "
                         "effects as much as policy effects): IT energy saved vs A " + "; ".join(
                             "%s %s" % (k, _ci(sat["ci"][k]["saving"], "%.1f %%"))
                             for k in keys if k != "A" and k in sat["ci"]) + ".")
        if hetero_headline:
            lines.append(hetero_headline)
        lines += ["", "Brackets: 95 %% confidence interval over %d seeds (Student's t). The sweep range "
                  "is the spread of the mean saving over the exponent (2–3), static share (0–40 %%) "
                  "and eco cap (120–240 W) values in *Physics sensitivity* where the recorded "
                  "schedule holds; where the eco cap is below what a busy node's static power needs, "
                  "work crawls and the cap costs energy instead (the value in parentheses). B0, C0 "
                  "and U are ablations, not policies: see *Placement or cap?*." % len(main["seeds"]),
                  ""]
    lines += [
        "## This run",
        "",
        "- Command: `%s`" % run["commandLine"],
        "- Regimes and seeds: %s; groups: %d (%d runs)" % (
            "; ".join("%s: seeds %s" % (k, ", ".join(str(s) for s in v["seeds"])) for k, v in agg.items()),
            len(comps), sum(len(c[2]) for c in comps)),
        "- Cluster: %d nodes (%s)%s" % (nodes, ", ".join("%d × %s" % (v, k) for k, v in sorted(mix.items())),
                                       "; hardware file `%s`" % raw["hardwareFile"] if raw.get("hardwareFile") else ""),
        "- joulie: `%s`; started %s, took %.1f min real, %d runs side by side" % (
            run["joulie"], run["startedUtc"], run["durationSeconds"] / 60.0, run["parallelRuns"]),
        "- Machine: %d CPUs (%s), %s, Linux %s, Python %s; load average (1/5/15 min) %s before, %s "
        "after (shared machine: other work ran alongside)" % (
            run["machine"]["cpus"] or 0, run["machine"]["cpuModel"], run["machine"]["memory"],
            run["machine"]["kernel"], run["machine"]["python"],
            " ".join("%.2f" % x for x in run["loadAverageBefore"]),
            " ".join("%.2f" % x for x in run["loadAverageAfter"])) + load_during(run),
        "- The simulated clock waited for the scheduler stand-in (it may run at most %g ticks "
        "ahead of it) %s of the runs' real time: the share by which the machine's load slowed the "
        "replay instead of the stand-in falling behind" % (runner.HORIZON_TICKS, stalled_share(comps)),
        "- Clock factors: %s; scheduler tick %g s real" % (
            "; ".join("%s: %g" % (r, f) for r, f in sorted({(g["regime"], g["factor"]) for g, _, _, _ in comps})),
            raw["tickSeconds"]),
        "- Caps: performance %g W, eco %g W per package; physics α %g, static share %g, stall "
        "activity %g" % (raw["performanceCapWatts"], raw["ecoCapWatts"], raw["physics"]["alpha"],
                         raw["physics"]["staticShare"], raw["physics"]["stallActivity"]),
        "- queue_aware_v1 / context_aware_v1 performance pods per node (mean cores per node over the "
        "trace's mean performance-job request): %s" % ", ".join(sorted({
            "%d" % g["perfPodsPerNode"] for g, _, _, _ in comps})),
        "- Baseline D's signals: %s" % d_signals(comps),
        "- Invariants (every group, every baseline): %s" % (
            "all hold: every job done; work conservation (work done = work given, per job, within "
            "1e-6); the simulator's energy integral within 1 %% of an independent integration of "
            "its exported power (worst %s); 0 performance-pod-seconds on capped nodes (U excepted: "
            "it caps every node by design); per-node energy adds up to the cluster's" % (
                worst_sampled(comps))
            if not failures else "**FAILED**: " + "; ".join(failures)),
        "",
    ]
    return lines


def load_during(run):
    xs = run.get("loadSamples") or []
    if not xs:
        return ""
    return "; during the run (every 30 s): mean %.1f, min %.1f, max %.1f" % (
        sum(xs) / len(xs), min(xs), max(xs))


def stalled_share(comps):
    stalled = sum(r["status"].get("stalledRealSeconds", 0.0) for _, _, runs, _ in comps
                  for r in runs.values())
    real = sum(r["realSeconds"] for _, _, runs, _ in comps for r in runs.values())
    return "–" if not real else "%.1f %%" % (100.0 * stalled / real)


def worst_sampled(comps):
    errs = [b["sampledEnergy"]["relativeError"] for _, _, _, c in comps
            for b in c["baselines"].values() if b.get("available")
            and b["sampledEnergy"]["relativeError"] is not None]
    return "–" if not errs else "%.3f %%" % (100 * max(errs))


def d_signals(comps):
    for _, _, runs, c in comps:
        d = c["baselines"].get("D") or {}
        if d.get("available"):
            return d.get("signals") or "from the given policy file"
        if d:
            return "D did not run (%s)" % d.get("reason", "not requested")
    return "D not requested"


def repeat_section(comps):
    rows = repeat_rows(comps)
    if not rows:
        return []
    out = ["## Run-to-run variation (the same seed twice)", "",
           "The real control loops run in real time on a shared machine, so the same trace and seed "
           "do not give bit-identical runs. Seed %d (%s) run twice:" % (rows[0]["seed"], rows[0]["regime"]),
           "", "| baseline | IT energy (kWh) 1st / 2nd | saved vs A 1st / 2nd | perf p95 (min) 1st / 2nd "
           "| eco p95 (min) 1st / 2nd | transitions 1st / 2nd |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        sv = r["saving"]
        out.append("| %s | %.2f / %.2f | %s / %s | %.1f / %.1f | %.1f / %.1f | %d / %d |" % (
            r["baseline"], r["itKWh"][0], r["itKWh"][1],
            _f(None if sv[0] is None else 100 * sv[0], "%.2f %%"),
            _f(None if sv[1] is None else 100 * sv[1], "%.2f %%"),
            r["perfP95"][0] / 60.0, r["perfP95"][1] / 60.0, r["ecoP95"][0] / 60.0,
            r["ecoP95"][1] / 60.0, r["transitions"][0], r["transitions"][1]))
    diffs = [abs(r["saving"][0] - r["saving"][1]) * 100 for r in rows
             if r["saving"][0] is not None and r["baseline"] != "A"]
    if diffs:
        out += ["", "Largest difference of a saving between the two runs: %.2f points; compare it "
                "with the confidence intervals above (which include it, as every seed's run has it)." % max(diffs)]
    return out + [""]


def method(raw, comps):
    factors = sorted({g["factor"] for g, _, _, _ in comps})
    f = factors[-1]
    return METHOD.format(
        alpha=physics.ALPHA, static=physics.STATIC_SHARE, stall=physics.STALL_ACTIVITY,
        smin=physics.S_MIN, rth=physics.R_TH, tau=physics.TAU_TH, factor=f,
        op_interval=60.0 / f * 1000.0, agent_sim=f, tick=raw["tickSeconds"],
        tick_sim=raw["tickSeconds"] * f, settle_ms=runner.DOWNGRADE_SETTLE_REAL * 1000.0,
        settle_sim=runner.DOWNGRADE_SETTLE_REAL * f,
        cpu_choices=", ".join("%d (%.0f %%)" % (c, 100 * p) for c, p in tracemod.CPU_CHOICES),
        moderate=tracemod.REGIMES["moderate"], saturated=tracemod.REGIMES["saturated"],
    ).splitlines() + ["", "### Hardware types", ""] + hardware_rows(raw, raw["ecoCapWatts"]) + [""]


METHOD_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "method.md")
with open(METHOD_PATH) as _f_method:
    METHOD = _f_method.read()
