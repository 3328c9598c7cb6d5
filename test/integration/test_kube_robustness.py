"""Hostile or broken API server answers never crash the transport: a raw HTTP server in this test
answers with malformed JSON, non-objects, deep nesting, multi-MiB bodies, non-Status errors and
broken watch streams, and the probe must end with a typed error (exit 1), not a signal.

The rogue server is the test itself, so these tests are the same on every tier (they never use
the test API server or an external cluster)."""

import http.server
import json
import threading
import time

import pytest

from kube_probe_support import failed, ok, write_kubeconfig


class Rogue:
    """Serves ``routes[path_without_query] = callable(handler)``; records request headers."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        rogue = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                rogue.requests.append((self.path, dict(self.headers)))
                action = rogue.routes.get(self.path.split("?")[0])
                if action is None:
                    self.send_error(404)
                    return
                action(self)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def rogue():
    r = Rogue()
    yield r
    r.close()


def body(status, data, content_type="application/json"):
    def answer(h):
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
    return answer


def stream(chunks, end="clean", pause=0.0):
    """A chunked watch stream; end: "clean" (terminating chunk), "abort" (close the socket) or
    "hang" (send nothing more)."""
    def answer(h):
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        for c in chunks:
            h.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
            h.wfile.flush()
            time.sleep(pause)
        if end == "clean":
            h.wfile.write(b"0\r\n\r\n")
        elif end == "hang":
            time.sleep(30)
        h.close_connection = True
    return answer


@pytest.fixture
def probe(kube_probe, rogue, tmp_path):
    """kube_probe against the rogue server, one attempt per request."""
    cfg = write_kubeconfig(tmp_path / "kubeconfig", {"server": "http://127.0.0.1:%d" % rogue.port},
                           {"token": "t"})
    return kube_probe.with_args("--kubeconfig", cfg, "--max-attempts", "1")


EVENT = b'{"type":"ADDED","object":{"kind":"Node","metadata":{"name":"n1","resourceVersion":"5"}}}\n'


# Named ids: the bodies themselves would make megabyte-long test ids, passed between pytest-xdist's
# processes and printed by --durations.
@pytest.mark.parametrize("data,fragment", [
    (b"{not json", "malformed JSON"),
    (b"[1,2,3]", "not an object"),
    (b"", "malformed JSON"),
    (b'{"a":' + b"[" * 200000, "nested deeper"),
    (b"\x00\xff" * (3 << 20), "malformed JSON"),
], ids=["not-json", "array", "empty", "nested-200000", "binary-6MiB"])
def test_bad_bodies_are_parse_errors(probe, rogue, data, fragment):
    rogue.routes["/api/v1/nodes/x"] = body(200, data)
    failed(probe("get", "nodes", "x"), "ParseError", fragment)


def test_multi_mib_valid_body_and_user_agent(probe, rogue):
    items = [{"metadata": {"name": "node-%06d" % i}} for i in range(60000)]
    data = json.dumps({"kind": "NodeList", "metadata": {"resourceVersion": "9"}, "items": items})
    assert len(data) > 2 << 20
    rogue.routes["/api/v1/nodes"] = body(200, data.encode())
    assert len(json.loads(ok(probe("list", "nodes")))["items"]) == 60000
    headers = rogue.requests[-1][1]
    assert headers.get("User-Agent", "").startswith("joulie/")
    assert headers.get("Authorization") == "Bearer t"


def short_body(announced, data):
    """Announces ``announced`` bytes of body, sends ``data`` and closes the connection."""
    def answer(h):
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(announced))
        h.end_headers()
        h.wfile.write(data)
        h.wfile.flush()
        h.close_connection = True
    return answer


# The client sizes a body from Content-Length before reading it (list pages are MiBs): a length
# that lies, within the 256 MiB response limit or beyond it, must end as a typed error, and the
# next, honest answer must be read whole.
@pytest.mark.parametrize("announced", [200 << 20, 1 << 40], ids=["200MiB", "1TiB"])
def test_lying_content_length_is_an_error(probe, rogue, announced):
    rogue.routes["/api/v1/nodes/x"] = short_body(announced, b'{"metadata":{"name":"x"}}')
    failed(probe("get", "nodes", "x"))
    rogue.routes["/api/v1/nodes/x"] = body(200, b'{"metadata":{"name":"x"}}')
    assert json.loads(ok(probe("get", "nodes", "x")))["metadata"]["name"] == "x"


def test_non_status_error_bodies_are_typed_by_http_code(probe, rogue):
    rogue.routes["/api/v1/nodes/html"] = body(403, b"<html><body>denied by proxy</body></html>",
                                              "text/html")
    err = failed(probe("get", "nodes", "html"), "Forbidden (403)", "denied by proxy")
    rogue.routes["/api/v1/nodes/huge"] = body(502, b"x" * (4 << 20), "text/plain")
    err = failed(probe("get", "nodes", "huge"), "(502)")
    assert len(err) < 1000  # summarised, never echoed in full
    rogue.routes["/api/v1/nodes/status"] = body(
        409, json.dumps({"kind": "Status", "code": 409, "reason": "Conflict",
                         "message": "the object has been modified"}).encode())
    failed(probe("get", "nodes", "status"), "Conflict (409): the object has been modified")


def test_watch_cut_mid_event(probe, rogue):
    rogue.routes["/api/v1/nodes"] = stream([EVENT + EVENT[:30]], end="clean")
    r = probe("watch", "nodes")
    failed(r, "cut mid-event")
    assert json.loads(r.stdout.splitlines()[0])["name"] == "n1"  # the whole event came through

    rogue.routes["/api/v1/nodes"] = stream([EVENT, EVENT[:40]], end="abort")
    failed(probe("watch", "nodes"), "watch stream broken")


def test_watch_event_split_across_chunks_and_garbage(probe, rogue):
    pieces = [EVENT[:10], EVENT[10:50], EVENT[50:] + EVENT[:5], EVENT[5:]]
    rogue.routes["/api/v1/nodes"] = stream(pieces, end="clean", pause=0.02)
    out = ok(probe("watch", "nodes"))
    assert [json.loads(l)["name"] for l in out.splitlines()] == ["n1", "n1"]

    rogue.routes["/api/v1/nodes"] = stream([EVENT, b"garbage line\n"], end="clean")
    failed(probe("watch", "nodes"), "ParseError")
    rogue.routes["/api/v1/nodes"] = stream([b"[" * 100000 + b"\n"], end="clean")
    failed(probe("watch", "nodes"), "ParseError")


def test_watch_410_inside_the_stream_and_before_it(probe, rogue):
    gone = (b'{"type":"ERROR","object":{"kind":"Status","status":"Failure","code":410,'
            b'"reason":"Expired","message":"too old resource version"}}\n')
    rogue.routes["/api/v1/nodes"] = stream([EVENT, gone], end="hang")
    r = probe("watch", "nodes", timeout=20)
    failed(r, "Expired (410): too old resource version")
    rogue.routes["/api/v1/nodes"] = body(410, json.dumps(
        {"kind": "Status", "code": 410, "reason": "Gone", "message": "gone"}).encode())
    failed(probe("watch", "nodes"), "Gone (410)")


def test_idle_watch_is_ended_with_an_error(probe, rogue):
    rogue.routes["/api/v1/nodes"] = stream([EVENT], end="hang")
    started = time.monotonic()
    r = probe("watch", "nodes", "--idle-timeout", "1s", timeout=20)
    failed(r, "watch idle")
    assert time.monotonic() - started < 10
