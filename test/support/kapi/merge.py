"""Patch formats: JSON merge patch (RFC 7386), an approximation of Kubernetes strategic merge
patch, and JSON patch (RFC 6902). All functions return a new document and never mutate inputs
they do not own (callers pass a freshly decoded copy)."""

import copy

from kapi.errors import bad_request, ApiError

# Strategic merge patch: lists of objects merged by these keys (Kubernetes patchMergeKey tags of
# the built-in types that matter here). Lists not named here are replaced, like a merge patch.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "ports": "containerPort", "volumes": "name", "volumeMounts": "mountPath",
    "conditions": "type", "addresses": "type", "taints": "key", "ownerReferences": "uid",
    "imagePullSecrets": "name", "hostAliases": "ip", "images": None, "readinessGates": None,
    "containerStatuses": None, "resourceClaims": "name",
}
# Lists of scalars merged as sets (patchStrategy: merge) in the built-in types.
PRIMITIVE_MERGE = {"finalizers"}


def merge_patch(target, patch):
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def strategic_merge_patch(target, patch):
    """Merge patch plus the parts of strategic merge that kubectl label/annotate/apply send for
    built-in objects: ``$patch`` directives, ``$setElementOrder``/``$retainKeys``/
    ``$deleteFromPrimitiveList`` keys, and keyed merging of well-known lists."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    out = dict(target)
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k.startswith("$setElementOrder/") or k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            if isinstance(out.get(field), list) and isinstance(v, list):
                out[field] = [x for x in out[field] if x not in v]
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list) and isinstance(out.get(k), list) and k in MERGE_KEYS \
                and MERGE_KEYS[k]:
            out[k] = _merge_keyed_list(out[k], v, MERGE_KEYS[k])
        elif isinstance(v, list) and isinstance(out.get(k), list) and k in PRIMITIVE_MERGE:
            out[k] = list(out[k]) + [x for x in v if x not in out[k]]
        else:
            out[k] = strategic_merge_patch(out.get(k), v)
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _merge_keyed_list(current, patch, key):
    out = list(current)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            return copy.deepcopy(patch)
        idx = next((i for i, c in enumerate(out) if isinstance(c, dict) and c.get(key) == item[key]),
                   None)
        if item.get("$patch") == "delete":
            if idx is not None:
                del out[idx]
            continue
        if idx is None:
            out.append({k: v for k, v in item.items() if k != "$patch"})
        else:
            out[idx] = strategic_merge_patch(out[idx], item)
    return out


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request('JSON patch path "%s" must start with /' % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _resolve(doc, parts):
    cur = doc
    for p in parts:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            raise ApiError(422, "Invalid", "the server rejected our request due to an error in our "
                                           "request: doc is missing path: /" + "/".join(parts))
    return cur


def json_patch(doc, ops):
    """RFC 6902: add, remove, replace, move, copy, test."""
    if not isinstance(ops, list):
        raise bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request("invalid JSON patch operation: %r" % (op,))
        kind, parts = op["op"], _pointer(op["path"])
        if kind == "test":
            if _resolve(doc, parts) != op.get("value"):
                raise ApiError(422, "Invalid", "testing value %s failed" % op["path"])
            continue
        if kind in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            value = copy.deepcopy(_resolve(doc, src))
            if kind == "move":
                doc = _apply(doc, src, "remove", None)
            doc = _apply(doc, parts, "add", value)
            continue
        if kind not in ("add", "remove", "replace"):
            raise bad_request("unknown JSON patch operation %r" % kind)
        doc = _apply(doc, parts, kind, copy.deepcopy(op.get("value")))
    return doc


def _apply(doc, parts, kind, value):
    if not parts:
        if kind == "remove":
            return None
        return value
    parent = _resolve(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        if kind != "add" and last not in parent:
            _resolve(doc, parts)
        if kind == "remove":
            del parent[last]
        else:
            parent[last] = value
    elif isinstance(parent, list):
        if last == "-" and kind == "add":
            parent.append(value)
            return doc
        if not last.isdigit() or int(last) > len(parent) or (kind != "add" and int(last) >= len(parent)):
            raise ApiError(422, "Invalid", "JSON patch index out of range: " + "/".join(parts))
        i = int(last)
        if kind == "add":
            parent.insert(i, value)
        elif kind == "remove":
            del parent[i]
        else:
            parent[i] = value
    else:
        raise ApiError(422, "Invalid", "JSON patch path not found: /" + "/".join(parts))
    return doc
