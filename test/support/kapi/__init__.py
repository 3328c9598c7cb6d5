"""kapi: a small Kubernetes API server for Joulie's tests (standard library only).

It speaks the Kubernetes REST protocol closely enough that kubectl and Joulie's own client cannot
tell it from a real API server for what they use (TESTING.md section 2): discovery, built-in
resources (nodes, pods, namespaces, events, leases, configmaps), CustomResourceDefinitions and their
custom resources, label/field selectors, pagination, watches with bookmarks and 410 Gone, merge and
strategic-merge patches, the status subresource, CRD schema validation, bearer-token and TLS
client-certificate authentication with per-user rules, and test controls (fault injection, request
counters, watch cutting, history compaction, stop/start listening).

It deliberately shares no code with src/kube: a bug shared by client and server would cancel out.

Run it with ``python3 -m kapi --help`` (PYTHONPATH=test/support).
"""

VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-kapi",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}
