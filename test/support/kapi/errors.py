"""Kubernetes ``Status`` errors.

Every failure the server reports is an :class:`ApiError`; the HTTP layer turns it into a
``Status`` object ``{kind: Status, apiVersion: v1, status: Failure, message, reason, code, details}``
exactly as a real API server does, so clients can decode the reason.
"""


class ApiError(Exception):
    """An error answer: HTTP ``code``, Kubernetes ``reason``, human ``message``."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        """The ``Status`` object for this error."""
        out = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            out["details"] = self.details
        return out


def qualified(rt):
    """``plural`` for the core group, ``plural.group`` otherwise (how Kubernetes names resources)."""
    return rt.plural if not rt.group else "%s.%s" % (rt.plural, rt.group)


def _details(rt, name):
    d = {"kind": rt.plural}
    if name:
        d["name"] = name
    if rt.group:
        d["group"] = rt.group
    return d


def not_found(rt, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (qualified(rt), name), _details(rt, name))


def already_exists(rt, name):
    return ApiError(409, "AlreadyExists", '%s "%s" already exists' % (qualified(rt), name),
                    _details(rt, name))


def conflict(rt, name, why="the object has been modified; please apply your changes to the "
                           "latest version and try again"):
    return ApiError(409, "Conflict",
                    'Operation cannot be fulfilled on %s "%s": %s' % (qualified(rt), name, why),
                    _details(rt, name))


def invalid(rt, name, causes):
    """422 Invalid. ``causes`` is a list of (field, reason, message) tuples."""
    msgs = ["%s: %s" % (f, m) if f else m for f, _, m in causes]
    joined = msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"
    group_kind = rt.kind + ("." + rt.group if rt.group else "")
    details = {"name": name, "kind": rt.kind,
               "causes": [{"reason": r, "message": m, "field": f} for f, r, m in causes]}
    if rt.group:
        details["group"] = rt.group
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (group_kind, name, joined), details)


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def forbidden(user, verb, rt, name, subresource, namespace):
    res = rt.plural + ("/" + subresource if subresource else "")
    where = 'in the namespace "%s"' % namespace if namespace else "at the cluster scope"
    target = '%s "%s"' % (qualified(rt), name) if name else qualified(rt)
    msg = '%s is forbidden: User "%s" cannot %s resource "%s" in API group "%s" %s' % (
        target, user, verb, res, rt.group, where)
    return ApiError(403, "Forbidden", msg, _details(rt, name))


def unauthorized():
    return ApiError(401, "Unauthorized", "Unauthorized")


def gone(message):
    return ApiError(410, "Expired", message)


def method_not_allowed(message="the server does not allow this method on the requested resource"):
    return ApiError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type, accepted):
    return ApiError(415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types "
                    "include: " + ", ".join(accepted), {"causes": [{"reason": "UnexpectedServerResponse",
                                                                   "message": content_type}]})


def too_many_requests(retry_after):
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    details = {"retryAfterSeconds": retry_after} if retry_after is not None else None
    return ApiError(429, "TooManyRequests", "Too many requests, please try again later.",
                    details, headers)


def internal(message):
    return ApiError(500, "InternalError", "Internal error occurred: " + message,
                    {"causes": [{"message": message}]})
