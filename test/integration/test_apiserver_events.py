"""The test API server refuses a core/v1 Event exactly when a real kube-apiserver does (the rules
and their source: test/support/kapi/events.py), with the real answer: 422, reason Invalid, the
offending fields as causes. A stand-in laxer than the real server let a bad write pass our tests
once; one stricter would fail Events a real cluster takes. The Events Joulie itself sends
(NoPerformanceNodeFits on Pods, OperatorPaused/OperatorResumed on the control ConfigMap, Node
Events) are shaped here as src/kube/events.cpp builds them and must be accepted."""

import copy

import pytest

EVENTS = "/api/v1/namespaces/%s/events"


@pytest.fixture
def kube(apiserver):
    for ns in ("joulie-system", "team-a"):
        code, body = apiserver.api("POST", "/api/v1/namespaces",
                                   {"apiVersion": "v1", "kind": "Namespace",
                                    "metadata": {"name": ns}})
        assert code == 201, body
    return apiserver


def joulie_event(name, ns, kind, involved_name, involved_ns, reason, type_="Normal",
                 message="m"):
    """The body EventRecorder::create_event sends (core/v1, no eventTime)."""
    involved = {"kind": kind, "apiVersion": "v1", "name": involved_name}
    if involved_ns:
        involved["namespace"] = involved_ns
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": ns},
            "involvedObject": involved, "reason": reason, "message": message, "type": type_,
            "source": {"component": "joulie-operator"}, "reportingComponent": "joulie-operator",
            "firstTimestamp": "2026-12-06T12:00:00Z", "lastTimestamp": "2026-12-06T12:00:00Z",
            "count": 1}


def new_style(ns="default", **changes):
    """An Event with eventTime set: the rules for reporting fields apply."""
    ev = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "n.1", "namespace": ns},
          "involvedObject": {"kind": "Node", "apiVersion": "v1", "name": "n"},
          "eventTime": "2026-12-06T12:00:00.000000Z", "reportingComponent": "joulie.io/operator",
          "reportingInstance": "joulie-operator-0", "action": "Plan", "reason": "Planned",
          "message": "m", "type": "Normal"}
    for key, value in changes.items():
        if value is None:
            ev.pop(key, None)
        else:
            ev[key] = value
    return ev


def refused(kube, ns, body, *fields):
    code, status = kube.api("POST", EVENTS % ns, body)
    assert code == 422, (code, status)
    assert status["reason"] == "Invalid", status
    causes = sorted({c["field"] for c in status["details"]["causes"]})
    assert causes == sorted(set(fields)), status
    assert kube.api("GET", EVENTS % ns + "/" + body["metadata"]["name"])[0] == 404
    return status


def accepted(kube, ns, body):
    code, obj = kube.api("POST", EVENTS % ns, body)
    assert code == 201, (code, obj)
    return obj


def test_joulies_own_events_are_accepted(kube):
    accepted(kube, "team-a", joulie_event("train-1.187e", "team-a", "Pod", "train-1", "team-a",
                                          "NoPerformanceNodeFits", "Warning", "x" * 1024))
    for reason in ("OperatorPaused", "OperatorResumed"):
        accepted(kube, "joulie-system",
                 joulie_event("joulie-control.%s" % reason.lower(), "joulie-system", "ConfigMap",
                              "joulie-control", "joulie-system", reason))
    # A Node is cluster-scoped: its Events live in "default".
    accepted(kube, "default", joulie_event("node-1.187f", "default", "Node", "node-1", "",
                                           "PerformanceDowngradeDeferred", "Warning"))
    # The count/lastTimestamp merge patch of a repeated Event.
    code, obj = kube.api("PATCH", EVENTS % "default" + "/node-1.187f",
                         {"count": 2, "lastTimestamp": "2026-12-06T12:01:00Z"})
    assert code == 200 and obj["count"] == 2, obj


def test_involved_object_namespace_must_match(kube):
    # A namespaced object's Event lives in that object's namespace.
    refused(kube, "default", joulie_event("p.1", "default", "Pod", "p", "team-a", "R"),
            "involvedObject.namespace")
    # A cluster-scoped object's old-style Event lives in "default" only.
    status = refused(kube, "team-a", joulie_event("n.1", "team-a", "Node", "n", "", "R"),
                     "involvedObject.namespace")
    assert "does not match event.namespace" in status["message"], status
    # ... a new-style one (eventTime) in "default" or "kube-system".
    accepted(kube, "kube-system", new_style("kube-system"))
    refused(kube, "team-a", new_style("team-a"), "involvedObject.namespace")


def test_a_patch_is_validated_like_a_create(kube):
    accepted(kube, "team-a", joulie_event("p.2", "team-a", "Pod", "p", "team-a", "R"))
    code, status = kube.api("PATCH", EVENTS % "team-a" + "/p.2",
                            {"involvedObject": {"namespace": "default"}})
    assert (code, status["reason"]) == (422, "Invalid"), status
    assert kube.get(EVENTS % "team-a" + "/p.2")["involvedObject"]["namespace"] == "team-a"


def test_new_style_events_need_their_reporting_fields(kube):
    accepted(kube, "default", new_style())
    missing = new_style(reportingComponent=None, reportingInstance=None, action=None, reason=None)
    missing["metadata"]["name"] = "n.2"
    refused(kube, "default", missing, "reportingController", "reportingInstance", "action",
            "reason")
    bad = [("reportingComponent", "not a/qualified/name", "reportingController"),
           ("reportingComponent", "-starts-with-dash", "reportingController"),
           ("reportingInstance", "i" * 129, "reportingInstance"),
           ("action", "a" * 129, "action"),
           ("reason", "r" * 129, "reason"),
           ("message", "m" * 1025, "message")]
    for i, (key, value, field) in enumerate(bad):
        ev = new_style(**{key: value})
        ev["metadata"]["name"] = "bad.%d" % i
        refused(kube, "default", ev, field)
    at_limits = new_style(reportingInstance="i" * 128, action="a" * 128, reason="r" * 128,
                          message="m" * 1024)
    at_limits["metadata"]["name"] = "n.3"
    accepted(kube, "default", at_limits)


def test_what_core_v1_leaves_to_events_k8s_io_is_accepted(kube):
    # Without eventTime the real server checks neither type nor the reason and message limits
    # (the strict rules are those of events.k8s.io/v1): a stand-in must not refuse them either.
    ev = joulie_event("n.4", "default", "Node", "n", "", "r" * 300, "Bogus", "m" * 2000)
    assert accepted(kube, "default", ev)["type"] == "Bogus"


def test_event_names_are_path_segments(kube):
    # The Event strategy asks no DNS-1123 name of an Event, only a usable path segment.
    accepted(kube, "default", joulie_event("Node_1.ABC", "default", "Node", "n", "", "R"))
    for name in ("a%b", "..", "."):
        refused(kube, "default", joulie_event(name, "default", "Node", "n", "", "R"),
                "metadata.name")
    code, status = kube.api("POST", EVENTS % "default",
                            joulie_event("x/y", "default", "Node", "n", "", "R"))
    assert (code, status["reason"]) == (422, "Invalid"), status
    ev = joulie_event("", "default", "Node", "n", "", "R")
    del ev["metadata"]["name"]
    code, status = kube.api("POST", EVENTS % "default", ev)
    assert (code, status["reason"]) == (422, "Invalid"), status
    assert "name or generateName is required" in status["message"], status
    gen = copy.deepcopy(ev)
    gen["metadata"]["generateName"] = "node-1."
    assert accepted(kube, "default", gen)["metadata"]["name"].startswith("node-1.")
