"""The validation a real kube-apiserver applies to core/v1 Events (the only Event API this server
serves, and the one Joulie writes: src/kube/events.cpp), so that an Event the real server would
refuse with 422 Invalid is refused here too.

Ported from Kubernetes, pkg/apis/core/validation/events.go (ValidateEventCreate /
ValidateEventUpdate, legacyValidateEvent) and the generic metadata check that
staging/src/k8s.io/apiserver/pkg/registry/rest/create.go runs after it. The rules, in our words:

* Through core/v1 (and events.k8s.io/v1beta1) only the "legacy" rules apply, on create and on
  every update or patch; the strict ones (eventTime required, type Normal|Warning, series,
  firstTimestamp/lastTimestamp/count/source unset) are for events.k8s.io/v1 only. So a core/v1
  Event with any `type`, or a long reason without eventTime, is accepted by the real server and
  is accepted here.
* Without eventTime (an "old-style" Event): an involvedObject without a namespace (a Node, a
  cluster-scoped object) may only be reported in the namespace "default" (or none); one with a
  namespace only in that same namespace.
* With eventTime (a "new-style" Event): an involvedObject without a namespace may only be
  reported in "default" or "kube-system"; reportingComponent (reportingController inside the
  server) is required and must be a qualified name (an optional DNS-subdomain prefix and '/',
  then at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric);
  reportingInstance and action are required and at most 128 characters; reason is required and
  at most 128 characters; message is at most 1024 characters.
* Always: the Event's namespace is a DNS-1123 subdomain.
* The name is checked only as a path segment (the Event strategy does not ask for a DNS
  subdomain): not "." or "..", no "/" and no "%"; a generateName likewise without the dot rule.
"""

import re

from kapi.names import SUBDOMAIN, SUBDOMAIN_MSG

REPORTING_INSTANCE_LIMIT = 128
ACTION_LIMIT = 128
REASON_LIMIT = 128
NOTE_LIMIT = 1024

_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_QUALIFIED_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                  "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
                  "'123-abc', regex used for validation is "
                  "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


def _subdomain_errors(value):
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not SUBDOMAIN.match(value):
        errs.append(SUBDOMAIN_MSG)
    return errs


def _qualified_name_errors(value):
    """apimachinery's IsQualifiedName: [prefix/]name."""
    parts = value.split("/")
    if len(parts) > 2:
        return ["a qualified name " + _QUALIFIED_MSG + " with an optional DNS subdomain prefix "
                "and '/' (e.g. 'example.com/MyName')"]
    errs = []
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in _subdomain_errors(prefix))
    name = parts[-1]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if not _QUALIFIED_NAME.match(name):
        errs.append("name part " + _QUALIFIED_MSG)
    return errs


def _quote(value):
    return '"%s"' % value


def _invalid(field, value, detail):
    return (field, "FieldValueInvalid", "Invalid value: %s: %s" % (_quote(value), detail))


def _required(field):
    return (field, "FieldValueRequired", "Required value")


def _text(obj, key):
    v = obj.get(key)
    return v if isinstance(v, str) else ""


def _at_most(obj, key, field, limit):
    if len(_text(obj, key)) > limit:
        return [_invalid(field, "", "can have at most %d characters" % limit)]
    return []


def _new_style_causes(event, ns, involved_ns):
    """The rules for an Event with eventTime set."""
    causes = []
    if not involved_ns and ns not in ("default", "kube-system"):
        causes.append(_invalid("involvedObject.namespace", involved_ns,
                               "does not match event.namespace"))
    controller = _text(event, "reportingComponent")
    if not controller:
        causes.append(_required("reportingController"))
    causes.extend(_invalid("reportingController", controller, m)
                  for m in _qualified_name_errors(controller))
    for key, limit in (("reportingInstance", REPORTING_INSTANCE_LIMIT), ("action", ACTION_LIMIT),
                       ("reason", REASON_LIMIT)):
        if not _text(event, key):
            causes.append(_required(key))
        causes.extend(_at_most(event, key, key, limit))
    causes.extend(_at_most(event, "message", "message", NOTE_LIMIT))
    return causes


def event_causes(event):
    """The (field, reason, message) causes for which a real server refuses this core/v1 Event on
    create or update; [] when it accepts it. `event` has its metadata.namespace set (the URL's)."""
    meta = event.get("metadata") or {}
    ns = meta.get("namespace") or ""
    involved = event.get("involvedObject")
    involved_ns = _text(involved, "namespace") if isinstance(involved, dict) else ""
    if event.get("eventTime"):
        causes = _new_style_causes(event, ns, involved_ns)
    elif (not involved_ns and ns not in ("", "default")) or (involved_ns and ns != involved_ns):
        causes = [_invalid("involvedObject.namespace", involved_ns, "does not match event.namespace")]
    else:
        causes = []
    causes.extend(_invalid("namespace", ns, m) for m in _subdomain_errors(ns))
    return causes


def path_segment_causes(meta):
    """The generic metadata check for a kind whose strategy asks no DNS name: the name (and a
    generateName) must be usable as one URL path segment."""
    causes = []
    name = meta.get("name")
    if name:
        if name in (".", ".."):
            causes.append(_invalid("metadata.name", name, "may not be '%s'" % name))
        else:
            causes.extend(_invalid("metadata.name", name, "may not contain '%s'" % c)
                          for c in ("/", "%") if c in name)
    generate = meta.get("generateName")
    if generate:
        causes.extend(_invalid("metadata.generateName", generate, "may not contain '%s'" % c)
                      for c in ("/", "%") if c in generate)
    return causes
