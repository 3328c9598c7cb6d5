"""Resource types: the built-in ones the server serves and those derived from CRDs.

A :class:`ResourceType` knows its group/version/kind/plural, scope, short names, whether it has a
status subresource, its selectable fields (for field selectors), printer columns and, for custom
resources, the OpenAPI schema of the served version. :class:`Registry` maps URL coordinates to
types and keeps discovery in step with the installed CRDs.
"""

import threading

from kapi import fields, jsonpath

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

_POD_FIELDS = ["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
               "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"]
_EVENT_FIELDS = ["involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                 "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                 "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"]


class ResourceType:
    """One served resource (group, version, plural) with everything the handlers need."""

    def __init__(self, group, version, kind, plural, singular, namespaced, short_names=(),
                 categories=(), status_sub=False, extra_fields=(), printer_columns=None, schema=None,
                 crd_name=None, list_kind=None, storage_version=None):
        self.group = group
        self.version = version
        self.kind = kind
        self.list_kind = list_kind or kind + "List"
        self.plural = plural
        self.singular = singular
        self.namespaced = namespaced
        self.short_names = list(short_names)
        self.categories = list(categories)
        self.status_sub = status_sub
        self.printer_columns = printer_columns
        self.schema = schema
        self.crd_name = crd_name
        self.storage_version = storage_version or version
        self.api_version = "%s/%s" % (group, version) if group else version
        self.storage_key = "%s/%s" % (group, plural)
        # Built-in kinds decoded strictly (kapi/fields.py); None = stored as sent / CRD schema.
        self.fields = None if crd_name else fields.TABLES.get(self.storage_key)
        names = ["metadata.name"] + (["metadata.namespace"] if namespaced else []) + list(extra_fields)
        self.field_names = set(names)
        self.selectable = list(extra_fields)
        self.field_paths = []
        for n in names:
            steps = jsonpath.compile_path("." + n)
            keys = tuple(arg for kind, arg in steps) if all(k == "key" for k, _ in steps) else None
            self.field_paths.append((n, steps, keys))

    def field_values(self, obj):
        """Selectable field name -> string value ('' when absent), as field selectors see them."""
        out = {}
        for name, steps, keys in self.field_paths:
            if keys is None:
                out[name] = jsonpath.field_value(steps, obj)
                continue
            v = obj
            for k in keys:
                v = v.get(k) if isinstance(v, dict) else None
            if v is None:
                out[name] = ""
            elif isinstance(v, str):
                out[name] = v
            else:
                out[name] = jsonpath.field_value((), v)
        return out

    def is_custom(self):
        return self.crd_name is not None


def builtin_types():
    """The built-in resources (core/v1, apps/v1, rbac.authorization.k8s.io/v1,
    coordination.k8s.io/v1, apiextensions.k8s.io/v1)."""
    return [
        ResourceType("", "v1", "Node", "nodes", "node", False, ["no"], status_sub=True,
                     extra_fields=["spec.unschedulable"]),
        ResourceType("", "v1", "Pod", "pods", "pod", True, ["po"], ["all"], status_sub=True,
                     extra_fields=_POD_FIELDS),
        ResourceType("", "v1", "Namespace", "namespaces", "namespace", False, ["ns"], status_sub=True,
                     extra_fields=["status.phase"]),
        ResourceType("", "v1", "Event", "events", "event", True, ["ev"], extra_fields=_EVENT_FIELDS),
        ResourceType("", "v1", "ConfigMap", "configmaps", "configmap", True, ["cm"]),
        ResourceType("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", True, ["sa"]),
        ResourceType("", "v1", "Service", "services", "service", True, ["svc"], ["all"],
                     status_sub=True),
        ResourceType("apps", "v1", "Deployment", "deployments", "deployment", True, ["deploy"],
                     ["all"], status_sub=True),
        ResourceType("apps", "v1", "DaemonSet", "daemonsets", "daemonset", True, ["ds"], ["all"],
                     status_sub=True),
        ResourceType("apps", "v1", "StatefulSet", "statefulsets", "statefulset", True, ["sts"],
                     ["all"], status_sub=True),
        ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole",
                     False),
        ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings",
                     "clusterrolebinding", False),
        ResourceType("rbac.authorization.k8s.io", "v1", "Role", "roles", "role", True),
        ResourceType("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "rolebinding",
                     True),
        ResourceType("coordination.k8s.io", "v1", "Lease", "leases", "lease", True),
        ResourceType("apiextensions.k8s.io", "v1", "CustomResourceDefinition",
                     "customresourcedefinitions", "customresourcedefinition", False, ["crd", "crds"],
                     ["api-extensions"], status_sub=True),
    ]


def types_from_crd(crd):
    """ResourceTypes for every served version of a CRD object (dict)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    versions = spec.get("versions") or []
    storage = next((v.get("name") for v in versions if v.get("storage")), None)
    out = []
    for v in versions:
        if not v.get("served", True):
            continue
        selectable = [sf.get("jsonPath", "").lstrip(".") for sf in v.get("selectableFields") or []
                      if sf.get("jsonPath")]
        out.append(ResourceType(
            group, v.get("name"), names.get("kind"), names.get("plural"),
            names.get("singular") or names.get("kind", "").lower(),
            spec.get("scope") == "Namespaced", names.get("shortNames") or [],
            names.get("categories") or [], status_sub="status" in (v.get("subresources") or {}),
            extra_fields=selectable, printer_columns=v.get("additionalPrinterColumns") or [],
            schema=(v.get("schema") or {}).get("openAPIV3Schema"),
            crd_name=(crd.get("metadata") or {}).get("name"), list_kind=names.get("listKind"),
            storage_version=storage))
    return out


class Registry:
    """URL coordinates → ResourceType, for built-ins and installed CRDs (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._types = {}          # (group, version, plural) -> ResourceType
        self._by_crd = {}         # crd name -> [ResourceType]
        for rt in builtin_types():
            self._types[(rt.group, rt.version, rt.plural)] = rt
        self.generation = 0       # bumped whenever discovery changes

    def lookup(self, group, version, plural):
        with self._lock:
            return self._types.get((group, version, plural))

    def by_storage_key(self, key):
        with self._lock:
            for rt in self._types.values():
                if rt.storage_key == key:
                    return rt
        return None

    def all(self):
        with self._lock:
            return list(self._types.values())

    def install_crd(self, crd):
        """(Re)install the types of a CRD; returns them."""
        types = types_from_crd(crd)
        name = (crd.get("metadata") or {}).get("name")
        with self._lock:
            for rt in self._by_crd.pop(name, []):
                self._types.pop((rt.group, rt.version, rt.plural), None)
            for rt in types:
                self._types[(rt.group, rt.version, rt.plural)] = rt
            self._by_crd[name] = types
            self.generation += 1
        return types

    def remove_crd(self, name):
        with self._lock:
            types = self._by_crd.pop(name, [])
            for rt in types:
                self._types.pop((rt.group, rt.version, rt.plural), None)
            self.generation += 1
        return types

    def groups(self):
        """[(group, [versions...], preferred)] for /apis, CRD groups included, core excluded."""
        with self._lock:
            groups = {}
            for rt in self._types.values():
                if rt.group:
                    groups.setdefault(rt.group, [])
                    if rt.version not in groups[rt.group]:
                        groups[rt.group].append(rt.version)
        return sorted(groups.items())

    def resources_of(self, group, version):
        with self._lock:
            return sorted((rt for rt in self._types.values()
                           if rt.group == group and rt.version == version), key=lambda r: r.plural)
