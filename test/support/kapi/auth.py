"""Authentication (bearer token, TLS client certificate CN) and per-user authorization rules.

Users file: ``{"users": [{"name": "agent", "token": "...", "rules": [{"verbs": [...],
"resources": [...]}]}]}``. A resource in a rule is ``plural``, ``plural/subresource``,
``group/plural``, ``group/plural/subresource``, ``plural/*`` or ``*`` (``*`` also covers
subresources, as in RBAC). Verbs are Kubernetes verbs or ``*``. Without a users file everything is
allowed. The user named ``admin`` (or any user with ``"admin": true``) may use /_test controls.
"""

import json
import threading


class User:
    def __init__(self, name, token=None, rules=None, admin=False):
        self.name = name
        self.token = token
        self.rules = rules or []
        self.admin = admin or name == "admin"

    def allows(self, verb, group, plural, subresource):
        res = plural + ("/" + subresource if subresource else "")
        candidates = {res, "%s/%s" % (group, res), "*", "%s/*" % group if group else "*"}
        if subresource:
            candidates.update({plural + "/*", "%s/%s/*" % (group, plural)})
        for rule in self.rules:
            verbs = rule.get("verbs") or []
            if "*" not in verbs and verb not in verbs:
                continue
            if candidates.intersection(rule.get("resources") or []):
                return True
        return False


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
        with self._lock:
            self.enabled = True
            self._users[name] = User(name, token, rules, admin)

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
