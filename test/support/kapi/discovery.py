"""Discovery (/api, /apis, /version) and OpenAPI (/openapi/v2, /openapi/v3) documents.

kubectl needs: legacy discovery (we decline aggregated discovery by answering the plain form),
and an OpenAPI v3 document per group-version whose PATCH operations declare the
``fieldValidation`` query parameter -- then kubectl leaves validation to the server (it sends
``fieldValidation=Strict``) and does not need --validate=false.
"""

import hashlib
import json
import re

_STATUS_VERBS = ["get", "patch", "update"]


def version_priority(v):
    """Kubernetes version ordering key: GA > beta > alpha > other, higher numbers first."""
    m = re.match(r"^v(\d+)(?:(alpha|beta)(\d+))?$", v)
    if not m:
        return (3, 0, 0, v)
    major, kind, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    level = {None: 0, "beta": 1, "alpha": 2}[kind]
    return (level, -major, -minor, v)


def _verbs(rt):
    if rt.storage_key == "/namespaces":
        return ["create", "delete", "get", "list", "patch", "update", "watch"]
    return ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def resource_list(registry, group, version):
    types = registry.resources_of(group, version)
    if not types:
        return None
    out = []
    for rt in types:
        entry = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
                 "kind": rt.kind, "verbs": _verbs(rt),
                 "storageVersionHash": hashlib.sha256(rt.storage_key.encode()).hexdigest()[:12]}
        if rt.short_names:
            entry["shortNames"] = rt.short_names
        if rt.categories:
            entry["categories"] = rt.categories
        out.append(entry)
        if rt.status_sub:
            out.append({"name": rt.plural + "/status", "singularName": "", "namespaced": rt.namespaced,
                        "kind": rt.kind, "verbs": _STATUS_VERBS})
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": "%s/%s" % (group, version) if group else version, "resources": out}


def _group(name, versions):
    ordered = sorted(versions, key=version_priority)
    gvs = [{"groupVersion": "%s/%s" % (name, v), "version": v} for v in ordered]
    return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}


def api_versions(host):
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]}


def group_list(registry):
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(g, vs) for g, vs in registry.groups()]}


def group(registry, name):
    for g, vs in registry.groups():
        if g == name:
            out = _group(g, vs)
            out.update({"kind": "APIGroup", "apiVersion": "v1"})
            return out
    return None


def version(played):
    """GET /version: the played Kubernetes version (kapi.versions.ServerVersion)."""
    return played.version_document()


# ------------------------------------------------------------------------------------ OpenAPI
def _gv_path(group, version):
    return "api/%s" % version if not group else "apis/%s/%s" % (group, version)


def _schema_name(rt):
    g = ".".join(reversed(rt.group.split("."))) if rt.group else "io.k8s.api.core"
    return "%s.%s.%s" % (g, rt.version, rt.kind)


def openapi_v3_gv(registry, group, version, git_version="v1"):
    """A small OpenAPI v3 document for one group-version (None when it is not served)."""
    types = registry.resources_of(group, version)
    if not types:
        return None
    paths, schemas = {}, {}
    for rt in types:
        gvk = [{"group": rt.group, "version": rt.version, "kind": rt.kind}]
        base = "/" + _gv_path(group, version) + ("/namespaces/{namespace}" if rt.namespaced else "")
        ref = {"$ref": "#/components/schemas/" + _schema_name(rt)}
        body = {"content": {"application/json": {"schema": ref}}}
        params = [{"name": "fieldValidation", "in": "query", "schema": {"type": "string",
                                                                      "uniqueItems": True}},
                  {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                  {"name": "dryRun", "in": "query", "schema": {"type": "string"}}]

        def op(verb, action):
            return {"operationId": verb + rt.kind, "x-kubernetes-action": action,
                    "x-kubernetes-group-version-kind": gvk[0], "parameters": params,
                    "responses": {"200": body}}
        paths["%s/%s/{name}" % (base, rt.plural)] = {
            "get": op("read", "get"), "put": op("replace", "put"), "patch": op("patch", "patch"),
            "delete": op("delete", "delete"),
            "parameters": [{"name": "name", "in": "path", "required": True,
                            "schema": {"type": "string"}}]}
        paths["%s/%s" % (base, rt.plural)] = {"get": op("list", "list"), "post": op("create", "post")}
        sch = json.loads(json.dumps(rt.schema)) if rt.schema else {
            "type": "object", "x-kubernetes-preserve-unknown-fields": True}
        sch["x-kubernetes-group-version-kind"] = gvk
        schemas[_schema_name(rt)] = sch
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": git_version},
            "paths": paths, "components": {"schemas": schemas}}


def openapi_v3_root(registry, git_version="v1"):
    gvs = [("", "v1")] + [(g, v) for g, vs in registry.groups() for v in vs]
    out = {}
    for g, v in gvs:
        doc = json.dumps(openapi_v3_gv(registry, g, v, git_version), sort_keys=True).encode()
        h = hashlib.sha512(doc).hexdigest()[:64].upper()
        out[_gv_path(g, v)] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (_gv_path(g, v), h)}
    return {"paths": out}


def openapi_v2_json(git_version):
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": git_version},
            "paths": {}, "definitions": {}}


def openapi_v2_protobuf(git_version):
    """The same minimal document as gnostic's protobuf (field 1 swagger, 2 info{1 title, 2 version})."""
    def field(num, payload):
        return bytes([(num << 3) | 2, len(payload)]) + payload
    info = field(1, b"Kubernetes") + field(2, git_version.encode())
    return field(1, b"2.0") + field(2, info)
