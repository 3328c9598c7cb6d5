"""Stand-ins and real components for the context-source tests (docs/testing.md).

- RealPrometheus: Debian's /usr/bin/prometheus with a generated config (1 s scrapes of the given
  targets, storage in a temp dir, a free loopback port picked by binding and releasing, retried on
  a conflict), ready when /-/ready answers 200. Used for every happy path.
- Exporter: a /metrics endpoint whose series are computed per scrape (a callable), so a test can
  close a loop (power from the fake sysfs frequency the agent writes).
- FakePrometheus: /api/v1/query answering from a script, for faults only (5xx, slow, status:
  error, NaN, zero or several series, stale timestamps, garbage, refusing connections).
- OipModel: an Open Inference Protocol v2 REST stand-in serving a deterministic model:
  forecast = 2 × mean(demand_history) + 1; modes make it not ready, slow, or answer garbage/NaN.

Everything binds 127.0.0.1; every wait is bounded.
"""

import json
import math
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import polling
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROMETHEUS = os.environ.get("JOULIE_PROMETHEUS", "/usr/bin/prometheus")


def _wait(predicate, timeout, what):
    return polling.wait_for(predicate, timeout, what=what, error=AssertionError)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RefusedEndpoint:
    """``url``: http://127.0.0.1:PORT where every connection is refused. The port stays bound (not
    listening) while this object lives, so a test running beside cannot start a server on it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1:<ephemeral> running in a daemon thread."""

    def __init__(self, handler_class):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


# ----------------------------------------------------------------------------------- exporter
class _ExporterHandler(_Handler):
    def do_GET(self):
        owner = self.server.owner
        if self.path.split("?")[0] != "/metrics":
            self.reply(404, "not found\n", "text/plain")
            return
        owner.scrapes += 1
        lines = []
        for name, labels, value in owner.series():
            text = ",".join('%s="%s"' % (k, v) for k, v in sorted(labels.items()))
            lines.append("%s{%s} %s" % (name, text, _format_value(value)))
        self.reply(200, "\n".join(lines) + "\n", "text/plain; version=0.0.4")


def _format_value(v):
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    if isinstance(v, float) and math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


class Exporter(_Server):
    """`series()` returns [(metric name, {labels}, value)], evaluated on every scrape."""

    def __init__(self, series):
        self.series = series
        self.scrapes = 0
        super().__init__(_ExporterHandler)

    @property
    def target(self):
        return "127.0.0.1:%d" % self.port


# --------------------------------------------------------------------------- real Prometheus
class RealPrometheus:
    """`tls=(cert file, key file, CA file)` serves HTTPS (Prometheus's --web.config.file)."""

    def __init__(self, targets, workdir=None, scrape_interval="1s", start_timeout=30.0, tls=None):
        if not os.path.exists(PROMETHEUS):
            raise FileNotFoundError(PROMETHEUS)
        self.workdir = workdir or tempfile.mkdtemp(prefix="joulie-prom-")
        os.makedirs(self.workdir, exist_ok=True)
        self.config = os.path.join(self.workdir, "prometheus.yml")
        self.scrape_interval = scrape_interval
        self._write_config(targets)
        self.proc = None
        self.log_path = os.path.join(self.workdir, "prometheus.log")
        self.web_args = []
        self.ssl = None
        scheme = "http"
        if tls:
            cert, key, ca = tls
            web = os.path.join(self.workdir, "web.yml")
            with open(web, "w") as f:
                f.write("tls_server_config:\n  cert_file: %s\n  key_file: %s\n" % (cert, key))
            self.web_args = ["--web.config.file=" + web]
            self.ssl = ssl.create_default_context(cafile=str(ca))
            scheme = "https"
        for attempt in range(5):
            self.port = free_port()
            self.url = "%s://127.0.0.1:%d" % (scheme, self.port)
            if self._start(start_timeout):
                return
        raise AssertionError("prometheus did not start:\n" + self.log_tail())

    def _write_config(self, targets):
        jobs = "".join(
            "  - job_name: %s\n    scrape_interval: %s\n    static_configs:\n"
            "      - targets: [%s]\n" % (job, self.scrape_interval,
                                         ", ".join('"%s"' % t for t in ts))
            for job, ts in targets.items())
        tmp = self.config + ".tmp"
        with open(tmp, "w") as f:
            f.write("global:\n  scrape_interval: %s\n  evaluation_interval: %s\n"
                    "scrape_configs:\n%s" % (self.scrape_interval, self.scrape_interval, jobs))
        os.replace(tmp, self.config)  # a reload never reads a half-written file

    def retarget(self, targets):
        """Replaces the scrape targets; the running Prometheus reloads its configuration (SIGHUP).
        For targets whose ports are known only once they serve (port 0)."""
        self._write_config(targets)
        self.proc.send_signal(signal.SIGHUP)

    def _start(self, timeout):
        storage = os.path.join(self.workdir, "data-%d" % self.port)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + self.config, "--storage.tsdb.path=" + storage,
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"] + self.web_args,
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False  # e.g. the port was taken meanwhile: try another
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=1,
                                            context=self.ssl) as r:
                    if r.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        return False

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def query(self, promql):
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=5, context=self.ssl) as r:
            body = json.loads(r.read())
        assert body["status"] == "success", body
        return body["data"]["result"]

    def wait_for_series(self, promql, count=1, timeout=30.0):
        """Waits until `promql` returns at least `count` series (the first scrapes landed)."""
        return _wait(lambda: (lambda r: r if len(r) >= count else None)(self.query(promql)),
                     timeout, "prometheus to return %d series for %s" % (count, promql))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()

    def close(self):
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


# ---------------------------------------------------------------------------- fake Prometheus
def vector(samples, ts=None):
    """A success body: samples = [({labels}, value)]; value may be a float or "NaN"/"+Inf"."""
    ts = time.time() if ts is None else ts
    result = [{"metric": labels, "value": [ts, v if isinstance(v, str) else repr(float(v))]}
              for labels, v in samples]
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}})


class _FakePromHandler(_Handler):
    def do_GET(self):
        owner = self.server.owner
        parsed = urllib.parse.urlparse(self.path)
        if parsed.path != "/api/v1/query":
            self.reply(404, "{}")
            return
        query = urllib.parse.parse_qs(parsed.query).get("query", [""])[0]
        with owner.lock:
            owner.queries.append(query)
            owner.authorizations.append(self.headers.get("Authorization"))
            status, body, delay = owner.answer(query)
        if delay:
            owner.release.wait(delay)
        self.reply(status, body)

    do_POST = do_GET


class FakePrometheus(_Server):
    """`answer(query)` → (status, body, delay seconds); set with `set(...)`."""

    def __init__(self):
        self.lock = threading.Lock()
        self.queries = []
        self.authorizations = []  # the Authorization header of each query (None: absent)
        self.release = threading.Event()
        self.answer = lambda q: (200, vector([]), 0)
        super().__init__(_FakePromHandler)

    def set(self, status=200, body=None, delay=0, per_query=None):
        with self.lock:
            if per_query is not None:
                self.answer = per_query
            else:
                self.answer = lambda q: (status, body if body is not None else vector([]), delay)

    def close(self):
        self.release.set()
        super().close()


# -------------------------------------------------------------------------------- OIP v2 model
class _OipHandler(_Handler):
    def _model(self):
        parts = urllib.parse.urlparse(self.path).path.strip("/").split("/")
        # v2/models/{model}/{ready|infer}
        if len(parts) == 4 and parts[0] == "v2" and parts[1] == "models":
            return urllib.parse.unquote(parts[2]), parts[3]
        return None, None

    def do_GET(self):
        owner = self.server.owner
        model, verb = self._model()
        if model != owner.name or verb != "ready":
            self.reply(404, json.dumps({"error": "unknown model"}))
            return
        owner.ready_calls += 1
        self.reply(200 if owner.mode != "not_ready" else 503, "")

    def do_POST(self):
        owner = self.server.owner
        model, verb = self._model()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if model != owner.name or verb != "infer":
            self.reply(404, json.dumps({"error": "unknown model"}))
            return
        try:
            request = json.loads(body)
            inputs = {i["name"]: i for i in request["inputs"]}
            history = inputs["demand_history"]
            features = inputs["time_features"]
            assert history["datatype"] == "FP32" and history["shape"] == [1, 12]
            assert features["datatype"] == "FP32" and features["shape"] == [1, 4]
        except (ValueError, KeyError, TypeError, AssertionError) as e:
            self.reply(400, json.dumps({"error": "bad request: %r" % e}))
            return
        owner.requests.append(request)
        mode = owner.mode
        if mode == "slow":
            owner.release.wait(owner.slow_seconds)
        if mode == "garbage":
            self.reply(200, "{\"outputs\": [{\"name\": \"forecast\", \"data\": [1, 2, 3]}]")
            return
        value = 2 * sum(history["data"]) / len(history["data"]) + 1
        data = ["NaN"] if mode == "nan" else [value]
        self.reply(200, json.dumps({"model_name": owner.name, "outputs": [
            {"name": "forecast", "shape": [1, 1], "datatype": "FP32", "data": data}]}))


class OipModel(_Server):
    def __init__(self, name="demand-forecast"):
        self.name = name
        self.mode = "ok"  # ok | not_ready | slow | garbage | nan
        self.slow_seconds = 10
        self.ready_calls = 0
        self.requests = []
        self.release = threading.Event()
        super().__init__(_OipHandler)

    def close(self):
        self.release.set()
        super().close()
