"""The raw results of an evaluation, compact enough to commit (docs/evaluation/raw/*.json.gz).

Every figure of the report is computed from these compact records (compact first, then expand and
compute), so `--report-from` on the committed file rebuilds the report and the plots exactly.
A trace is stored once per (regime, seed) as columns; a run stores per job (in trace order) its
start, finish and node, the caps the simulator applied, the label changes, the power series, the
simulator's integrals and the checks computed on the exact (unrounded) data.
"""

import gzip
import json

CLASS_CODES = ("performance", "eco", "general")
SERIES_KEYS = ("t", "itWatts", "facilityWatts", "cappedNodes", "busyCpus", "itEnergyJoules",
               "facilityEnergyJoules")


def _r(v, nd=1):
    return None if v is None else round(v, nd)


def compact_trace(trace):
    jobs = trace["jobs"]
    meta = {k: v for k, v in trace.items() if k != "jobs"}
    meta["columns"] = {
        "id": [j["id"] for j in jobs],
        "arrival": [round(j["arrival"], 3) for j in jobs],
        "class": [CLASS_CODES.index(j["class"]) for j in jobs],
        "cpus": [j["cpus"] for j in jobs],
        "work": [round(j["work"], 3) for j in jobs],
        "memFraction": [round(j["memFraction"], 4) for j in jobs],
    }
    return meta


def expand_trace(c):
    cols = c["columns"]
    jobs = [{"id": cols["id"][i], "arrival": cols["arrival"][i], "class": CLASS_CODES[cols["class"][i]],
             "cpus": cols["cpus"][i], "work": cols["work"][i], "memFraction": cols["memFraction"][i]}
            for i in range(len(cols["id"]))]
    out = {k: v for k, v in c.items() if k != "columns"}
    out["jobs"] = jobs
    return out


def compact_run(run, trace):
    names = [n["name"] for n in run["nodes"]]
    index = {n: i for i, n in enumerate(names)}
    by_id = {j["id"]: j for j in run["jobs"]}
    start, finish, node, capped = [], [], [], {}
    for i, tj in enumerate(trace["jobs"]):
        j = by_id.get(tj["id"])
        start.append(_r(j["start"]) if j else None)
        finish.append(_r(j["finish"]) if j else None)
        node.append(index[j["node"]] if j else None)
        if j and j["cappedSeconds"] > 0:
            capped[str(i)] = [_r(j["cappedSeconds"]), _r(j.get("cappedSince"))]
    st = run["status"]
    return {
        "baseline": run["baseline"], "title": run["title"], "policy": run["policy"],
        "flags": run["flags"], "signals": run["signals"], "realSeconds": run["realSeconds"],
        "end": run["end"], "constrained": run["constrained"],
        "capsPerformance": run["capsPerformance"], "nodes": run["nodes"],
        "status": {"itEnergyJoules": st["itEnergyJoules"],
                   "facilityEnergyJoules": st["facilityEnergyJoules"],
                   "capacityWatts": st["capacityWatts"], "perfCappedSeconds": st["perfCappedSeconds"],
                   "stalledRealSeconds": st.get("stalledRealSeconds", 0.0),
                   "nodes": {n: {"powerWatts": v["powerWatts"], "energyJoules": v["energyJoules"]}
                             for n, v in st["nodes"].items()}},
        "series": [[_r(p[k], 3) for k in SERIES_KEYS] for p in run["series"]],
        "jobs": {"start": start, "finish": finish, "node": node, "capped": capped},
        "labelEvents": [[_r(t), index[n], old, new] for t, n, old, new in run["labelEvents"]],
        "caps": _cap_changes(run["caps"], index),
        "sampled": run["sampled"], "workCheck": run["workCheck"],
    }


def _cap_changes(caps, index):
    """The applied caps that changed a node's cap (the agent re-applies the same cap every interval:
    only the changes matter to the energy)."""
    last, out = {}, []
    for t, n, cap in caps:
        if last.get(n) != cap:
            last[n] = cap
            out.append([_r(t, 3), index[n], cap])
    return out


def expand_run(c, trace):
    names = [n["name"] for n in c["nodes"]]
    jobs = []
    cols = c["jobs"]
    for i, tj in enumerate(trace["jobs"]):
        if cols["start"][i] is None:
            continue
        capped = cols["capped"].get(str(i), [0.0, None])
        jobs.append(dict(tj, start=cols["start"][i], finish=cols["finish"][i],
                         node=names[cols["node"][i]], cappedSeconds=capped[0], cappedSince=capped[1]))
    out = dict(c)
    out["jobs"] = jobs
    out["series"] = [dict(zip(SERIES_KEYS, p)) for p in c["series"]]
    out["labelEvents"] = [(t, names[n], old, new) for t, n, old, new in c["labelEvents"]]
    out["caps"] = [(t, names[n], cap) for t, n, cap in c["caps"]]
    return out


def write(path, raw):
    """Gzip JSON with a fixed header (no file name, mtime 0): the same results give the same bytes."""
    data = json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()
    with open(path, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as g:
            g.write(data)


def read(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        return json.load(f)
