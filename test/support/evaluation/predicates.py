"""The scheduler stand-in's filters: the rules kube-scheduler applies before it scores a node, in
its own words (docs/evaluation.md, *Heterogeneous demand*), so that the evaluation places a pod
only where a real cluster could run it.

- NodeAffinity (nodeSelector part): every `nodeSelector` entry equals the node's label, every key
  (the power-profile key included: `performance` never matches `draining-performance`).
- TaintToleration: every `NoSchedule`/`NoExecute` taint of the node is tolerated by one of the
  pod's tolerations (key, effect — empty: every effect — and value with `Equal`, any value with
  `Exists`; an empty key with `Exists` tolerates every taint); `PreferNoSchedule` never blocks.
- NodeResourcesFit: the pod's CPU and memory requests fit the node's allocatable minus what the
  pods bound there request; a zero request always fits.

A pod is {"nodeSelector": {...}, "tolerations": [...], "cpu": cores, "memory": bytes}; a node is
{"labels": {...}, "taints": [...], "cpu": allocatable cores, "memory": allocatable bytes (0:
unknown, then memory is not checked)}; `free` is {"cpu", "memory"} left on it.
"""

BLOCKING = ("NoSchedule", "NoExecute")


def selector_matches(node_selector, labels):
    return all(labels.get(k) == v for k, v in (node_selector or {}).items())


def tolerates(toleration, taint):
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    op = toleration.get("operator") or "Equal"
    key = toleration.get("key") or ""
    if op == "Exists":
        return key == "" or key == taint.get("key")
    if op != "Equal":
        return False  # an operator the API would reject tolerates nothing
    return key == taint.get("key") and (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated(tolerations, taints):
    """The first blocking taint no toleration matches, or None."""
    for taint in taints or []:
        if taint.get("effect") not in BLOCKING:
            continue
        if not any(tolerates(t, taint) for t in tolerations or []):
            return taint
    return None


def insufficient(pod, free, allocatable_memory):
    if pod.get("cpu", 0) > 0 and pod["cpu"] > free["cpu"]:
        return "Insufficient cpu"
    if pod.get("memory", 0) > 0 and allocatable_memory > 0 and pod["memory"] > free["memory"]:
        return "Insufficient memory"
    return None


def why_not(pod, node, free):
    """None when the pod fits the node with `free` left on it, else the failing filter's text."""
    if not selector_matches(pod.get("nodeSelector"), node["labels"]):
        return "node(s) didn't match Pod's node affinity/selector"
    taint = untolerated(pod.get("tolerations"), node.get("taints"))
    if taint is not None:
        return "node(s) had untolerated taint {%s: %s}" % (taint.get("key"), taint.get("value", ""))
    return insufficient(pod, free, node.get("memory", 0))


def fits_anywhere(pod, nodes, ignore_keys=()):
    """Whether the pod fits some node of `nodes` when empty, its selector's `ignore_keys` left out
    (the power-profile key: a node of any profile can be made performance): a pod that fits none
    is unschedulable whatever any policy does."""
    sel = {k: v for k, v in (pod.get("nodeSelector") or {}).items() if k not in ignore_keys}
    probe = dict(pod, nodeSelector=sel)
    return any(why_not(probe, n, {"cpu": n["cpu"], "memory": n.get("memory", 0)}) is None
               for n in nodes)
