"""``meta.k8s.io/v1 Table`` rendering for ``kubectl get`` (Accept: ...;as=Table;g=meta.k8s.io;v=v1).

Custom resources use their additionalPrinterColumns (dates rendered as ages, like the server's CRD
table convertor); built-ins use the columns kubectl users expect.
"""

import calendar
import time

from kapi import jsonpath


def human_duration(seconds):
    """Kubernetes' duration.HumanDuration: 5s, 3m10s, 2h, 3d4h, 5y..."""
    s = int(seconds)
    if s < 0:
        s = 0
    if s < 60 * 2:
        return "%ds" % s
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return "%dm%ds" % (minutes, rest) if rest else "%dm" % minutes
    if minutes < 60 * 3:
        return "%dm" % minutes
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return "%dh%dm" % (hours, rest) if rest else "%dh" % hours
    if hours < 48:
        return "%dh" % hours
    if hours < 24 * 8:
        rest = hours % 24
        return "%dd%dh" % (hours // 24, rest) if rest else "%dd" % (hours // 24)
    if hours < 24 * 365 * 2:
        return "%dd" % (hours // 24)
    if hours < 24 * 365 * 8:
        days = hours // 24
        rest = days % 365
        return "%dy%dd" % (days // 365, rest) if rest else "%dy" % (days // 365)
    return "%dy" % (hours // 24 // 365)


def age(ts):
    if not ts:
        return "<unknown>"
    try:
        t = calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return "<invalid>"
    return human_duration(time.time() - t)


def _col(name, typ="string", fmt="", desc="", priority=0):
    return {"name": name, "type": typ, "format": fmt, "description": desc or name,
            "priority": priority}


_NAME = _col("Name", fmt="name", desc="Name must be unique within a namespace.")
_AGE = _col("Age", desc="CreationTimestamp is a timestamp representing the server time when this "
            "object was created.")


def _node_row(o):
    st = o.get("status") or {}
    ready = "Unknown"
    for c in st.get("conditions") or []:
        if c.get("type") == "Ready":
            ready = "Ready" if c.get("status") == "True" else "NotReady"
    if (o.get("spec") or {}).get("unschedulable"):
        ready += ",SchedulingDisabled"
    labels = (o.get("metadata") or {}).get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    info = st.get("nodeInfo") or {}
    addrs = {a.get("type"): a.get("address") for a in st.get("addresses") or []}
    return [ready, ",".join(roles) or "<none>", age(o["metadata"].get("creationTimestamp")),
            info.get("kubeletVersion", ""), addrs.get("InternalIP", "<none>"),
            addrs.get("ExternalIP", "<none>"), info.get("osImage", "<unknown>"),
            info.get("kernelVersion", "<unknown>"), info.get("containerRuntimeVersion", "<unknown>")]


def _pod_row(o):
    spec, st = o.get("spec") or {}, o.get("status") or {}
    statuses = st.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    phase = st.get("reason") or st.get("phase") or "Unknown"
    if (o.get("metadata") or {}).get("deletionTimestamp"):
        phase = "Terminating"
    return ["%d/%d" % (ready, len(spec.get("containers") or [])), phase, restarts,
            age(o["metadata"].get("creationTimestamp")), st.get("podIP") or "<none>",
            spec.get("nodeName") or "<none>", st.get("nominatedNodeName") or "<none>", "<none>"]


def _event_row(o):
    inv = o.get("involvedObject") or {}
    last = o.get("lastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")
    return [age(last), o.get("type", ""), o.get("reason", ""),
            "%s/%s" % ((inv.get("kind") or "").lower(), inv.get("name", "")), o.get("message", "")]


def _lease_row(o):
    return [(o.get("spec") or {}).get("holderIdentity", ""),
            age(o["metadata"].get("creationTimestamp"))]


def _default_row(o):
    return [age(o["metadata"].get("creationTimestamp"))]


_BUILTIN = {
    "/nodes": ([_col("Status"), _col("Roles"), _AGE, _col("Version"),
                _col("Internal-IP", priority=1), _col("External-IP", priority=1),
                _col("OS-Image", priority=1), _col("Kernel-Version", priority=1),
                _col("Container-Runtime", priority=1)], _node_row),
    "/pods": ([_col("Ready"), _col("Status"), _col("Restarts", "string"), _AGE,
               _col("IP", priority=1), _col("Node", priority=1), _col("Nominated Node", priority=1),
               _col("Readiness Gates", priority=1)], _pod_row),
    "/namespaces": ([_col("Status"), _AGE],
                    lambda o: [(o.get("status") or {}).get("phase", ""),
                               age(o["metadata"].get("creationTimestamp"))]),
    "/events": ([_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Message")],
                _event_row),
    "coordination.k8s.io/leases": ([_col("Holder"), _AGE], _lease_row),
    "apiextensions.k8s.io/customresourcedefinitions": (
        [_col("Created At", "date")], lambda o: [o["metadata"].get("creationTimestamp", "")]),
}


def _cell(value, typ):
    if value is None:
        return None
    if typ == "date":
        return age(value) if isinstance(value, str) else value
    if typ == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if typ == "string" and not isinstance(value, str):
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value) if not isinstance(value, (dict, list)) else value
    return value


def columns_and_rower(rt):
    """(column definitions, function(obj) -> cells) for a resource type."""
    if rt.is_custom():
        pcs = rt.printer_columns or []
        if not pcs:
            return [_NAME, _AGE], lambda o: [o["metadata"]["name"], age(o["metadata"].get(
                "creationTimestamp"))]
        cols = [_NAME] + [_col(pc.get("name", ""), pc.get("type", "string"), pc.get("format", ""),
                               pc.get("description", ""), pc.get("priority", 0)) for pc in pcs]
        compiled = []
        for pc in pcs:
            try:
                compiled.append((jsonpath.compile_path(pc.get("jsonPath", "")), pc.get("type")))
            except ValueError:
                compiled.append(([], pc.get("type")))

        def rower(o):
            cells = [o["metadata"]["name"]]
            for steps, typ in compiled:
                vals = jsonpath.evaluate(steps, o) if steps else []
                cells.append(_cell(vals[0], typ) if vals else None)
            return cells
        return cols, rower
    cols, fn = _BUILTIN.get(rt.storage_key, ([_col("Created At", "date")],
                                             lambda o: [o["metadata"].get("creationTimestamp")]))
    return [_NAME] + cols, lambda o: [o["metadata"]["name"]] + fn(o)


def row_object(obj, include):
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata", {})}


def table(rt, objs, include="Metadata", list_meta=None, with_columns=True):
    cols, rower = columns_and_rower(rt)
    rows = []
    for o in objs:
        row = {"cells": rower(o)}
        ro = row_object(o, include)
        if ro is not None:
            row["object"] = ro
        rows.append(row)
    out = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta or {},
           "columnDefinitions": cols if with_columns else None, "rows": rows}
    return out
