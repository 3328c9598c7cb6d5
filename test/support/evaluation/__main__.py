"""python3 -m evaluation: the energy evaluation (scripts/evaluate.sh runs it; docs/evaluation.md).

Replays seeded traces in two load regimes (moderate: the main comparison; saturated) against the
real joulie operator and pool-mode agent, the test API server and the power simulator, for every
baseline (A no management, B static_partition, C queue_aware_v1, D context_aware_v1 when this build
has it) and the ablations (B0, C0: placement without caps; U: one cap everywhere), ≥ 5 seeds each;
repeats one seed to measure run-to-run variation; re-prices the recorded schedules over a physics
sweep; then writes OUT/evaluation.md, OUT/evaluation/*.png, OUT/evaluation/summary.json and the raw
results (OUT/evaluation/raw/results.json.gz), from which --report-from rebuilds all of it exactly.
--quick: a small run for CI that checks the invariants and exits 1 when one fails.
"""

import argparse
import concurrent.futures
import os
import shutil
import sys
import tempfile
import threading
import time

from . import hardware as hwfile
from . import metrics, rawio, report, reprice, runner, trace as tracemod
from powersim import physics

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

# Each run kind: cluster size, seeds, worker processes, and per regime (hours, clock factor,
# baselines). The factor keeps the real duration in budget (docs/evaluation.md: what it does to the
# loops). Runs are latency-bound (their loops sleep between ticks), so `jobs` of them run side by
# side, each with its own API server, simulator and joulie processes.
QUICK = {"nodes": 6, "seeds": 1, "jobs": 2, "tick": 0.1, "repeat": False, "sweep": False,
         "regimes": {"moderate": (2.0, 900.0, "A,B,C,D")}}
FULL = {"nodes": 20, "seeds": 5, "jobs": 3, "tick": 0.1, "repeat": True, "sweep": True,
        "regimes": {"moderate": (24.0, 1200.0, "A,B,C,D,B0,C0,U"),
                    "saturated": (6.0, 1200.0, "A,B,C,D")}}
REPEAT_BASELINES = "A,B,C,D"
ECO_CAP = 160.0
# The physics sweep (re-priced over the recorded moderate runs): one parameter at a time around the
# default, and the corners of the box, whose extremes give the headline's range.
SWEEP_ALPHA = (2.0, 2.4, 3.0)
SWEEP_STATIC = (0.0, 0.1, 0.2, 0.3, 0.4)
SWEEP_ECO = (120.0, 140.0, 160.0, 200.0, 240.0)
SWEEP_BASELINES = ("A", "B", "C", "D", "U")


def parse(argv):
    p = argparse.ArgumentParser(prog="evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=1, help="first seed (seeds are SEED, SEED+1, ...)")
    p.add_argument("--seeds", type=int, help="seeds per regime (quick 1, full 5)")
    p.add_argument("--quick", action="store_true", help="small CI run: invariants only")
    p.add_argument("--nodes", type=int, help="cluster size (quick 6, full 40; ignored with --hardware)")
    p.add_argument("--hours", type=float, help="trace length in simulated hours (every regime)")
    p.add_argument("--factor", type=float, help="simulated seconds per real second (every regime)")
    p.add_argument("--regimes", help="comma-separated: moderate,saturated (quick: moderate)")
    p.add_argument("--jobs", type=int, help="runs side by side (quick 2, full 3)")
    p.add_argument("--out", help="output directory (default: docs/ for a full run, a temporary "
                   "directory for --quick)")
    p.add_argument("--trace", help="CSV trace instead of the generator (columns in trace.py)")
    p.add_argument("--hardware", help="YAML hardware file: node types and counts (hardware.py)")
    p.add_argument("--mix", default="balanced", choices=sorted(tracemod.MIXES))
    p.add_argument("--baselines", help="restrict to these baselines (A,B,C,D,B0,C0,U)")
    p.add_argument("--repeat", choices=("auto", "on", "off"), default="auto",
                   help="run the first seed's A-D twice (auto: full runs only)")
    p.add_argument("--sweep", choices=("auto", "on", "off"), default="auto",
                   help="the physics sensitivity sweep (auto: full runs only)")
    p.add_argument("--joulie", default=os.environ.get("JOULIE_BIN", os.path.join(ROOT, "build", "joulie")))
    p.add_argument("--policy-config", help="policy file for baseline D (context_aware_v1)")
    p.add_argument("--no-prometheus", action="store_true",
                   help="baseline D without Prometheus even when /usr/bin/prometheus exists")
    p.add_argument("--no-d-stability", dest="d_stability", action="store_false",
                   help="leave out baseline D's stability block (minDwell 10 simulated min, "
                        "budget 10 %%)")
    p.add_argument("--keep-logs", action="store_true", help="keep the daemons' logs (always kept on failure)")
    p.add_argument("--report-from", metavar="RAW",
                   help="rebuild the report, plots and summary.json from raw results "
                        "(OUT/evaluation/raw/results.json.gz of a run) without running anything")
    p.add_argument("--resweep", action="store_true",
                   help="with --report-from: recompute the physics sweep from the raw results' "
                        "recorded schedules and write them back (OUT/evaluation/raw/results.json.gz)")
    p.add_argument("--scenario", choices=("main", "hetero"), default="main",
                   help="hetero: the heterogeneous-demand scenario (C's count-based against D's "
                        "fit-aware supply; hetero.py) instead of the main comparison; its section "
                        "joins OUT/evaluation.md when OUT holds the main raw results")
    p.add_argument("--command-line", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def log(msg):
    print("evaluate: %s" % msg, file=sys.stderr, flush=True)


def build_plan(args, kind, hardware):
    """The groups to run: one per (regime, seed), plus the repeat. Each: its trace and baselines."""
    seeds = args.seeds or kind["seeds"]
    regimes = [r.strip() for r in (args.regimes or ",".join(kind["regimes"])).split(",") if r.strip()]
    nodes_n = args.nodes or kind["nodes"]
    nodes = runner.cluster_nodes(nodes_n, args.seed, hardware)
    types = runner.hardware_types(hardware)
    cores = sum(types[n["type"]].cores for n in nodes)
    wanted = set(k.strip() for k in args.baselines.split(",")) if args.baselines else None
    groups = []
    for regime in regimes:
        if regime not in kind["regimes"] and regime not in FULL["regimes"]:
            raise ValueError("unknown regime %r" % regime)
        hours, factor, which = kind["regimes"].get(regime) or FULL["regimes"][regime]
        hours = args.hours or hours
        factor = args.factor or factor
        keys = [k for k in which.split(",") if wanted is None or k in wanted]
        for i in range(seeds):
            seed = args.seed + i
            if args.trace:
                trc = tracemod.load_csv(args.trace, max(types[n["type"]].cores for n in nodes))
            else:
                trc = tracemod.generate(seed, hours, cores, args.mix, regime)
            groups.append({"name": "%s seed %d" % (regime, seed), "regime": regime, "seed": seed,
                           "repeat": False, "factor": factor, "trace": trc, "baselines": keys,
                           "nodes": len(nodes), "cores": cores})
            if args.trace:
                break  # a user's trace is one trace: no seeds to vary
    repeat = args.repeat == "on" or (args.repeat == "auto" and kind["repeat"])
    if repeat and groups:
        g = dict(groups[0], repeat=True, name=groups[0]["name"] + " (repeat)",
                 baselines=[k for k in REPEAT_BASELINES.split(",") if k in groups[0]["baselines"]])
        groups.append(g)
    return groups, nodes_n


def run_task(task):
    """One baseline of one group, in a worker process: the compact raw run (rawio)."""
    group, key, cfg, perf_per_node, workdir = task
    b = {x.key: x for x in runner.baselines(ECO_CAP, perf_per_node, cfg["policy_config"],
                                            cfg["d_stability"])}[key]
    t0 = time.monotonic()
    log("%s: baseline %s (%s), %d jobs, factor %g ..." % (group["name"], key, b.title,
                                                         len(group["trace"]["jobs"]), cfg["factor"]))
    run = runner.run_baseline(b, group["trace"], cfg, workdir, lambda m: log("%s %s" % (
        group["name"], m.strip())))
    run["workCheck"] = metrics.work_check(group["trace"]["jobs"], run["jobs"])
    log("%s: baseline %s done in %.0f s real, last job at %.0f s simulated" % (
        group["name"], key, time.monotonic() - t0, run["end"]))
    return rawio.compact_run(run, group["trace"])


def run_groups(groups, args, kind, hardware, workroot):
    d_available = runner.supports_policy(args.joulie, "context_aware_v1")
    tasks, meta = [], []
    for gi, g in enumerate(groups):
        g["perfPodsPerNode"] = max(1, int(round(g["cores"] / float(g["nodes"]) /
                                                tracemod.perf_job_cores(g["trace"]))))
        g["available"] = {}
        for key in g["baselines"]:
            if key == "D" and not d_available:
                g["available"][key] = ("not available in this build (joulie operator --help does not "
                                       "list context_aware_v1)")
                continue
            g["available"][key] = None
            cfg = {"nodes": g["nodes"], "factor": g["factor"], "tick": kind["tick"], "seed": g["seed"],
                   "sample_seconds": 60.0 if args.quick else 300.0, "joulie": args.joulie,
                   "support": os.path.join(ROOT, "test", "support"), "crds": os.path.join(ROOT, "crds"),
                   "rules": os.path.join(ROOT, "examples", "monitoring", "powersim-rules.yaml"),
                   "prometheus": not args.no_prometheus, "d_stability": args.d_stability,
                   "policy_config": args.policy_config, "hardware": hardware,
                   "start_timeout": 60.0 if g["nodes"] < 200 else 300.0,
                   "run_timeout": 150.0 if args.quick else 3600.0}
            workdir = os.path.join(workroot, "%s-%d%s-%s" % (g["regime"], g["seed"],
                                                             "r" if g["repeat"] else "", key))
            tasks.append((g, key, cfg, g["perfPodsPerNode"], workdir))
            meta.append((gi, key))
    jobs = args.jobs or kind["jobs"]
    results = {}
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=jobs)
    try:
        futures = {pool.submit(run_task, t): m for t, m in zip(tasks, meta)}
        for fut in concurrent.futures.as_completed(futures):
            results[futures[fut]] = fut.result()  # an EvalError ends the evaluation
    finally:
        # On a failure or an interrupt, start nothing more (the running ones stop their daemons).
        pool.shutdown(wait=True, cancel_futures=True)
    raw_groups = []
    for gi, g in enumerate(groups):
        raw_groups.append({
            "name": g["name"], "regime": g["regime"], "seed": g["seed"], "repeat": g["repeat"],
            "factor": g["factor"], "nodes": g["nodes"], "cores": g["cores"],
            "perfPodsPerNode": g["perfPodsPerNode"], "available": g["available"],
            "trace": rawio.compact_trace(g["trace"]),
            "runs": {key: results[(gi, key)] for key in g["baselines"] if (gi, key) in results}})
    return raw_groups, jobs


def comparisons(raw):
    """Per group: the expanded trace and runs, and the figures (metrics.comparison)."""
    out = []
    for g in raw["groups"]:
        trc = rawio.expand_trace(g["trace"])
        runs = {k: rawio.expand_run(r, trc) for k, r in g["runs"].items()}
        comp = metrics.comparison(runs, trc, g["nodes"], g["available"])
        comp.update({"name": g["name"], "regime": g["regime"], "seed": g["seed"],
                     "repeat": g["repeat"], "nodes": g["nodes"], "factor": g["factor"],
                     "perfPodsPerNode": g["perfPodsPerNode"],
                     "trace": tracemod.summary(trc, g["cores"])})
        out.append((g, trc, runs, comp))
    return out


def sweep(comps, types_by_group):
    """The physics sweep over the moderate, non-repeat groups: savings vs A per parameter set."""
    configs = []
    for a in SWEEP_ALPHA:
        configs.append(("alpha", a, a, physics.STATIC_SHARE, ECO_CAP))
    for s in SWEEP_STATIC:
        configs.append(("static", s, physics.ALPHA, s, ECO_CAP))
    for c in SWEEP_ECO:
        configs.append(("ecoCap", c, physics.ALPHA, physics.STATIC_SHARE, c))
    for a in (SWEEP_ALPHA[0], SWEEP_ALPHA[-1]):
        for s in (SWEEP_STATIC[0], SWEEP_STATIC[-1]):
            for c in (SWEEP_ECO[0], SWEEP_ECO[-1]):
                configs.append(("corner", "%g/%g/%g" % (a, s, c), a, s, c))
    rows = []
    cache = {}
    default_err = []
    for kind, value, alpha, static, eco in configs:
        p = physics.Physics(alpha, static)
        per_base = {}
        delayed = work = 0.0
        for g, trc, runs, comp in comps:
            if g["regime"] != "moderate" or g["repeat"] or "A" not in runs:
                continue
            priced = {}
            for key in SWEEP_BASELINES:
                if key not in runs:
                    continue
                # A, B0, C0 never apply the eco cap: their price does not depend on it.
                ck = (g["name"], key, alpha, static, eco if key not in ("A",) else None)
                if ck not in cache:
                    cache[ck] = reprice.run_energy(runs[key], trc, types_by_group, p, ECO_CAP, eco,
                                                   runner.PERFORMANCE_CAP)
                priced[key] = cache[ck]
            window = max([comp["windowSeconds"]] + [last for pr in priced.values()
                                                    for _, last, _, _ in pr.values()])
            energy = {k: reprice.window_energy(pr, window) for k, pr in priced.items()}
            delayed += sum(d for pr in priced.values() for _, _, _, d in pr.values())
            work += len(priced) * sum(j["cpus"] * j["work"] for j in trc["jobs"])
            if kind == "alpha" and value == physics.ALPHA:
                for k, e in energy.items():
                    measured = comp["baselines"][k]["itEnergyJoules"]
                    w0 = comp["windowSeconds"]
                    e0 = reprice.window_energy(priced[k], w0) if window == w0 else None
                    if e0 is not None:
                        default_err.append(abs(e0 - measured) / measured)
            for k, e in energy.items():
                if k != "A":
                    per_base.setdefault(k, []).append(1.0 - e / energy["A"])
        rows.append({"kind": kind, "value": value, "alpha": alpha, "staticShare": static,
                     "ecoCapWatts": eco, "savings": per_base,
                     "delayedCoreHours": round(delayed / 3600.0, 3),
                     "delayedShare": round(delayed / work, 5) if work else None})
    return {"rows": rows, "defaultRepricingMaxError": max(default_err) if default_err else None,
            "baselines": list(SWEEP_BASELINES)}


HETERO_RAW = "hetero.json.gz"


def write_outputs(out, raw, hetero_raw=None):
    comps = comparisons(raw)
    summary = report.write(out, raw, comps, log, hetero_raw)
    return summary


def hetero_beside(raw_path):
    """The heterogeneous scenario's raw results next to the main ones, if any."""
    path = os.path.join(os.path.dirname(os.path.abspath(raw_path)), HETERO_RAW)
    return rawio.read(path) if os.path.exists(path) else None


def write_hetero_outputs(out, hetero_raw):
    """OUT/evaluation.md with the main report and the scenario's section when OUT holds the main
    raw results; else with the scenario's section alone. Returns (ok, failures)."""
    main_raw = os.path.join(out, "evaluation", "raw", "results.json.gz")
    if os.path.exists(main_raw):
        summary = write_outputs(out, rawio.read(main_raw), hetero_raw)
        fails = summary["invariants"]["failures"]
    else:
        fails = report.write_hetero_alone(out, hetero_raw, log)
    return not fails, fails


def run_in_workroot(args, prefix, body):
    """Runs body(workroot) -> exit status in a fresh folder for the daemons' logs. Both scenarios
    share what surrounds a run: no binary exits 2 before anything starts; an EvalError is one
    "failed:" line and exit 1; the folder is removed after a clean run (unless --keep-logs) and
    named otherwise, so a failure keeps the logs that explain it."""
    if not os.access(args.joulie, os.X_OK):
        log("no joulie binary at %s (build it, or set JOULIE_BIN)" % args.joulie)
        return 2
    workroot = tempfile.mkdtemp(prefix=prefix)
    status = 1
    try:
        status = body(workroot)
        return status
    except runner.EvalError as e:
        log("failed: %s" % e)
        return 1
    finally:
        if status == 0 and not args.keep_logs:
            shutil.rmtree(workroot, ignore_errors=True)
        else:
            log("daemon logs in %s" % workroot)


def exit_status(failures):
    for f in failures:
        log("INVARIANT FAILED: " + f)
    return 1 if failures else 0


def main_hetero(args, out):
    """--scenario hetero: run it, keep its raw results, write the report."""
    from . import hetero

    def body(workroot):
        started, load_before = time.time(), os.getloadavg()
        raw, jobs = hetero.run(args, args.quick, workroot, ECO_CAP)
        raw["run"] = report.run_meta(args, started, time.time(), load_before, os.getloadavg(), jobs)
        raw_dir = os.path.join(out, "evaluation", "raw")
        os.makedirs(raw_dir, exist_ok=True)
        rawio.write(os.path.join(raw_dir, HETERO_RAW), raw)
        return exit_status(write_hetero_outputs(out, raw)[1])
    return run_in_workroot(args, "joulie-eval-hetero-", body)


class LoadSampler:
    """The 1-minute load average every 30 s while a run lasts: what else ran on the machine."""

    def __init__(self):
        self.samples = []
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self):
        while not self._stop.wait(30.0):
            self.samples.append(round(os.getloadavg()[0], 2))

    def stop(self):
        self._stop.set()
        return list(self.samples)


def run_main_scenario(args, out, kind, groups, hardware, workroot):
    """The baselines' runs, the sweep and the report; the raw results are written before the
    sweep so that the runs are safe if it fails. Returns the exit status."""
    started, load_before = time.time(), os.getloadavg()
    sampler = LoadSampler()
    try:
        raw_groups, jobs = run_groups(groups, args, kind, hardware, workroot)
        raw = {"version": 1, "groups": raw_groups, "ecoCapWatts": ECO_CAP,
               "performanceCapWatts": runner.PERFORMANCE_CAP,
               "controlFlags": {str(g["factor"]): runner.control_flags(g["factor"]) for g in groups},
               "tickSeconds": kind["tick"], "physics": physics.DEFAULT.describe(),
               "hardware": {k: hw.describe() for k, hw in runner.hardware_types(hardware).items()},
               "hardwareFile": args.hardware, "quick": bool(args.quick), "firstSeed": args.seed}
        raw_dir = os.path.join(out, "evaluation", "raw")
        os.makedirs(raw_dir, exist_ok=True)
        raw_path = os.path.join(raw_dir, "results.json.gz")
        raw["run"] = report.run_meta(args, started, time.time(), load_before, os.getloadavg(), jobs)
        rawio.write(raw_path, raw)  # the runs are safe before the sweep
        do_sweep = args.sweep == "on" or (args.sweep == "auto" and kind["sweep"])
        sweep_started = time.time()
        if do_sweep:
            log("physics sweep: re-pricing the recorded moderate runs ...")
            raw["sweep"] = sweep(comparisons(raw), runner.hardware_types(hardware))
            raw["sweep"]["realSeconds"] = round(time.time() - sweep_started, 1)
        raw["run"] = report.run_meta(args, started, time.time(), load_before, os.getloadavg(), jobs)
    finally:
        load_samples = sampler.stop()
    raw["run"]["loadSamples"] = load_samples
    rawio.write(raw_path, raw)
    log("raw results in %s (--report-from rebuilds the report from them)" % raw_path)
    summary = write_outputs(out, raw, hetero_beside(raw_path))
    return exit_status(summary["invariants"]["failures"])


def main(argv=None):
    args = parse(argv)
    kind = QUICK if args.quick else FULL
    if args.out:
        out = os.path.abspath(args.out)
    elif args.quick and not args.report_from:
        out = tempfile.mkdtemp(prefix="joulie-eval-")
    else:
        out = os.path.join(ROOT, "docs")
    os.makedirs(os.path.join(out, "evaluation"), exist_ok=True)
    if args.report_from:
        return report_from(args, out)
    if args.scenario == "hetero":
        return main_hetero(args, out)
    try:
        hardware = hwfile.load(args.hardware) if args.hardware else None
        groups, _ = build_plan(args, kind, hardware)
    except (OSError, ValueError) as e:
        log(str(e))
        return 2
    return run_in_workroot(args, "joulie-eval-work-",
                           lambda workroot: run_main_scenario(args, out, kind, groups, hardware,
                                                              workroot))


def report_from(args, out):
    """--report-from: rebuild the report from recorded raw results (re-sweeping with --resweep)."""
    raw = rawio.read(args.report_from)
    if raw.get("scenario") == "hetero":
        return 0 if write_hetero_outputs(out, raw)[0] else 1
    if args.resweep:
        t0 = time.time()
        types = {k: physics.HardwareType.from_dict(d) for k, d in raw["hardware"].items()}
        raw["sweep"] = sweep(comparisons(raw), types)
        raw["sweep"]["realSeconds"] = round(time.time() - t0, 1)
        raw["sweep"]["recomputed"] = True
        os.makedirs(os.path.join(out, "evaluation", "raw"), exist_ok=True)
        rawio.write(os.path.join(out, "evaluation", "raw", "results.json.gz"), raw)
    summary = write_outputs(out, raw, hetero_beside(args.report_from))
    return 0 if summary["invariants"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
