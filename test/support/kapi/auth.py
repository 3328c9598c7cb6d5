"""Authentication (bearer token, TLS client certificate CN) and per-user authorization rules.

Users file: ``{"users": [{"name": "agent", "token": "...", "rules": [...]}]}``. Without a users
file everything is allowed. The user named ``admin`` (or any user with ``"admin": true``) may use
the /_test controls.

A rule takes one of two forms:

* **Kubernetes RBAC** (any rule with an ``apiGroups`` key): a ``PolicyRule`` of a Role or
  ClusterRole, ``{"apiGroups": [..], "resources": [..], "verbs": [..], "resourceNames": [..]}``,
  evaluated as the real API server's RBAC authorizer does (``rbac/v1`` ``RuleAllows``): ``*``
  matches every group, resource or verb; a resource is ``plural`` or ``plural/subresource``
  (``*`` also covers subresources, ``*/status`` every status subresource, a bare ``plural`` none
  of them); ``resourceNames`` limits the rule to requests that carry an object name, so it never
  matches create, deletecollection, or a list/watch without a ``metadata.name=`` field selector.
  An optional ``"namespace": "ns"`` makes the rule apply only to requests in that namespace --
  the rules a RoleBinding grants (a Role's, or a ClusterRole's bound in one namespace); such a
  rule never matches cluster-scoped or all-namespaces requests.
* **Short form** (older tests): ``{"verbs": [...], "resources": [...]}`` with resources
  ``plural``, ``plural/subresource``, ``group/plural``, ``group/plural/subresource``,
  ``plural/*`` or ``*`` (``*`` also covers subresources), any group, any namespace, any name.
"""

import json
import threading

ALL = "*"


def _list(rule, key):
    v = rule.get(key)
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError("rule %r: %s must be a list of strings" % (rule, key))
    return v


def check_rule(rule):
    """Raise ValueError when ``rule`` is not a well-formed rule of either form."""
    if not isinstance(rule, dict):
        raise ValueError("rule %r is not an object" % (rule,))
    known = {"apiGroups", "resources", "verbs", "resourceNames", "namespace", "nonResourceURLs"}
    unknown = set(rule) - known
    if unknown:
        raise ValueError("rule %r: unknown field(s) %s" % (rule, sorted(unknown)))
    for key in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
        _list(rule, key)
    if "namespace" in rule and not (isinstance(rule["namespace"], str) and rule["namespace"]):
        raise ValueError("rule %r: namespace must be a non-empty string" % (rule,))
    if "apiGroups" not in rule and ({"resourceNames", "namespace"} & set(rule)):
        raise ValueError("rule %r: resourceNames/namespace need the RBAC form (apiGroups)" % (rule,))


def rbac_rule_allows(rule, verb, group, plural, subresource, namespace, name):
    """Whether one RBAC-form rule allows the request (upstream ``RuleAllows`` + binding scope)."""
    if "namespace" in rule and rule["namespace"] != (namespace or ""):
        return False
    verbs = rule.get("verbs") or []
    if ALL not in verbs and verb not in verbs:
        return False
    groups = rule.get("apiGroups") or []
    if ALL not in groups and group not in groups:
        return False
    combined = plural + ("/" + subresource if subresource else "")
    resource_ok = False
    for res in rule.get("resources") or []:
        if res == ALL or res == combined or (subresource and res == "*/" + subresource):
            resource_ok = True
            break
    if not resource_ok:
        return False
    names = rule.get("resourceNames") or []
    return not names or (name or "") in names


def short_rule_allows(rule, verb, group, plural, subresource):
    """Whether one short-form rule allows the request (no group, namespace or name limits)."""
    verbs = rule.get("verbs") or []
    if ALL not in verbs and verb not in verbs:
        return False
    res = plural + ("/" + subresource if subresource else "")
    candidates = {res, "%s/%s" % (group, res), ALL, "%s/*" % group if group else ALL}
    if subresource:
        candidates.update({plural + "/*", "%s/%s/*" % (group, plural)})
    return bool(candidates.intersection(rule.get("resources") or []))


class User:
    def __init__(self, name, token=None, rules=None, admin=False):
        self.name = name
        self.token = token
        self.rules = list(rules or [])
        for rule in self.rules:
            check_rule(rule)
        self.admin = admin or name == "admin"

    def matching_rule(self, verb, group, plural, subresource, namespace="", name=None):
        """The first rule allowing the request, or None."""
        for rule in self.rules:
            if "apiGroups" in rule:
                ok = rbac_rule_allows(rule, verb, group, plural, subresource, namespace, name)
            else:
                ok = short_rule_allows(rule, verb, group, plural, subresource)
            if ok:
                return rule
        return None

    def allows(self, verb, group, plural, subresource, namespace="", name=None):
        """Whether some rule allows ``verb`` on ``group``/``plural``[/``subresource``] in
        ``namespace`` ("" = cluster scope or all namespaces) for object ``name`` (None when the
        request names no object: create, list, watch, deletecollection)."""
        return self.matching_rule(verb, group, plural, subresource, namespace, name) is not None


class Auth:
    """Thread-safe user table. ``enabled`` is False when no users file was given."""

    def __init__(self, users_file=None):
        self._lock = threading.Lock()
        self.enabled = users_file is not None
        self._users = {}
        if users_file:
            with open(users_file, encoding="utf-8") as f:
                doc = json.load(f)
            for u in doc.get("users") or []:
                self.add(u.get("name"), u.get("token"), u.get("rules"), u.get("admin", False))

    def add(self, name, token=None, rules=None, admin=False):
        user = User(name, token, rules, admin)     # validates the rules before replacing anyone
        with self._lock:
            self.enabled = True
            self._users[name] = user

    def set_token(self, name, token):
        with self._lock:
            u = self._users.get(name)
            if u is None:
                return False
            u.token = token
            return True

    def by_token(self, token):
        with self._lock:
            for u in self._users.values():
                if u.token and u.token == token:
                    return u
        return None

    def by_name(self, name):
        with self._lock:
            return self._users.get(name)

    def authenticate(self, authorization_header, cert_cn):
        """The User for the request, an anonymous allow-all user when auth is off, else None."""
        if not self.enabled:
            return User("anonymous", rules=[{"verbs": ["*"], "resources": ["*"]}], admin=True)
        if cert_cn:
            user = self.by_name(cert_cn)
            if user is not None:
                return user
        if authorization_header:
            parts = authorization_header.split(None, 1)
            if len(parts) == 2 and parts[0].lower() == "bearer":
                return self.by_token(parts[1].strip())
        return None
