"""Object semantics, independent of HTTP: create/update/patch/delete with the rules of a real API
server (metadata management, generation, finalizers, the status subresource, CRD schema
validation and pruning, namespace existence, CRD installation)."""

import json
import random
import string
import time
import uuid

from kapi import errors, events, fields, merge, schema
from kapi.names import LABEL, LABEL_MSG, SUBDOMAIN, SUBDOMAIN_MSG
from kapi.errors import ApiError
from kapi.resources import Registry
from kapi.selection import FieldSelector, LabelSelector, _KEY_RE, _VALUE_RE
from kapi.store import ADDED, DELETED, MODIFIED, Store, dumps, make_stored
from kapi.versions import ServerVersion

CRD_KEY = "apiextensions.k8s.io/customresourcedefinitions"
NS_KEY = "/namespaces"
EVENTS_KEY = "/events"
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _strip_for_generation(obj, status_sub):
    return {k: v for k, v in obj.items()
            if k not in ("metadata", "apiVersion", "kind") and not (status_sub and k == "status")}


def _pod_qos(pod):
    containers = (pod.get("spec") or {}).get("containers") or []
    any_set, guaranteed = False, bool(containers)
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or req.get(r, lim.get(r)) != lim.get(r):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


class Api:
    """The server's state and the operations on it."""

    def __init__(self, history_size=1000, refuse_selectable_fields=False, version=None):
        self.store = Store(history_size)
        self.registry = Registry()
        self.refuse_selectable_fields = refuse_selectable_fields
        self.version = version or ServerVersion()
        ns_rt = self.registry.lookup("", "v1", "namespaces")
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.create(ns_rt, None, {"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": ns}})

    # ----------------------------------------------------------------- reads
    def get(self, rt, ns, name):
        st = self.store.get(rt.storage_key, ns, name)
        if st is None:
            raise errors.not_found(rt, name)
        return st

    def selectors(self, rt, label_text, field_text):
        lsel = LabelSelector(label_text)
        fsel = FieldSelector(field_text)
        for f in fsel.fields():
            if f not in rt.field_names or (self.refuse_selectable_fields and rt.is_custom()
                                           and f in rt.selectable):
                raise errors.bad_request('Unable to find "%s, Resource=%s" that match label selector '
                                         '"%s", field selector "%s": field label not supported: %s'
                                         % (rt.api_version, rt.plural, label_text or "",
                                            field_text, f))
        return lsel, fsel

    # ---------------------------------------------------------------- writes
    def create(self, rt, ns, body, dry_run=False, field_validation="Warn", warnings=None):
        obj = self._check_body(rt, ns, body, None)
        meta = obj["metadata"]
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + "".join(
                    random.choice(string.ascii_lowercase + string.digits) for _ in range(5))
            else:
                raise errors.invalid(rt, "", [("metadata.name", "FieldValueRequired",
                                               "Required value: name or generateName is required")])
        name = meta["name"]
        for k in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "selfLink", "managedFields"):
            meta.pop(k, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta["generation"] = 1
        self._prepare_create(rt, obj)
        self._admit(rt, obj, name, field_validation, warnings)
        with self.store.lock:
            if rt.namespaced and self.store.get(NS_KEY, "", ns) is None:
                raise ApiError(404, "NotFound", 'namespaces "%s" not found' % ns,
                               {"name": ns, "kind": "namespaces"})
            if self.store.get(rt.storage_key, ns, name) is not None:
                raise errors.already_exists(rt, name)
            if rt.storage_key == CRD_KEY:
                self._check_crd_conflicts(obj)
            if dry_run:
                return obj
            meta["resourceVersion"] = str(self.store.next_rv())
            self.store.commit(rt.storage_key, ADDED, make_stored(rt, obj))
            if rt.storage_key == CRD_KEY:
                self.registry.install_crd(obj)
        return obj

    def update(self, rt, ns, name, body, subresource=None, dry_run=False, field_validation="Warn",
               warnings=None):
        obj = self._check_body(rt, ns, body, name)
        with self.store.lock:
            cur = self.get(rt, ns, name)
            want_rv = obj["metadata"].get("resourceVersion")
            if want_rv:
                if want_rv != str(cur.rv):
                    raise errors.conflict(rt, name)
            elif rt.is_custom() or rt.storage_key == CRD_KEY:
                raise errors.invalid(rt, name, [("metadata.resourceVersion", "FieldValueInvalid",
                                                 "Invalid value: 0x0: must be specified for an update")])
            return self._write_update(rt, cur, obj, subresource, dry_run, field_validation, warnings)

    def patch(self, rt, ns, name, patch_body, content_type, subresource=None, dry_run=False,
              field_validation="Warn", warnings=None):
        with self.store.lock:
            cur = self.get(rt, ns, name)
            old = cur.obj()
            if content_type == "application/merge-patch+json":
                if not isinstance(patch_body, dict):
                    raise errors.bad_request("merge patch must be a JSON object")
                new = merge.merge_patch(old, patch_body)
            elif content_type == "application/strategic-merge-patch+json":
                if rt.is_custom():
                    raise errors.unsupported_media_type(content_type, [
                        "application/json-patch+json", "application/merge-patch+json",
                        "application/apply-patch+yaml"])
                if not isinstance(patch_body, dict):
                    raise errors.bad_request("strategic merge patch must be a JSON object")
                new = merge.strategic_merge_patch(old, patch_body)
            elif content_type == "application/json-patch+json":
                new = merge.json_patch(old, patch_body)
            else:
                raise errors.unsupported_media_type(content_type, [
                    "application/json-patch+json", "application/merge-patch+json",
                    "application/strategic-merge-patch+json"])
            if not isinstance(new, dict):
                raise errors.bad_request("the patch did not produce an object")
            new_meta = new.get("metadata")
            if not isinstance(new_meta, dict):
                new_meta = new["metadata"] = {}
            want_rv = new_meta.get("resourceVersion")
            if want_rv and want_rv != str(cur.rv):
                raise errors.conflict(rt, name)
            new_meta["name"], new_meta["namespace"] = name, ns
            obj = self._check_body(rt, ns, new, name)
            return self._write_update(rt, cur, obj, subresource, dry_run, field_validation, warnings)

    def delete(self, rt, ns, name, options=None, dry_run=False):
        options = options or {}
        pre = options.get("preconditions") or {}
        with self.store.lock:
            cur = self.get(rt, ns, name)
            obj = cur.obj()
            meta = obj["metadata"]
            if pre.get("uid") and pre["uid"] != meta.get("uid"):
                raise errors.conflict(rt, name, "Precondition failed: UID in precondition: %s, UID in "
                                                "object meta: %s" % (pre["uid"], meta.get("uid")))
            if pre.get("resourceVersion") and pre["resourceVersion"] != str(cur.rv):
                raise errors.conflict(rt, name, "Precondition failed: ResourceVersion in precondition: "
                                                "%s, ResourceVersion in object meta: %s"
                                      % (pre["resourceVersion"], cur.rv))
            if dry_run:
                return obj
            if meta.get("finalizers"):
                if meta.get("deletionTimestamp"):
                    return obj
                meta["deletionTimestamp"] = now_rfc3339()
                meta["deletionGracePeriodSeconds"] = 0
                meta["resourceVersion"] = str(self.store.next_rv())
                self.store.commit(rt.storage_key, MODIFIED, make_stored(rt, obj), cur)
                return obj
            return self._remove(rt, cur, obj)

    def delete_collection(self, rt, ns, lsel, fsel, options=None, dry_run=False):
        with self.store.lock:
            items, _, _, _ = self.store.list(rt.storage_key, ns, lsel, fsel)
            return [self.delete(rt, st.key[0], st.key[1], options, dry_run) for st in items]

    # -------------------------------------------------------------- helpers
    def _remove(self, rt, cur, obj):
        """Delete now (caller holds the lock): dependants first for namespaces and CRDs."""
        name = obj["metadata"]["name"]
        if rt.storage_key == NS_KEY:
            for ckey in list(self.store.collections):
                other = self.registry.by_storage_key(ckey)
                if other is not None and other.namespaced:
                    for st in self.store.snapshot(ckey, name):
                        self._remove(other, st, st.obj())
        if rt.storage_key == CRD_KEY:
            spec = obj.get("spec") or {}
            ckey = "%s/%s" % (spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
            other = self.registry.by_storage_key(ckey)
            if other is not None:
                for st in self.store.snapshot(ckey, None):
                    self._remove(other, st, st.obj())
            self.registry.remove_crd(name)
        obj["metadata"]["resourceVersion"] = str(self.store.next_rv())
        self.store.commit(rt.storage_key, DELETED, make_stored(rt, obj), cur)
        return obj

    def _check_body(self, rt, ns, body, name):
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be a JSON object")
        obj = body
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if api_version and api_version != rt.api_version and not (
                rt.is_custom() and api_version.split("/")[0] == rt.group):
            raise errors.bad_request("the API version in the data (%s) does not match the expected "
                                     "API version (%s)" % (api_version, rt.api_version))
        if kind and kind != rt.kind:
            raise errors.bad_request('the kind in the data (%s) does not match the expected kind (%s)'
                                     % (kind, rt.kind))
        meta = obj.get("metadata")
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
        obj.clear()
        obj["apiVersion"] = "%s/%s" % (rt.group, rt.storage_version) if rt.group else rt.version
        obj["kind"] = rt.kind
        obj["metadata"] = meta
        obj.update(rest)
        if name is not None and meta.get("name") and meta["name"] != name:
            raise errors.bad_request("the name of the object (%s) does not match the name on the URL "
                                     "(%s)" % (meta["name"], name))
        if name is not None:
            meta["name"] = name
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise errors.bad_request("the namespace of the provided object does not match the "
                                         "namespace sent on the request")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        self._validate_meta(rt, meta)
        return obj

    def _validate_meta(self, rt, meta):
        causes = []
        name = meta.get("name")
        if rt.storage_key == EVENTS_KEY:
            causes = events.path_segment_causes(meta)
        elif name:
            if rt.storage_key == NS_KEY:
                if len(name) > 63 or not LABEL.match(name):
                    causes.append(("metadata.name", "FieldValueInvalid",
                                   'Invalid value: "%s": %s' % (name, LABEL_MSG)))
            elif len(name) > 253 or not SUBDOMAIN.match(name):
                causes.append(("metadata.name", "FieldValueInvalid",
                               'Invalid value: "%s": %s' % (name, SUBDOMAIN_MSG)))
        for field in ("labels", "annotations"):
            m = meta.get(field)
            if m is None:
                continue
            if not isinstance(m, dict):
                raise errors.bad_request("metadata.%s must be a map of strings" % field)
            for k, v in m.items():
                if not isinstance(v, str):
                    raise errors.bad_request("metadata.%s: %s must be a string" % (field, k))
                if not _KEY_RE.match(k):
                    causes.append(("metadata.%s" % field, "FieldValueInvalid",
                                   'Invalid value: "%s": name part must consist of alphanumeric '
                                   "characters, '-', '_' or '.'" % k))
                elif field == "labels" and (len(v) > 63 or not _VALUE_RE.match(v)):
                    causes.append(("metadata.labels", "FieldValueInvalid",
                                   'Invalid value: "%s": a valid label must be an empty string or '
                                   "consist of alphanumeric characters, '-', '_' or '.', and must "
                                   "start and end with an alphanumeric character" % v))
        fin = meta.get("finalizers")
        if fin is not None and (not isinstance(fin, list) or not all(isinstance(f, str) for f in fin)):
            raise errors.bad_request("metadata.finalizers must be a list of strings")
        if causes:
            raise errors.invalid(rt, name or "", causes)

    def _prepare_create(self, rt, obj):
        key = rt.storage_key
        if rt.is_custom() and rt.status_sub:
            obj.pop("status", None)
        elif key == "/pods":
            obj["status"] = {"phase": "Pending", "qosClass": _pod_qos(obj)}
        elif key == NS_KEY:
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = \
                obj["metadata"]["name"]
        elif key == CRD_KEY:
            self._prepare_crd(obj)
        elif key == "/services":
            spec = obj.get("spec")
            if isinstance(spec, dict):
                spec.setdefault("type", "ClusterIP")
                if spec["type"] != "ExternalName" and not spec.get("clusterIP"):
                    n = int(obj["metadata"]["uid"].replace("-", "")[:4], 16)
                    spec["clusterIP"] = "10.96.%d.%d" % (n >> 8, max(n & 255, 1))

    def _decode_strictly(self, rt, obj, field_validation, warnings):
        """Built-in kinds with a field table: drop the fields the played version does not know;
        under fieldValidation=Strict refuse them, as the real server's decoder does."""
        pruned, unknown = fields.check(obj, rt.fields, self.version.minor)
        if unknown:
            if field_validation == "Strict":
                raise errors.bad_request(
                    '%s in version "%s" cannot be handled as a %s: strict decoding error: %s'
                    % (rt.kind, rt.version, rt.kind,
                       ", ".join('unknown field "%s"' % u for u in unknown)))
            if field_validation == "Warn" and warnings is not None:
                warnings.extend('unknown field "%s"' % u for u in unknown)
        obj.clear()
        obj.update(pruned)

    def _admit(self, rt, obj, name, field_validation, warnings):
        """Built-in kinds: strict decoding by version. Custom resources: defaults, pruning
        (strict field validation) and schema validation."""
        if rt.fields is not None:
            self._decode_strictly(rt, obj, field_validation, warnings)
        if rt.storage_key == EVENTS_KEY:
            causes = events.event_causes(obj)
            if causes:
                raise errors.invalid(rt, name, causes)
        if rt.storage_key == CRD_KEY:
            if not self.version.enabled("CustomResourceFieldSelectors"):
                # 1.30 with the gate off knows the field but drops it (dropDisabledFields).
                for v in (obj.get("spec") or {}).get("versions") or []:
                    if isinstance(v, dict):
                        v.pop("selectableFields", None)
            self._validate_crd(rt, obj)
            return
        if not rt.is_custom() or not rt.schema:
            return
        schema.apply_defaults(obj, rt.schema)
        dropped = []
        pruned = schema.prune(obj, rt.schema, "", dropped, root=True)
        if dropped:
            if field_validation == "Strict":
                raise errors.bad_request('%s in version "%s" cannot be handled as a %s: strict decoding '
                                         "error: %s" % (rt.kind, rt.version, rt.kind, ", ".join(
                                             'unknown field "%s"' % d for d in dropped)))
            if field_validation == "Warn" and warnings is not None:
                warnings.extend('unknown field "%s"' % d for d in dropped)
        obj.clear()
        obj.update(pruned)
        errs = []
        schema.validate(obj, rt.schema, "", errs, root=True)
        if errs:
            raise errors.invalid(rt, name, errs)

    def _write_update(self, rt, cur, obj, subresource, dry_run, field_validation, warnings):
        """Merge ``obj`` onto the current version ``cur`` with update semantics and commit it."""
        old = cur.obj()
        old_meta = old["metadata"]
        if subresource == "status":
            new = dict(old)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
        else:
            new = obj
            if rt.status_sub:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
            meta = new["metadata"]
            for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "generation"):
                if k in old_meta:
                    meta[k] = old_meta[k]
                else:
                    meta.pop(k, None)
            if rt.storage_key == NS_KEY:
                new["spec"] = old.get("spec", {})
        new["metadata"]["resourceVersion"] = str(cur.rv)
        self._admit(rt, new, old_meta["name"], field_validation, warnings)
        if subresource is None and _strip_for_generation(new, rt.status_sub) != \
                _strip_for_generation(old, rt.status_sub):
            new["metadata"]["generation"] = int(old_meta.get("generation") or 1) + 1
        if rt.storage_key == CRD_KEY and subresource is None:
            self._prepare_crd(new, old.get("status"))
        if new == old:
            return old
        if dry_run:
            return new
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            return self._remove(rt, cur, new)
        new["metadata"]["resourceVersion"] = str(self.store.next_rv())
        self.store.commit(rt.storage_key, MODIFIED, make_stored(rt, new), cur)
        if rt.storage_key == CRD_KEY:
            self.registry.install_crd(new)
        return new

    # ------------------------------------------------------------------ CRDs
    def _prepare_crd(self, crd, old_status=None):
        spec = crd.setdefault("spec", {})
        names = spec.setdefault("names", {})
        if names.get("kind"):
            names.setdefault("singular", names["kind"].lower())
            names.setdefault("listKind", names["kind"] + "List")
        spec.setdefault("conversion", {"strategy": "None"})
        for v in spec.get("versions") or []:
            if isinstance(v, dict):
                v.setdefault("served", True)
                v.setdefault("storage", False)
        storage = [v.get("name") for v in spec.get("versions") or [] if isinstance(v, dict)
                   and v.get("storage")]
        stored = list((old_status or {}).get("storedVersions") or [])
        for s in storage:
            if s not in stored:
                stored.append(s)
        ts = now_rfc3339()
        crd["status"] = {
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                 "message": "no conflicts found", "lastTransitionTime": ts},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted", "lastTransitionTime": ts},
            ],
            "acceptedNames": dict(names),
            "storedVersions": stored,
        }
        if old_status and old_status.get("conditions"):
            crd["status"]["conditions"] = old_status["conditions"]

    def _validate_crd(self, rt, crd):
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        causes = []
        for field, val in (("spec.group", spec.get("group")), ("spec.names.plural", names.get("plural")),
                           ("spec.names.kind", names.get("kind"))):
            if not val:
                causes.append((field, "FieldValueRequired", "Required value"))
        if spec.get("scope") not in ("Cluster", "Namespaced"):
            causes.append(("spec.scope", "FieldValueNotSupported", 'Unsupported value: %s: supported '
                           'values: "Cluster", "Namespaced"' % json.dumps(spec.get("scope"))))
        versions = spec.get("versions") or []
        if not versions:
            causes.append(("spec.versions", "FieldValueInvalid", "Invalid value: must have exactly "
                           "one version marked as storage version"))
        elif sum(1 for v in versions if v.get("storage")) != 1:
            causes.append(("spec.versions", "FieldValueInvalid", "Invalid value: must have exactly one "
                           "version marked as storage version"))
        for i, v in enumerate(versions):
            sch = (v.get("schema") or {}).get("openAPIV3Schema")
            if sch is None:
                causes.append(("spec.versions[%d].schema.openAPIV3Schema" % i, "FieldValueRequired",
                               "Required value: schemas are required"))
            else:
                for p in schema.check_structural(sch):
                    causes.append(("spec.versions[%d].schema.openAPIV3Schema" % i,
                                   "FieldValueInvalid", p))
                causes += _selectable_field_causes(i, v.get("selectableFields"), sch)
                causes += [(f, "FieldValueInvalid", m) for f, m in schema.rule_problems(
                    sch, "spec.versions[%d].schema.openAPIV3Schema" % i)]
        name = (crd.get("metadata") or {}).get("name")
        if spec.get("group") and names.get("plural") and name != names["plural"] + "." + spec["group"]:
            causes.append(("metadata.name", "FieldValueInvalid", 'Invalid value: "%s": must be '
                           'spec.names.plural+"."+spec.group' % name))
        if causes:
            raise errors.invalid(rt, name or "", causes)

    def _check_crd_conflicts(self, crd):
        spec = crd.get("spec") or {}
        for v in spec.get("versions") or []:
            existing = self.registry.lookup(spec.get("group"), v.get("name"),
                                            (spec.get("names") or {}).get("plural"))
            if existing is not None and not existing.is_custom():
                raise errors.invalid(self.registry.lookup("apiextensions.k8s.io", "v1",
                                                          "customresourcedefinitions"),
                                     crd["metadata"]["name"],
                                     [("spec.names.plural", "FieldValueInvalid",
                                       "Invalid value: conflicts with a built-in resource")])

    # ------------------------------------------------------------- seeding
    def seed(self, objects):
        """Bulk-insert objects (benchmarks): no events, no validation beyond the basics, namespaces
        created on demand. Pod status is kept as given. Returns the number inserted."""
        by_rt, types, namespaces = {}, {}, set()
        with self.store.lock:
            for obj in objects:
                api_version = obj.get("apiVersion", "v1")
                tkey = (api_version, obj.get("kind"))
                rt = types.get(tkey)
                if rt is None:
                    group, _, version = api_version.rpartition("/")
                    for cand in self.registry.all():
                        if cand.group == group and cand.version == version and cand.kind == tkey[1]:
                            rt = types[tkey] = cand
                            break
                if rt is None:
                    raise errors.bad_request("seed: unknown kind %s %s" % (api_version, obj.get("kind")))
                if rt.storage_key in (CRD_KEY, NS_KEY):
                    try:
                        self.create(rt, None, obj)
                    except ApiError as e:
                        if e.code != 409:
                            raise
                    continue
                meta = obj.setdefault("metadata", {})
                ns = meta.get("namespace") or ("default" if rt.namespaced else "")
                if rt.namespaced:
                    meta["namespace"] = ns
                    if ns not in namespaces and self.store.get(NS_KEY, "", ns) is None:
                        self.create(self.registry.lookup("", "v1", "namespaces"), None,
                                    {"metadata": {"name": ns}})
                    namespaces.add(ns)
                meta.setdefault("uid", str(uuid.uuid4()))
                meta.setdefault("creationTimestamp", now_rfc3339())
                meta.setdefault("generation", 1)
                meta["resourceVersion"] = str(self.store.next_rv())
                by_rt.setdefault(rt.storage_key, (rt, []))[1].append(make_stored(rt, obj))
            for key, (rt, items) in by_rt.items():
                self.store.bulk_load(key, items)
        return sum(len(items) for _, items in by_rt.values())


def _selectable_field_causes(index, selectable, sch):
    """The real server's checks of ``selectableFields``: at most 8, unique, each a simple path
    to a string, integer or boolean field of the schema."""
    if not selectable:
        return []
    causes, seen = [], set()
    base = "spec.versions[%d].selectableFields" % index
    if len(selectable) > 8:
        causes.append((base, "FieldValueTooMany", "Too many: %d: must have at most 8 items"
                       % len(selectable)))
    for j, sf in enumerate(selectable):
        where = "%s[%d].jsonPath" % (base, j)
        path = sf.get("jsonPath") if isinstance(sf, dict) else None
        if not path:
            causes.append((where, "FieldValueRequired", "Required value"))
            continue
        if path in seen:
            causes.append((where, "FieldValueDuplicate", 'Duplicate value: "%s"' % path))
        seen.add(path)
        node = sch
        for part in path.lstrip(".").split("."):
            node = ((node or {}).get("properties") or {}).get(part) if part else None
            if node is None:
                break
        if node is None:
            causes.append((where, "FieldValueInvalid", 'Invalid value: "%s": is an invalid path: '
                           "does not refer to a field in the schema" % path))
        elif node.get("type") not in ("string", "integer", "boolean"):
            causes.append((where, "FieldValueInvalid", 'Invalid value: "%s": must point to a field '
                           "of type string, boolean or integer" % path))
    return causes


def is_write(verb):
    return verb in WRITE_VERBS


__all__ = ["Api", "is_write", "now_rfc3339", "dumps"]
