"""HTTP request handling: routing of Kubernetes REST paths, content negotiation, watch streams,
authentication/authorization, counters and fault injection, and the /_test control endpoints."""

import base64
import binascii
import json
import queue
import select
import socket
import ssl
import sys
import time
import traceback
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit, unquote

from kapi import discovery, errors, table
from kapi.errors import ApiError
from kapi.selection import FieldSelector
from kapi.store import CUT, END, Watcher, dumps

JSON = "application/json"
TABLE_CT = "application/json;as=Table;v=v1;g=meta.k8s.io"
PATCH_TYPES = ("application/merge-patch+json", "application/strategic-merge-patch+json",
               "application/json-patch+json", "application/apply-patch+yaml")


def _param(q, name, default=None):
    v = q.get(name)
    return v[-1] if v else default


def _bool(q, name):
    return _param(q, name, "false").lower() in ("true", "1")


def encode_continue(rv, key):
    doc = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": list(key)}).encode()
    return base64.urlsafe_b64encode(doc).decode().rstrip("=")


def decode_continue(token):
    try:
        pad = "=" * (-len(token) % 4)
        doc = json.loads(base64.urlsafe_b64decode(token + pad))
        ns, name = doc["start"]
        return (str(ns), str(name))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise errors.bad_request("continue key is not valid: incorrect encoded start "
                                 "resourceVersion (version meta.k8s.io/v1)")


class Route:
    """A parsed resource URL."""
    __slots__ = ("rt", "ns", "name", "sub", "verb", "watch_prefix")

    def __init__(self, rt, ns, name, sub, watch_prefix):
        self.rt, self.ns, self.name, self.sub, self.watch_prefix = rt, ns, name, sub, watch_prefix
        self.verb = None

    def resource(self):
        return self.rt.plural + ("/" + self.sub if self.sub else "")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kapi"
    timeout = 900   # idle keep-alive connections are closed after this

    # ------------------------------------------------------------------ plumbing
    def setup(self):
        super().setup()
        self.kapi = self.server.kapi
        self.cert_cn = None
        if hasattr(self.request, "do_handshake"):
            try:
                self.request.settimeout(10)
                self.request.do_handshake()
                self.request.settimeout(self.timeout)
                cert = self.request.getpeercert()
                if cert:
                    for rdn in cert.get("subject", ()):
                        for k, v in rdn:
                            if k == "commonName":
                                self.cert_cn = v
            except (OSError, ValueError):
                self.close_connection = True
                self.handshake_failed = True
                return
        self.handshake_failed = False

    def handle(self):
        if getattr(self, "handshake_failed", False):
            return
        try:
            super().handle()
        except (ConnectionError, OSError, ValueError):
            pass

    def log_message(self, fmt, *args):
        if self.kapi.verbose:
            sys.stderr.write("kapi: %s %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _decode_body(self, raw):
        ctype = (self.headers.get("Content-Type") or JSON).split(";")[0].strip().lower()
        if not raw.strip():
            raise errors.bad_request("the request body is empty")
        if ctype not in ("application/json", "application/yaml") and ctype not in PATCH_TYPES:
            # Protobuf/CBOR bodies: 415 makes client-go fall back to JSON for later requests.
            raise errors.unsupported_media_type(ctype, ["application/json", "application/yaml"])
        if ctype in ("application/yaml", "application/apply-patch+yaml"):
            from kapi import yamlish
            try:
                return yamlish.load(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                raise errors.bad_request("error decoding YAML: %s" % e)
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise errors.bad_request("couldn't get version/kind; json parse error: %s" % e)

    def _send(self, code, body, ctype=JSON, headers=None):
        if isinstance(body, (dict, list)):
            body = dumps(body)
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        for w in getattr(self, "_warnings", None) or []:
            self.send_header("Warning", '299 - "%s"' % w.replace('"', '\\"'))
        self.end_headers()
        self.wfile.write(body)

    def _send_error(self, err):
        self._send(err.code, err.status(), headers=err.headers)

    # -------------------------------------------------------------- dispatch
    def _dispatch(self, method):
        self._warnings = []
        try:
            url = urlsplit(self.path)
            path = unquote(url.path)
            query = parse_qs(url.query, keep_blank_values=True)
            raw = self._read_body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
            if path.startswith("/_test/"):
                self._control(method, path, query, raw, require_admin=True)
                return
            if path in ("/healthz", "/livez", "/readyz"):
                self._send(200, b"ok", "text/plain; charset=utf-8")
                return
            route = self._route(path)
            if route is None:
                self._nonresource(method, path, query)
                return
            self._resource(method, route, query, raw)
        except ApiError as e:
            self._send_error(e)
        except (ConnectionError, BrokenPipeError):
            self.close_connection = True
        except Exception:  # a bug in the server must not take the connection thread down silently
            traceback.print_exc()
            try:
                self._send_error(errors.internal("unexpected server error"))
            except OSError:
                self.close_connection = True

    def _user(self):
        user = self.kapi.auth.authenticate(self.headers.get("Authorization"), self.cert_cn)
        if user is None:
            raise errors.unauthorized()
        return user

    def _nonresource(self, method, path, query):
        self._user()
        reg = self.kapi.api.registry
        played = self.kapi.api.version
        if method != "GET":
            raise errors.method_not_allowed()
        parts = [p for p in path.split("/") if p]
        doc, ctype = None, JSON
        if path == "/version":
            doc = discovery.version(played)
        elif parts == ["api"]:
            doc = discovery.api_versions(self.headers.get("Host", "127.0.0.1"))
        elif parts == ["api", "v1"]:
            doc = discovery.resource_list(reg, "", "v1")
        elif parts == ["apis"]:
            doc = discovery.group_list(reg)
        elif len(parts) == 2 and parts[0] == "apis":
            doc = discovery.group(reg, parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            doc = discovery.resource_list(reg, parts[1], parts[2])
        elif parts == ["openapi", "v2"]:
            if "protobuf" in (self.headers.get("Accept") or ""):
                self._send(200, discovery.openapi_v2_protobuf(played.git_version),
                           "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
                return
            doc = discovery.openapi_v2_json(played.git_version)
        elif parts == ["openapi", "v3"]:
            doc = discovery.openapi_v3_root(reg, played.git_version)
        elif len(parts) >= 4 and parts[:2] == ["openapi", "v3"]:
            gv = parts[2:]
            if gv[0] == "api" and len(gv) == 2:
                doc = discovery.openapi_v3_gv(reg, "", gv[1], played.git_version)
            elif gv[0] == "apis" and len(gv) == 3:
                doc = discovery.openapi_v3_gv(reg, gv[1], gv[2], played.git_version)
        if doc is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        self._send(200, doc, ctype)

    def _route(self, path):
        """Parse /api/v1/... or /apis/g/v/... into a Route (None for non-resource paths)."""
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 3 and parts[0] == "api" and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 4 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        watch_prefix = False
        if rest and rest[0] == "watch":
            watch_prefix, rest = True, rest[1:]
        reg = self.kapi.api.registry
        ns = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            rt = reg.lookup(group, version, rest[2])
            if rt is not None and rt.namespaced:
                ns, rest = rest[1], rest[2:]
        if not rest:
            return None
        rt = reg.lookup(group, version, rest[0])
        if rt is None or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) >= 2 else None
        sub = rest[2] if len(rest) == 3 else None
        if sub is not None and (sub != "status" or not rt.status_sub):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return Route(rt, ns, name, sub, watch_prefix)

    # ------------------------------------------------------------- resources
    def _resource(self, method, r, q, raw):
        watch = r.watch_prefix or _bool(q, "watch")
        if method == "GET":
            r.verb = "watch" if watch else ("get" if r.name else "list")
        elif method == "POST":
            r.verb = "create"
        elif method == "PUT":
            r.verb = "update"
        elif method == "PATCH":
            r.verb = "patch"
        else:
            r.verb = "delete" if r.name else "deletecollection"
        k = self.kapi
        k.counters.count(r.verb, r.resource())
        if r.verb in ("list", "watch") and _param(q, "fieldSelector"):
            k.counters.count_selector(r.verb, r.resource(), _param(q, "fieldSelector"))
        if r.verb == "list":
            k.counters.count_limit(r.resource(), _param(q, "limit") or "")
        user = self._user()
        self._authorize(user, r, q)
        if r.rt.namespaced and not r.ns and (r.name or method == "POST"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if (r.name is None and method in ("PUT", "PATCH")) or (r.name and method == "POST"):
            raise errors.method_not_allowed()
        err = k.faults.check(r.verb, r.resource())
        if err is not None:
            raise err
        dry = _param(q, "dryRun") == "All"
        fv = _param(q, "fieldValidation", "Warn")
        api, rt = k.api, r.rt
        if r.verb == "get":
            self._send_objects(rt, [api.get(rt, r.ns, r.name).raw], q, single=True)
        elif r.verb == "list":
            self._list(rt, r.ns, q)
        elif r.verb == "watch":
            self._watch(rt, r, q)
        elif r.verb == "create":
            obj = api.create(rt, r.ns, self._decode_body(raw), dry, fv, self._warnings)
            self._send(201, self._render(rt, obj))
        elif r.verb == "update":
            obj = api.update(rt, r.ns, r.name, self._decode_body(raw), r.sub, dry, fv, self._warnings)
            self._send(200, self._render(rt, obj))
        elif r.verb == "patch":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype == "application/apply-patch+yaml":
                raise errors.unsupported_media_type(ctype, list(PATCH_TYPES[:3]))
            obj = api.patch(rt, r.ns, r.name, self._decode_body(raw), ctype, r.sub, dry, fv,
                            self._warnings)
            self._send(200, self._render(rt, obj))
        elif r.verb == "delete":
            opts = self._decode_body(raw) if raw.strip() else {}
            obj = api.delete(rt, r.ns, r.name, opts if isinstance(opts, dict) else {}, dry)
            self._send(200, self._render(rt, obj))
        else:
            lsel, fsel = api.selectors(rt, _param(q, "labelSelector"), _param(q, "fieldSelector"))
            opts = self._decode_body(raw) if raw.strip() else {}
            items = api.delete_collection(rt, r.ns, lsel, fsel, opts if isinstance(opts, dict) else {},
                                          dry)
            self._send(200, {"kind": rt.list_kind, "apiVersion": rt.api_version,
                             "metadata": {"resourceVersion": str(api.store.rv)},
                             "items": [self._render(rt, o) for o in items]})

    def _authorize(self, user, r, q):
        """RBAC check with the request attributes the real API server uses: a list/watch with a
        ``metadata.name=`` field selector names that object; a request on a Namespace object is
        in that namespace. Refusals are counted (test controls) and answered 403."""
        ns, name = r.ns, r.name
        if r.rt.group == "" and r.rt.plural == "namespaces" and r.name:
            ns = r.name
        if name is None and r.verb in ("list", "watch"):
            try:
                name = FieldSelector(_param(q, "fieldSelector")).exact("metadata.name") or None
            except ApiError:
                name = None    # the selector is rejected (400) later, if the request is allowed
        if user.allows(r.verb, r.rt.group, r.rt.plural, r.sub, ns, name):
            return
        err = errors.forbidden(user.name, r.verb, r.rt, name, r.sub, ns)
        self.kapi.counters.forbid(user.name, r.verb, r.resource(), err.message)
        sys.stderr.write("kapi: 403 %s\n" % err.message)     # in the log shown when a test fails
        sys.stderr.flush()
        raise err

    def _render(self, rt, obj):
        """The object as served at the requested version (CRD versions share storage)."""
        if rt.group and obj.get("apiVersion") != rt.api_version:
            obj = dict(obj)
            obj["apiVersion"] = rt.api_version
        return obj

    def _raw_for(self, rt, raw):
        if rt.is_custom() and rt.version != rt.storage_version:
            return dumps(self._render(rt, json.loads(raw)))
        return raw

    def _table_wanted(self):
        accept = (self.headers.get("Accept") or "").replace(" ", "")
        return "as=Table" in accept and "g=meta.k8s.io" in accept

    def _send_objects(self, rt, raws, q, single=False, list_meta=None):
        if self._table_wanted():
            objs = [json.loads(self._raw_for(rt, raw)) for raw in raws]
            self._send(200, table.table(rt, objs, _param(q, "includeObject", "Metadata"),
                                        list_meta or {"resourceVersion": str(self.kapi.api.store.rv)}),
                       TABLE_CT)
            return
        if single:
            self._send(200, self._raw_for(rt, raws[0]))
            return
        body = b"".join([b'{"kind":"', rt.list_kind.encode(), b'","apiVersion":"',
                         rt.api_version.encode(), b'","metadata":', dumps(list_meta),
                         b',"items":[', b",".join(self._raw_for(rt, r) for r in raws), b"]}"])
        self._send(200, body)

    def _list(self, rt, ns, q):
        api = self.kapi.api
        lsel, fsel = api.selectors(rt, _param(q, "labelSelector"), _param(q, "fieldSelector"))
        try:
            limit = int(_param(q, "limit", "0") or 0)
        except ValueError:
            raise errors.bad_request("limit must be an integer")
        token = _param(q, "continue")
        start = decode_continue(token) if token else None
        items, last, remaining, rv = api.store.list(rt.storage_key, ns, lsel, fsel, max(limit, 0), start)
        meta = {"resourceVersion": str(rv)}
        if last is not None:
            meta["continue"] = encode_continue(rv, last)
            if remaining:
                meta["remainingItemCount"] = remaining
        self._send_objects(rt, [st.raw for st in items], q, list_meta=meta)

    # ------------------------------------------------------------------ watch
    def _watch(self, rt, r, q):
        api = self.kapi.api
        fs = _param(q, "fieldSelector") or ""
        if r.name:
            fs = ("metadata.name=%s," % r.name) + fs if fs else "metadata.name=" + r.name
        lsel, fsel = api.selectors(rt, _param(q, "labelSelector"), fs.rstrip(","))
        rv_text = _param(q, "resourceVersion") or ""
        from_rv = None
        if rv_text not in ("", "0"):
            try:
                from_rv = int(rv_text)
            except ValueError:
                raise errors.bad_request('invalid resource version "%s"' % rv_text)
        send_initial = _bool(q, "sendInitialEvents")
        if send_initial:
            from_rv = None
        try:
            timeout = float(_param(q, "timeoutSeconds") or 1800)
        except ValueError:
            raise errors.bad_request("timeoutSeconds must be a number")
        bookmarks = _bool(q, "allowWatchBookmarks")
        as_table = self._table_wanted()
        include = _param(q, "includeObject", "Metadata")
        w = Watcher(r.ns, lsel, fsel)
        ok = api.store.start_watch(rt.storage_key, w, from_rv, initial=True)
        self.send_response(200)
        self.send_header("Content-Type", TABLE_CT if as_table else JSON)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if not ok:
            err = errors.gone("too old resource version: %d (%d)" % (
                from_rv, api.store.collection(rt.storage_key).horizon + 1))
            self._chunk(b'{"type":"ERROR","object":' + dumps(err.status()) + b"}\n")
            self._chunk(b"")
            return
        cut = False
        try:
            cut = self._stream(rt, w, time.monotonic() + timeout, bookmarks, as_table, include,
                               send_initial)
        except (OSError, ValueError):
            cut = True
        finally:
            api.store.stop_watch(w)
        if cut:
            self.close_connection = True
            try:
                self.request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        else:
            self._chunk(b"")

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _event_line(self, rt, etype, raw, as_table, include, first):
        if as_table:
            obj = json.loads(self._raw_for(rt, raw))
            t = table.table(rt, [obj], include, {"resourceVersion": obj["metadata"].get(
                "resourceVersion", "")}, with_columns=first)
            return b'{"type":"' + etype.encode() + b'","object":' + dumps(t) + b"}\n"
        return b'{"type":"' + etype.encode() + b'","object":' + self._raw_for(rt, raw) + b"}\n"

    def _bookmark(self, rt, w, annotate=False):
        store = self.kapi.api.store
        with store.lock:
            if not w.q.empty():
                return None
            rv = store.rv
        meta = {"resourceVersion": str(rv)}
        if annotate:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}
        return b'{"type":"BOOKMARK","object":' + dumps(obj) + b"}\n"

    def _client_gone(self):
        try:
            readable, _, _ = select.select([self.request], [], [], 0)
            if not readable:
                return False
            self.request.settimeout(0.05)
            try:
                data = self.request.recv(1)
            finally:
                self.request.settimeout(self.timeout)
            return data == b""
        except (socket.timeout, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False    # readable TLS bytes that are not application data
        except (OSError, ValueError):
            return True

    def _stream(self, rt, w, deadline, bookmarks, as_table, include, send_initial):
        """Write events until the deadline; True when the connection must be dropped."""
        interval = self.kapi.bookmark_interval
        next_bookmark = time.monotonic() + interval
        first = True
        if send_initial:
            # Initial ADDED events are already queued; mark their end with an annotated bookmark.
            pending = []
            while True:
                try:
                    pending.append(w.q.get_nowait())
                except queue.Empty:
                    break
            for etype, raw in pending:
                self._chunk(self._event_line(rt, etype, raw, as_table, include, first))
                first = False
            line = self._bookmark(rt, w, annotate=True)
            if line:
                self._chunk(line)
        while True:
            now = time.monotonic()
            if now >= deadline:
                return False
            wait = min(deadline, next_bookmark if bookmarks else now + 1.0, now + 1.0) - now
            try:
                item = w.q.get(timeout=max(wait, 0.001))
            except queue.Empty:
                now = time.monotonic()
                if bookmarks and now >= next_bookmark:
                    line = self._bookmark(rt, w)
                    if line:
                        self._chunk(line)
                    next_bookmark = now + interval
                elif self._client_gone():
                    return True
                continue
            if item == CUT:
                return True
            if item == END:
                return False
            etype, raw = item
            self._chunk(self._event_line(rt, etype, raw, as_table, include, first))
            first = False

    # ---------------------------------------------------------------- control
    def _control(self, method, path, query, raw, require_admin):
        if require_admin and self.kapi.auth.enabled:
            user = self._user()
            if not user.admin:
                raise ApiError(403, "Forbidden", 'User "%s" cannot use test controls' % user.name)
        body = {}
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError as e:
                raise errors.bad_request("control body: %s" % e)
        out, after = self.kapi.control(method, path[len("/_test/"):], query, body)
        self._send(200, out if out is not None else {"ok": True})
        if after is not None:
            after()


class ControlHandler(Handler):
    """The always-on, unauthenticated control listener (127.0.0.1): /_test/ endpoints only, so
    tests can restart a stopped main listener."""

    def _dispatch(self, method):
        self._warnings = []
        try:
            url = urlsplit(self.path)
            raw = self._read_body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
            if not url.path.startswith("/_test/"):
                raise ApiError(404, "NotFound", "control listener: only /_test/ endpoints")
            self._control(method, unquote(url.path), parse_qs(url.query), raw, require_admin=False)
        except ApiError as e:
            self._send_error(e)
        except OSError:
            self.close_connection = True


