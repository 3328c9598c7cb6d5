"""python3 -m evaluation: the energy evaluation of SPEC.md §9 (scripts/evaluate.sh runs it).

Replays one trace per baseline (A no management, B static_partition, C queue_aware_v1, D
context_aware_v1 when this joulie build has it) against the real joulie operator and pool-mode
agent, the test API server and the power simulator, then writes OUT/evaluation.md,
OUT/evaluation/*.png and OUT/evaluation/summary.json. --quick: a small run for CI that checks the
invariants and exits 1 when one fails.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

from . import metrics, report, runner, trace as tracemod

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

# (nodes, hours, factor, tick) of each run kind. The factor keeps a run's real duration in budget
# (docs/evaluation.md: what it does to the loops).
QUICK = {"nodes": 6, "hours": 2.0, "factor": 900.0, "tick": 0.1}
FULL = {"nodes": 40, "hours": 24.0, "factor": 600.0, "tick": 0.1}
# The sensitivity runs: name, mix, nodes, hours, factor, baselines. Shorter traces than the main run
# so that the whole full run stays within 30 min here; at 1 000 nodes the Python API server and
# scheduler stand-in need a lower factor to keep up, and B (static) is left out for time.
SENSITIVITY = [
    ("compute-bound-heavy mix, 40 nodes", "compute", 40, 6.0, 900.0, "A,B,C,D"),
    ("memory-bound-heavy mix, 40 nodes", "memory", 40, 6.0, 900.0, "A,B,C,D"),
    ("balanced mix, 1000 nodes", "balanced", 1000, 0.5, 120.0, "A,C,D"),
]
ECO_CAP = 160.0


def parse(argv):
    p = argparse.ArgumentParser(prog="evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="small CI run: invariants only")
    p.add_argument("--nodes", type=int, help="cluster size (quick %d, full %d)" % (
        QUICK["nodes"], FULL["nodes"]))
    p.add_argument("--hours", type=float, help="trace length in simulated hours (quick %g, full %g)" % (
        QUICK["hours"], FULL["hours"]))
    p.add_argument("--factor", type=float, help="simulated seconds per real second (quick %g, full %g)"
                   % (QUICK["factor"], FULL["factor"]))
    p.add_argument("--out", help="output directory (default: docs/ for a full run, a temporary "
                   "directory for --quick)")
    p.add_argument("--trace", help="CSV trace instead of the generator (columns in trace.py)")
    p.add_argument("--mix", default="balanced", choices=sorted(tracemod.MIXES))
    p.add_argument("--baselines", default="A,B,C,D")
    p.add_argument("--sensitivity", choices=("auto", "on", "off"), default="auto",
                   help="the sensitivity runs (auto: on for a full run, off for --quick)")
    p.add_argument("--joulie", default=os.environ.get("JOULIE_BIN", os.path.join(ROOT, "build", "joulie")))
    p.add_argument("--policy-config", help="policy file for baseline D (context_aware_v1)")
    p.add_argument("--no-prometheus", action="store_true",
                   help="baseline D without Prometheus even when /usr/bin/prometheus exists")
    p.add_argument("--no-d-stability", dest="d_stability", action="store_false",
                   help="leave out baseline D's stability block (minDwell 10 simulated min, "
                        "budget 10 %%)")
    p.add_argument("--keep-logs", action="store_true", help="keep the daemons' logs (always kept on failure)")
    p.add_argument("--report-from", metavar="RAW",
                   help="regenerate the report, plots and summary.json from a previous run's raw "
                        "results (the file it names at the end) without running anything")
    p.add_argument("--command-line", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def run_comparison(name, trc, nodes, factor, tick, args, workroot, quick, log, which=None):
    cfg = {"nodes": nodes, "factor": factor, "tick": tick, "seed": args.seed,
           "sample_seconds": 60.0 if quick else 300.0, "joulie": args.joulie,
           "support": os.path.join(ROOT, "test", "support"), "crds": os.path.join(ROOT, "crds"),
           "rules": os.path.join(ROOT, "examples", "monitoring", "powersim-rules.yaml"),
           "prometheus": not args.no_prometheus, "d_stability": args.d_stability,
           "start_timeout": 60.0 if nodes < 200 else 300.0,
           "run_timeout": 150.0 if quick else 1800.0}
    cores = sum(runner.physics.HARDWARE[n["type"]].cores for n in runner.cluster_nodes(nodes, args.seed))
    perf_per_node = max(1, int(round(cores / float(nodes) / 12.4)))
    wanted = [k.strip() for k in (which or args.baselines).split(",") if k.strip()]
    runs, available = {}, {}
    for b in runner.baselines(ECO_CAP, perf_per_node, args.policy_config, args.d_stability):
        if b.key not in wanted:
            continue
        if b.policy == "context_aware_v1" and not runner.supports_policy(args.joulie, b.policy):
            available[b.key] = "not available in this build (joulie operator --help does not list %s)" % (
                b.policy)
            log("%s: baseline %s %s" % (name, b.key, available[b.key]))
            continue
        workdir = os.path.join(workroot, "%s-%s" % (name.split(",")[0].replace(" ", "_"), b.key))
        t0 = time.monotonic()
        log("%s: baseline %s (%s), %d nodes, %d jobs, factor %g ..." % (
            name, b.key, b.title, nodes, len(trc["jobs"]), factor))
        runs[b.key] = runner.run_baseline(b, trc, cfg, workdir, log)
        available[b.key] = None
        log("%s: baseline %s done in %.0f s real, last job at %.0f s simulated" % (
            name, b.key, time.monotonic() - t0, runs[b.key]["end"]))
    comp = metrics.comparison(runs, trc, nodes, available)
    comp.update({"name": name, "nodes": nodes, "factor": factor, "tick": tick,
                 "perfPodsPerNode": perf_per_node, "ecoCapWatts": ECO_CAP,
                 "performanceCapWatts": runner.PERFORMANCE_CAP,
                 "controlFlags": runner.control_flags(factor),
                 "trace": tracemod.summary(trc)})
    return comp, runs


def write_outputs(out, raw, log):
    os.makedirs(os.path.join(out, "evaluation"), exist_ok=True)
    with open(os.path.join(out, "evaluation", "summary.json"), "w") as f:
        json.dump(raw["summary"], f, indent=1, sort_keys=True)
        f.write("\n")
    report.write(out, raw["summary"], raw["mainRuns"], raw["main"], raw["sensitivity"], log)
    log("wrote %s and %s" % (os.path.join(out, "evaluation.md"),
                             os.path.join(out, "evaluation", "summary.json")))


def main(argv=None):
    args = parse(argv)
    kind = QUICK if args.quick else FULL
    nodes = args.nodes or kind["nodes"]
    hours = args.hours or kind["hours"]
    factor = args.factor or kind["factor"]
    sensitivity = args.sensitivity == "on" or (args.sensitivity == "auto" and not args.quick)
    if args.out:
        out = os.path.abspath(args.out)
    elif args.quick:
        out = tempfile.mkdtemp(prefix="joulie-eval-")
    else:
        out = os.path.join(ROOT, "docs")
    os.makedirs(os.path.join(out, "evaluation"), exist_ok=True)
    workroot = tempfile.mkdtemp(prefix="joulie-eval-work-")
    started = time.time()
    load_before = os.getloadavg()

    def log(msg):
        print("evaluate: %s" % msg, file=sys.stderr, flush=True)

    if args.report_from:
        with open(args.report_from) as f:
            raw = json.load(f)
        write_outputs(out, raw, log)
        return 0 if raw["summary"]["invariants"]["ok"] else 1
    if not os.access(args.joulie, os.X_OK):
        log("no joulie binary at %s (build it, or set JOULIE_BIN)" % args.joulie)
        return 2
    try:
        if args.trace:
            trc = tracemod.load_csv(args.trace)
        else:
            cores = sum(runner.physics.HARDWARE[n["type"]].cores
                        for n in runner.cluster_nodes(nodes, args.seed))
            trc = tracemod.generate(args.seed, hours, cores, args.mix)
    except (OSError, ValueError) as e:
        log(str(e))
        return 2
    ok = False
    try:
        main_comp, main_runs = run_comparison("main", trc, nodes, factor, kind["tick"], args, workroot,
                                              args.quick, log)
        sens = []
        if sensitivity:
            wanted = set(k.strip() for k in args.baselines.split(","))
            for name, mix, n, h, f, which in SENSITIVITY:
                which = ",".join(k for k in which.split(",") if k in wanted)
                cores = sum(runner.physics.HARDWARE[x["type"]].cores
                            for x in runner.cluster_nodes(n, args.seed))
                t = tracemod.generate(args.seed, h, cores, mix)
                try:
                    comp, _ = run_comparison(name, t, n, f, kind["tick"], args, workroot, False, log,
                                             which)
                except runner.EvalError as e:
                    log("%s: did not complete: %s" % (name, e))
                    comp = {"name": name, "nodes": n, "factor": f, "error": str(e),
                            "trace": tracemod.summary(t), "baselines": {}}
                sens.append(comp)
        failures = metrics.invariants(main_comp)
        for comp in sens:
            failures += ["%s: %s" % (comp["name"], f) for f in metrics.invariants(comp)]
        finished = time.time()
        summary = report.summary(args, main_comp, sens, failures, {
            "started": started, "finished": finished, "loadBefore": load_before,
            "loadAfter": os.getloadavg(), "joulie": args.joulie,
            "commandLine": args.command_line or " ".join(["python3 -m evaluation"] + (argv or sys.argv[1:]))})
        raw = {"summary": summary, "mainRuns": main_runs, "main": main_comp, "sensitivity": sens}
        fd, raw_path = tempfile.mkstemp(prefix="joulie-eval-raw-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(raw, f)
        log("raw results in %s (--report-from regenerates the report from them)" % raw_path)
        write_outputs(out, raw, log)
        for f in failures:
            log("INVARIANT FAILED: " + f)
        ok = not failures
        return 0 if ok else 1
    except runner.EvalError as e:
        log("failed: %s" % e)
        return 1
    finally:
        if ok and not args.keep_logs:
            shutil.rmtree(workroot, ignore_errors=True)
        else:
            log("daemon logs in %s" % workroot)


if __name__ == "__main__":
    sys.exit(main())
