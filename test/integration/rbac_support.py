"""The RBAC the manifests grant, as rules the test API server (kapi) enforces.

``service_account_rules("manifests/overlays/daemonset", "joulie-system", "joulie-operator")``
renders the overlay, finds every RoleBinding and ClusterRoleBinding naming that ServiceAccount
(directly, or through the groups ``system:serviceaccounts``, ``system:serviceaccounts:<ns>``,
``system:authenticated``), and returns the rules of the roles they bind in kapi's RBAC form
(test/support/kapi/auth.py): ``{"apiGroups", "resources", "verbs"[, "resourceNames"]}``, plus
``"namespace"`` for rules granted by a RoleBinding (a Role's, or a ClusterRole's bound in one
namespace), which then apply in that namespace only. A binding whose role the manifests do not
define raises :class:`RbacError`, as do aggregated ClusterRoles (not used by Joulie, not modelled).

Rendering: ``kubectl kustomize <dir>`` when kubectl is installed (what ``kubectl apply -k`` would
create). Without kubectl it falls back to reading the files the kustomizations list, recursively
(``resources`` only), applying a kustomization's ``namespace`` to namespaced objects and to
ServiceAccount subjects without a namespace (or in ``default``), as kustomize does. The fallback
does not apply ``patches``/``components``; it refuses a kustomization whose patches touch RBAC
objects rather than guess. Only RBAC documents are parsed (with kapi's small YAML reader).
"""

import copy
import functools
import os
import re
import shutil
import subprocess

from kapi import yamlish

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ROLE_KINDS = ("Role", "ClusterRole")
BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")
RBAC_KINDS = ROLE_KINDS + BINDING_KINDS
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_KIND_LINE = re.compile(r"^kind:\s*['\"]?([A-Za-z]+)['\"]?\s*$", re.M)


class RbacError(Exception):
    """The manifests' RBAC cannot be turned into rules (missing role, unsupported feature)."""


def _kubectl():
    return shutil.which("kubectl") or ("/usr/bin/kubectl" if os.path.exists("/usr/bin/kubectl")
                                       else None)


def _documents(text):
    """The YAML documents of a stream, as text."""
    return [d for d in re.split(r"^---[ \t]*(?:#.*)?$", text, flags=re.M) if d.strip()]


def _rbac_docs(text, where):
    """Parse only the RBAC documents of a YAML stream (CRDs and workloads are skipped unread)."""
    out = []
    for doc in _documents(text):
        m = _KIND_LINE.search(doc)
        if not m or m.group(1) not in RBAC_KINDS:
            continue
        try:
            obj = yamlish.load(doc)
        except Exception as e:     # yamlish raises ValueError subclasses; name the source either way
            raise RbacError("cannot parse an RBAC document of %s: %s" % (where, e)) from e
        if isinstance(obj, dict) and obj.get("kind") in RBAC_KINDS:
            out.append(obj)
    return out


def _abs(directory):
    return directory if os.path.isabs(directory) else os.path.join(REPO, directory)


def render(directory):
    """The RBAC objects (Roles, ClusterRoles, bindings) ``directory`` renders to (see module doc)."""
    directory = _abs(directory)
    kubectl = _kubectl()
    if kubectl is None:
        return _read_kustomization(directory)
    env = dict(os.environ, KUBECONFIG=os.devnull)      # offline: never talk to a cluster
    r = subprocess.run([kubectl, "kustomize", directory], capture_output=True, text=True, env=env,
                       timeout=120)
    if r.returncode != 0:
        raise RbacError("kubectl kustomize %s failed: %s" % (directory, r.stderr.strip()))
    return _rbac_docs(r.stdout, "kubectl kustomize " + directory)


def _kustomization_file(directory):
    for name in KUSTOMIZATION_FILES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    raise RbacError("%s has no kustomization file" % directory)


_CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding"}


def _read_kustomization(directory):
    """Fallback without kubectl: the RBAC objects of the files ``resources`` lists, recursively."""
    path = _kustomization_file(directory)
    with open(path, encoding="utf-8") as f:
        k = yamlish.load(f.read()) or {}
    for p in (k.get("patches") or []) + (k.get("patchesStrategicMerge") or []) + \
            (k.get("patchesJson6902") or []):
        text = p if isinstance(p, str) else (p.get("patch") or "")
        target = {} if isinstance(p, str) else (p.get("target") or {})
        if isinstance(p, dict) and p.get("path"):
            with open(os.path.join(directory, p["path"]), encoding="utf-8") as f:
                text = f.read()
        kinds = set(_KIND_LINE.findall(text)) | {target.get("kind")}
        if kinds & set(RBAC_KINDS):
            raise RbacError("%s patches RBAC objects; install kubectl to render it" % path)
    if k.get("components"):
        raise RbacError("%s uses components; install kubectl to render it" % path)
    objs = []
    for res in k.get("resources") or []:
        full = os.path.normpath(os.path.join(directory, res))
        if os.path.isdir(full):
            objs += _read_kustomization(full)
        else:
            with open(full, encoding="utf-8") as f:
                objs += _rbac_docs(f.read(), full)
    ns = k.get("namespace")
    if ns:
        for o in objs:
            if o["kind"] not in _CLUSTER_SCOPED:
                o.setdefault("metadata", {})["namespace"] = ns
            if o["kind"] in BINDING_KINDS:
                for s in o.get("subjects") or []:
                    if s.get("kind") == "ServiceAccount" and s.get("namespace") in (None, "", "default"):
                        s["namespace"] = ns
    return objs


def _subject_is(subject, namespace, name, binding_ns):
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        # A RoleBinding's ServiceAccount subject without a namespace means the binding's namespace.
        return subject.get("name") == name and (subject.get("namespace") or binding_ns) == namespace
    if kind == "Group":
        return subject.get("name") in ("system:serviceaccounts",
                                       "system:serviceaccounts:" + namespace, "system:authenticated")
    if kind == "User":
        return subject.get("name") == "system:serviceaccount:%s:%s" % (namespace, name)
    return False


def _kapi_rule(rule, namespace):
    out = {"apiGroups": list(rule.get("apiGroups") or []),
           "resources": list(rule.get("resources") or []),
           "verbs": list(rule.get("verbs") or [])}
    if rule.get("resourceNames"):
        out["resourceNames"] = list(rule["resourceNames"])
    if namespace:
        out["namespace"] = namespace
    return out


def grants(objs, namespace, name):
    """``[(source, kapi rule)]`` for ServiceAccount ``namespace``/``name`` in the RBAC objects
    ``objs``; ``source`` is e.g. ``"Role joulie-system/x via RoleBinding joulie-system/y"``."""
    roles = {}
    for o in objs:
        if o["kind"] in ROLE_KINDS:
            meta = o.get("metadata") or {}
            key = (o["kind"], meta.get("namespace", "") if o["kind"] == "Role" else "", meta["name"])
            if o.get("aggregationRule"):
                raise RbacError("ClusterRole %s is aggregated: not modelled" % meta["name"])
            roles[key] = o
    out = []
    for b in objs:
        if b["kind"] not in BINDING_KINDS:
            continue
        meta = b.get("metadata") or {}
        bns = meta.get("namespace", "") if b["kind"] == "RoleBinding" else ""
        bname = "%s %s" % (b["kind"], (bns + "/" if bns else "") + meta.get("name", "?"))
        if not any(_subject_is(s, namespace, name, bns) for s in b.get("subjects") or []):
            continue
        ref = b.get("roleRef") or {}
        kind, rname = ref.get("kind"), ref.get("name")
        if kind not in ROLE_KINDS or (kind == "Role" and b["kind"] == "ClusterRoleBinding"):
            raise RbacError("%s has an invalid roleRef %r" % (bname, ref))
        key = (kind, bns if kind == "Role" else "", rname)
        role = roles.get(key)
        if role is None:
            raise RbacError("%s references %s %s, which the manifests do not define"
                            % (bname, kind, (bns + "/" if kind == "Role" else "") + str(rname)))
        source = "%s %s via %s" % (kind, (bns + "/" if kind == "Role" else "") + rname, bname)
        for rule in role.get("rules") or []:
            if rule.get("nonResourceURLs") and not rule.get("resources"):
                continue        # kapi authorizes no non-resource URLs (discovery is open to all)
            out.append((source, _kapi_rule(rule, bns)))
    return sorted(out, key=lambda g: g[0])     # stable: a role's rules keep their order


@functools.lru_cache(maxsize=None)
def _cached(directory, namespace, name):
    return tuple(grants(render(directory), namespace, name))


def service_account_grants(directory, namespace, name):
    """:func:`grants` for the manifests ``directory`` renders to (rendered once per process)."""
    return copy.deepcopy(list(_cached(_abs(directory), namespace, name)))


def service_account_rules(directory, namespace, name):
    """The kapi rules of ServiceAccount ``namespace``/``name`` in ``directory`` (see module doc)."""
    return [rule for _, rule in service_account_grants(directory, namespace, name)]


# ----------------------------------------------------------------- editing rules (negative tests)
def without_verb(rules, group, resource, verb):
    """``rules`` with ``verb`` on ``group``/``resource`` removed from every rule granting it
    (a rule left without verbs disappears). Raises when no rule granted it: the removal would
    prove nothing."""
    out, removed = [], False
    for rule in copy.deepcopy(rules):
        if group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]:
            removed = True
            if len(rule["resources"]) > 1 or len(rule["apiGroups"]) > 1:
                # Split: keep the verb for the other resources/groups of this rule.
                rest = dict(rule)
                rest["resources"] = [r for r in rule["resources"] if r != resource]
                if rest["resources"]:
                    out.append(rest)
                others = [g for g in rule["apiGroups"] if g != group]
                if others:
                    out.append(dict(rule, apiGroups=others, resources=[resource]))
                rule = dict(rule, apiGroups=[group], resources=[resource])
            rule["verbs"] = [v for v in rule["verbs"] if v != verb]
            if not rule["verbs"]:
                continue
        out.append(rule)
    if not removed:
        raise RbacError("no rule grants %s on %s/%s" % (verb, group, resource))
    return out


def without_source(grants_list, source_prefix):
    """The rules of ``grants_list`` ([(source, rule)]) not coming from a source starting with
    ``source_prefix`` (e.g. ``"Role joulie-system/joulie-operator-leader-election"``)."""
    kept = [rule for source, rule in grants_list if not source.startswith(source_prefix)]
    if len(kept) == len(grants_list):
        raise RbacError("no rule comes from %r" % source_prefix)
    return copy.deepcopy(kept)
