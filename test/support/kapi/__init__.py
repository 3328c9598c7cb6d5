"""kapi: a small Kubernetes API server for Joulie's tests (standard library only).

It speaks the Kubernetes REST protocol closely enough that kubectl and Joulie's own client cannot
tell it from a real API server for what they use (docs/testing.md): discovery, built-in
resources (nodes, pods, namespaces, events, leases, configmaps, ...), CustomResourceDefinitions and their
custom resources, label/field selectors, pagination, watches with bookmarks and 410 Gone, merge and
strategic-merge patches, the status subresource, CRD schema validation, bearer-token and TLS
client-certificate authentication with per-user rules, and test controls (fault injection, request
counters, watch cutting, history compaction, stop/start listening).

It deliberately shares no code with src/kube: a bug shared by client and server would cancel out.

The Kubernetes version it plays (``--server-version``, default the newest) decides /version, which
fields strict decoding of built-in kinds accepts and whether CRD field selectors work: see
kapi/versions.py and kapi/fields.py. Built-in resources also include services, serviceaccounts,
apps/v1 workloads and RBAC objects, so that ``kubectl apply -k manifests`` can be tried on it.

Run it with ``python3 -m kapi --help`` (PYTHONPATH=test/support).
"""
