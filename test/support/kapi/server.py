"""The listening side: a ThreadingHTTPServer (one thread per connection, HTTP/1.1 keep-alive),
optional TLS with client certificates, a separate control listener, and the test controls that
act on the whole server (stop/start listening on the same port, cut watches, compact...)."""

import json
import os
import socket
import ssl
import threading
from http.server import ThreadingHTTPServer

from kapi import errors
from kapi.api import Api
from kapi.auth import Auth
from kapi.control import Counters, Faults
from kapi.handler import ControlHandler, Handler
from kapi.store import CUT, END


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, addr, handler, ssl_ctx, kapi):
        self.ssl_ctx = ssl_ctx
        self.kapi = kapi
        self.conns = set()
        self.conns_lock = threading.Lock()
        super().__init__(addr, handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_ctx is not None:
            # Handshake in the connection's own thread (Handler.setup), not in the accept loop.
            sock = self.ssl_ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def process_request(self, request, client_address):
        with self.conns_lock:
            self.conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.conns_lock:
            self.conns.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        pass    # a client that vanished mid-request is not a server error

    def close_all(self):
        with self.conns_lock:
            conns = list(self.conns)
            self.conns.clear()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass


def _write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


class KapiServer:
    """The whole server: state (Api), auth, counters, faults and the listeners."""

    def __init__(self, host="127.0.0.1", port=0, tls_cert=None, tls_key=None, client_ca=None,
                 users_file=None, history=1000, refuse_selectable_fields=False, bookmark_interval=1.0,
                 verbose=False, version=None):
        self.host = host
        self.port = port
        self.api = Api(history, refuse_selectable_fields, version)
        self.auth = Auth(users_file)
        self.counters = Counters()
        self.faults = Faults()
        self.bookmark_interval = bookmark_interval
        self.verbose = verbose
        self.ssl_ctx = None
        if tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls_cert, tls_key)
            ctx.set_alpn_protocols(["http/1.1"])
            if client_ca:
                ctx.load_verify_locations(client_ca)
                ctx.verify_mode = ssl.CERT_OPTIONAL
            self.ssl_ctx = ctx
        self._lock = threading.Lock()
        self._httpd = None
        self._control = None

    # ------------------------------------------------------------- listeners
    def start_listening(self):
        """Listen on ``port`` (the port first bound when it was 0). Idempotent."""
        with self._lock:
            if self._httpd is not None:
                return self.port
            httpd = _HTTPServer((self.host, self.port), Handler, self.ssl_ctx, self)
            self.port = httpd.server_address[1]
            self._httpd = httpd
            threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                             name="kapi-main", daemon=True).start()
            return self.port

    def stop_listening(self):
        """Close the listening socket and every open connection (watches included); keep state."""
        with self._lock:
            httpd = self._httpd
            if httpd is None:
                return
            self.api.store.signal_watchers(CUT)
            httpd.shutdown()
            httpd.server_close()
            httpd.close_all()
            self._httpd = None     # only now: listening() is False once the port is really closed

    def listening(self):
        with self._lock:
            return self._httpd is not None

    def start_control(self, port=0):
        httpd = _HTTPServer(("127.0.0.1", port), ControlHandler, None, self)
        self._control = httpd
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         name="kapi-control", daemon=True).start()
        return httpd.server_address[1]

    def write_port_files(self, port_file, control_port_file):
        if control_port_file:
            _write_atomic(control_port_file, "%d\n" % self._control.server_address[1])
        if port_file:
            _write_atomic(port_file, "%d\n" % self.port)

    # --------------------------------------------------------------- control
    def control(self, method, what, query, body):
        """Run one /_test/<what> control. Returns (answer, function to run after answering)."""
        parts = [p for p in what.split("/") if p]
        api = self.api
        if parts == ["counters"] and method == "GET":
            return self.counters.snapshot(), None
        if parts in (["counters", "reset"], ["counters"]) and method in ("POST", "DELETE"):
            self.counters.reset()
            return None, None
        if parts == ["fail"] and method == "POST":
            self.faults.fail_next(int(body.get("count", 1)), int(body.get("code", 500)),
                                  body.get("retryAfter"), body.get("verb"), body.get("resource"),
                                  body.get("message"))
            return None, None
        if parts == ["latency"] and method == "POST":
            self.faults.set_latency(body.get("seconds", 0), body.get("verb"), body.get("resource"))
            return None, None
        if parts == ["clear-faults"] and method == "POST":
            self.faults.clear()
            return None, None
        if parts == ["cut-watches"] and method == "POST":
            n = api.store.signal_watchers(END if body.get("graceful") else CUT)
            return {"watches": n}, None
        if parts == ["compact"] and method == "POST":
            api.store.compact()
            return {"resourceVersion": str(api.store.rv)}, None
        if parts == ["stop-listening"] and method == "POST":
            return None, self.stop_listening
        if parts == ["start-listening"] and method == "POST":
            return {"port": self.start_listening()}, None
        if parts == ["users"] and method == "POST":
            if not body.get("name"):
                raise errors.bad_request("users: name is required")
            try:
                self.auth.add(body["name"], body.get("token"), body.get("rules") or [],
                              bool(body.get("admin")))
            except ValueError as e:
                raise errors.bad_request("users: %s" % e)
            return None, None
        if len(parts) == 3 and parts[0] == "users" and parts[2] == "token" and method in ("PUT", "POST"):
            if not self.auth.set_token(parts[1], body.get("token")):
                raise errors.ApiError(404, "NotFound", 'user "%s" not found' % parts[1])
            return None, None
        if parts == ["seed"] and method == "POST":
            items = body.get("items") if isinstance(body, dict) else body
            return {"seeded": api.seed(items or [])}, None
        if parts == ["state"] and method == "GET":
            with api.store.lock:
                return {"resourceVersion": str(api.store.rv), "watches": len(api.store.watchers),
                        "listening": self.listening(), "port": self.port,
                        "objects": {k: len(c.objects) for k, c in api.store.collections.items()}}, None
        raise errors.ApiError(404, "NotFound", "unknown control %s /_test/%s" % (method, what))


def load_seed(path):
    """Objects from a JSON list, a JSON object with ``items``, or JSON lines."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        doc = json.loads(text)
        return doc.get("items", []) if isinstance(doc, dict) else doc
    except ValueError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
