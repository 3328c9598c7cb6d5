"""Test controls: request counters and fault injection (failures, latency)."""

import collections
import threading
import time

from kapi import errors

WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}


class Counters:
    """Requests by verb and resource (``plural`` or ``plural/subresource``), list and watch
    requests by field selector (``fieldSelectors``: {verb: {resource: {selector: n}}}, answered or
    not), list requests by their ``limit`` (``limits``: {resource: {limit: n}}), and the requests
    refused by authorization (403) by user, verb and resource, with the
    last refusal messages."""

    MAX_MESSAGES = 50

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        with self._lock:
            self._by = collections.Counter()
            self._selectors = collections.Counter()
            self._limits = collections.Counter()
            self._forbidden = collections.Counter()
            self._messages = collections.deque(maxlen=self.MAX_MESSAGES)
            self._since = time.time()

    def count(self, verb, resource):
        with self._lock:
            self._by[(verb, resource)] += 1

    def count_selector(self, verb, resource, field_selector):
        with self._lock:
            self._selectors[(verb, resource, field_selector)] += 1

    def count_limit(self, resource, limit):
        with self._lock:
            self._limits[(resource, limit)] += 1

    def forbid(self, user, verb, resource, message):
        with self._lock:
            self._forbidden[(user, verb, resource)] += 1
            self._messages.append(message)

    def snapshot(self):
        with self._lock:
            by = dict(self._by)
            selectors_by = dict(self._selectors)
            limits_by = dict(self._limits)
            forbidden_by = dict(self._forbidden)
            messages = list(self._messages)
        requests = {}
        for (verb, res), n in sorted(by.items()):
            requests.setdefault(verb, {})[res] = n
        selectors = {}
        for (verb, res, sel), n in sorted(selectors_by.items()):
            selectors.setdefault(verb, {}).setdefault(res, {})[sel] = n
        limits = {}
        for (res, limit), n in sorted(limits_by.items()):
            limits.setdefault(res, {})[limit] = n
        forbidden = {}
        for (user, verb, res), n in sorted(forbidden_by.items()):
            forbidden.setdefault(user, {}).setdefault(verb, {})[res] = n
        writes = sum(n for (verb, _), n in by.items() if verb in WRITE_VERBS)
        return {"requests": requests, "writes": writes, "total": sum(by.values()),
                "fieldSelectors": selectors, "limits": limits,
                "forbidden": forbidden, "forbiddenMessages": messages, "since": self._since}


class FaultRule:
    def __init__(self, count, code, retry_after=None, verb=None, resource=None, message=None):
        self.remaining = count
        self.code = code
        self.retry_after = retry_after
        self.verb = verb
        self.resource = resource
        self.message = message

    def matches(self, verb, resource):
        return (self.verb in (None, "", verb)) and (self.resource in (None, "", resource))

    def error(self):
        if self.code == 429:
            return errors.too_many_requests(self.retry_after if self.retry_after is not None else 1)
        err = errors.ApiError(self.code, {400: "BadRequest", 401: "Unauthorized",
                                          403: "Forbidden", 404: "NotFound",
                                          409: "Conflict", 410: "Expired",
                                          422: "Invalid", 500: "InternalError",
                                          503: "ServiceUnavailable",
                                          504: "Timeout"}.get(self.code, "InternalError"),
                              self.message or "injected failure (kapi fault injection)")
        if self.retry_after is not None:
            err.headers["Retry-After"] = str(self.retry_after)
        return err


class Faults:
    """Injected failures and latency for resource requests."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []
        self.latency = 0.0
        self.latency_verb = None
        self.latency_resource = None

    def fail_next(self, count, code=500, retry_after=None, verb=None, resource=None, message=None):
        with self._lock:
            self._rules.append(FaultRule(count, code, retry_after, verb, resource, message))

    def clear(self):
        with self._lock:
            self._rules = []
            self.latency = 0.0
            self.latency_verb = self.latency_resource = None

    def set_latency(self, seconds, verb=None, resource=None):
        with self._lock:
            self.latency = float(seconds)
            # One verb, or a list of them (e.g. every write verb).
            self.latency_verb = tuple(verb) if isinstance(verb, (list, tuple)) else (verb or None)
            self.latency_resource = resource or None

    def check(self, verb, resource):
        """Sleep for injected latency, then return an ApiError to answer with, or None."""
        with self._lock:
            delay = 0.0
            verbs = self.latency_verb
            if self.latency and (verbs is None or verb == verbs or
                                 (isinstance(verbs, tuple) and verb in verbs)) and \
                    self.latency_resource in (None, resource):
                delay = self.latency
            err = None
            for rule in self._rules:
                if rule.remaining > 0 and rule.matches(verb, resource):
                    rule.remaining -= 1
                    err = rule.error()
                    break
            self._rules = [r for r in self._rules if r.remaining > 0]
        if delay:
            time.sleep(delay)
        return err

    def pending(self):
        with self._lock:
            return sum(r.remaining for r in self._rules)
