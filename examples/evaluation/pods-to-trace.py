#!/usr/bin/env python3
"""Turns completed pods into an evaluation trace CSV (docs/evaluation.md, "Your own cluster").

    kubectl get pods -A -o json > pods.json      # or several such dumps over a week, concatenated
    python3 examples/evaluation/pods-to-trace.py pods.json > trace.csv
    bash scripts/evaluate.sh --trace trace.csv --hardware my-hardware.yaml

Reads pods that succeeded (status.phase Succeeded, with start and finish times). For each:
arrival = creationTimestamp, work = the container's finish − the pod's start (measured at the
frequency the node ran: a lower bound of the stretch the model adds), cpus = the CPU requests
rounded up to whole cores, class = the pod's joulie.io/power-profile nodeSelector (performance
or eco; none: general). mem_fraction is not in the API: --mem-fraction (default 0.3) or a
per-namespace value (--mem NAMESPACE=FRACTION, repeatable) from a profiler's stalled-cycle share.
Times are shifted so the first arrival is 0 (midnight of the simulated day one: pass
--align-midnight to keep the time of day of the first arrival instead).
"""

import argparse
import csv
import json
import math
import sys
from datetime import datetime


def ts(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").timestamp()


def cpus(pod):
    total = 0.0
    for c in pod["spec"].get("containers", []):
        req = ((c.get("resources") or {}).get("requests") or {}).get("cpu", "0")
        total += float(req[:-1]) / 1000.0 if req.endswith("m") else float(req)
    return max(1, int(math.ceil(total)))


def rows(items, default_mem, mem_by_ns, align_midnight):
    out = []
    for pod in items:
        st = pod.get("status") or {}
        if st.get("phase") != "Succeeded" or not st.get("startTime"):
            continue
        ends = [((c.get("state") or {}).get("terminated") or {}).get("finishedAt")
                for c in st.get("containerStatuses") or []]
        ends = [e for e in ends if e]
        if not ends:
            continue
        meta = pod["metadata"]
        work = max(ts(e) for e in ends) - ts(st["startTime"])
        if work <= 0:
            continue
        profile = (pod["spec"].get("nodeSelector") or {}).get("joulie.io/power-profile")
        out.append({"id": "%s/%s" % (meta["namespace"], meta["name"]),
                    "arrival": ts(meta["creationTimestamp"]),
                    "class": profile if profile in ("performance", "eco") else "general",
                    "cpus": cpus(pod), "work": work,
                    "mem": mem_by_ns.get(meta["namespace"], default_mem)})
    if not out:
        return out
    t0 = min(r["arrival"] for r in out)
    if align_midnight:
        t0 -= t0 % 86400
    for r in out:
        r["arrival"] -= t0
    return sorted(out, key=lambda r: (r["arrival"], r["id"]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("pods", nargs="+", help="kubectl get pods -A -o json output files")
    p.add_argument("--mem-fraction", type=float, default=0.3)
    p.add_argument("--mem", action="append", default=[], metavar="NAMESPACE=FRACTION")
    p.add_argument("--align-midnight", action="store_true")
    args = p.parse_args(argv)
    mem_by_ns = dict((k, float(v)) for k, v in (m.split("=", 1) for m in args.mem))
    items, seen = [], set()
    for path in args.pods:
        with open(path) as f:
            for pod in json.load(f).get("items", []):
                uid = pod["metadata"].get("uid")
                if uid not in seen:
                    seen.add(uid)
                    items.append(pod)
    w = csv.writer(sys.stdout)
    w.writerow(["id", "arrival_seconds", "class", "cpus", "work_seconds", "mem_fraction"])
    for r in rows(items, args.mem_fraction, mem_by_ns, args.align_midnight):
        w.writerow([r["id"], "%.1f" % r["arrival"], r["class"], r["cpus"], "%.1f" % r["work"], r["mem"]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
