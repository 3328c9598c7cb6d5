"""HTTP front of the power simulator (see __init__.py for the routes)."""

import json
import os
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from . import metrics
from .model import (ACTIONS, CONTROL_FAULTS, DVFS_ACTION, RAPL_ACTION, TELEMETRY_FAULTS,
                    PowerModel, validate_control)

MAX_BODY = 64 * 1024


def rfc3339(t):
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the agent reuses connections
    disable_nagle_algorithm = True  # header and body are separate writes: no delayed-ACK stalls
    server_version = "powersim/1"

    def log_message(self, fmt, *args):  # quiet unless asked
        if self.server.verbose:
            super().log_message(fmt, *args)

    # ----------------------------------------------------------------------------- plumbing
    def send_json(self, status, obj):
        self.send_raw(status, json.dumps(obj).encode())

    def send_raw(self, status, data, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_json(self):
        length = self.headers.get("Content-Length")
        try:
            length = int(length or "0")
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            raise ValueError("bad Content-Length")
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw.decode() or "null")
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError("invalid JSON: %s" % e) from None

    def route(self):
        parts = [unquote(p) for p in urlsplit(self.path).path.split("/") if p]
        return parts

    def query(self, key, default=None):
        values = parse_qs(urlsplit(self.path).query).get(key)
        return values[0] if values else default

    def hang(self):
        # Answer nothing until the server shuts down (or --hang-seconds pass): the agent must
        # time out on its own. The connection is dropped afterwards.
        self.server.stopping.wait(self.server.hang_seconds)
        self.close_connection = True

    # ------------------------------------------------------------------------------- routes
    def do_GET(self):
        parts = self.route()
        if parts == ["healthz"]:
            return self.send_raw(200, b"ok", "text/plain")
        if len(parts) == 2 and parts[0] == "telemetry":
            return self.telemetry(parts[1])
        model = self.server.model
        if len(parts) == 2 and parts[0] == "state":
            with model.lock:
                model.advance()
                state = model.node(parts[1]).state()
            return self.send_json(200, state)
        if parts == ["state"]:
            with model.lock:
                model.advance()
                states = {n: node.state() for n, node in model.nodes.items()}
            return self.send_json(200, states)
        if parts == ["metrics"]:
            with model.lock:
                model.advance()
                text = metrics.render(model)
            return self.send_raw(200, text.encode(), metrics.CONTENT_TYPE)
        if parts == ["sim", "status"]:
            with model.lock:
                model.advance()
                out = model.status(self.query("nodes", "1") != "0")
            return self.send_json(200, out)
        if parts == ["sim", "done"]:
            try:
                start = max(0, int(self.query("from", "0")))
            except ValueError:
                return self.send_json(400, {"result": "error", "message": "from must be an integer"})
            lead = self.query("lead")
            try:
                lead = None if lead is None else float(lead)
            except ValueError:
                return self.send_json(400, {"result": "error", "message": "lead must be a number"})
            with model.lock:
                model.advance()
                jobs = model.done[start:]
                out = {"t": model.t, "next": start + len(jobs), "jobs": jobs}
                if lead is not None:
                    model.set_horizon(model.t + lead)
            return self.send_json(200, out)
        if parts == ["sim", "series"]:
            with model.lock:
                out = {"t": model.t, "series": list(model.series)}
            return self.send_json(200, out)
        if parts == ["sim", "caps"]:
            with model.lock:
                out = {"t": model.t, "caps": list(model.cap_log)}
            return self.send_json(200, out)
        if parts == ["sim", "hardware"]:
            with model.lock:
                out = {k: hw.describe() for k, hw in model.hardware.items()}
            return self.send_json(200, out)
        self.send_json(404, {"result": "error", "message": "no route %s" % self.path})

    def do_POST(self):
        parts = self.route()
        try:
            body = self.read_json()
        except ValueError as e:
            return self.send_json(400, {"result": "error", "message": str(e)})
        if len(parts) == 2 and parts[0] == "control":
            return self.control(parts[1], body)
        if len(parts) == 2 and parts[0] == "load":
            return self.set_load(parts[1], body)
        if len(parts) == 2 and parts[0] == "faults":
            return self.set_faults(parts[1], body)
        if parts == ["reset"]:
            self.server.model.reset()
            return self.send_json(200, {"result": "ok"})
        if parts == ["sim", "jobs"]:
            return self.add_job(body)
        if parts in (["sim", "start"], ["sim", "stop"]):
            model = self.server.model
            with model.lock:
                if not model.eval_mode:
                    return self.send_json(409, {"result": "error",
                                                "message": "not in evaluation mode (--eval-config)"})
                model.start() if parts[1] == "start" else model.stop()
                out = model.status(False)
            return self.send_json(200, out)
        self.send_json(404, {"result": "error", "message": "no route %s" % self.path})

    def telemetry(self, name):
        model = self.server.model
        with model.lock:
            model.advance()
            node = model.node(name)
            node.telemetry_calls += 1
            fault = node.faults["telemetry"]
            power = node.power_watts()
        if fault == "hang":
            return self.hang()
        if fault == "500":
            return self.send_json(500, {"message": "injected failure"})
        if fault == "garbage":
            return self.send_raw(200, b"\x00{not json")
        now = datetime.now(timezone.utc)
        if fault == "stale":
            now -= timedelta(minutes=10)
        self.send_json(200, {"node": name, "packagePowerWatts": power,
                             "cpu": {"packagePowerWatts": power}, "ts": rfc3339(now)})

    def control(self, name, body):
        model = self.server.model
        action = body.get("action") if isinstance(body, dict) else None
        with model.lock:
            node = model.node(name)
            if action in ACTIONS:
                node.control_calls[action] += 1
            node.last_control = body
            channel = "rapl" if action == RAPL_ACTION else "dvfs"
            fault = node.faults[channel]
        if fault == "hang":
            return self.hang()
        if fault == "500":
            return self.send_json(500, {"result": "error", "message": "injected failure"})
        if fault == "garbage":
            return self.send_raw(502, b"\x00<html>bad gateway")
        if fault == "blocked":
            return self.send_json(200, {"result": "blocked",
                                        "message": "%s blocked on this node" % channel})
        if fault == "error":
            return self.send_json(200, {"result": "error", "message": "%s failed on this node" % channel})
        try:
            action, value = validate_control(body, name)
        except ValueError as e:
            return self.send_json(400, {"result": "error", "message": str(e)})
        with model.lock:
            model.advance()  # the energy so far was drawn under the old setting
            node = model.node(name)
            if action == RAPL_ACTION:
                node.cap_watts = value
                if model.eval_mode:
                    model.cap_log.append([model.t, name, value])
            else:
                node.throttle_pct = value
            node.applied_calls[action] += 1
            hw = node.hw
            package_max = hw.max_pkg_watts if hw is not None else node.idle_watts + node.dynamic_watts
        # The package maximum, as RAPL's constraint max would give it (hardware-class fractions).
        self.send_json(200, {"result": "applied", "node": name, "action": action,
                             "packageMaxPowerWatts": package_max})

    def set_load(self, name, body):
        if not isinstance(body, dict):
            return self.send_json(400, {"result": "error", "message": "body must be an object"})
        try:
            load = float(body.get("load", 1.0))
            idle = body.get("idleWatts")
            dynamic = body.get("dynamicWatts")
            if not 0.0 <= load <= 1.0:
                raise ValueError("load must be in [0,1]")
            idle = None if idle is None else float(idle)
            dynamic = None if dynamic is None else float(dynamic)
        except (TypeError, ValueError) as e:
            return self.send_json(400, {"result": "error", "message": str(e)})
        with self.server.model.lock:
            self.server.model.advance()
            node = self.server.model.node(name)
            node.load = load
            if idle is not None:
                node.idle_watts = idle
            if dynamic is not None:
                node.dynamic_watts = dynamic
            state = node.state()
        self.send_json(200, state)

    def add_job(self, body):
        model = self.server.model
        with model.lock:
            try:
                out = model.add_job(body)
            except ValueError as e:
                return self.send_json(400, {"result": "error", "message": str(e)})
            except KeyError as e:
                return self.send_json(409, {"result": "error", "message": str(e.args[0])})
        self.send_json(201, out)

    def set_faults(self, name, body):
        if not isinstance(body, dict) or not body:
            return self.send_json(400, {"result": "error", "message": "body must be a non-empty object"})
        changes = {}
        for key, mode in body.items():
            channels = ["rapl", "dvfs"] if key == "control" else [key]
            allowed = TELEMETRY_FAULTS if key == "telemetry" else CONTROL_FAULTS
            if key not in ("control", "rapl", "dvfs", "telemetry") or mode not in allowed:
                return self.send_json(400, {"result": "error",
                                            "message": "bad fault %r=%r" % (key, mode)})
            for channel in channels:
                changes[channel] = mode
        with self.server.model.lock:
            node = self.server.model.node(name)
            node.faults.update(changes)
            state = node.state()
        self.send_json(200, state)


class PowerSimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 overflows when pool agents open their keep-alive
    # connections together: dropped handshakes then look like 1 s stalls and reset connections.
    request_queue_size = 256

    def __init__(self, address, model=None, hang_seconds=30.0, verbose=False):
        super().__init__(address, Handler)
        self.model = model or PowerModel()
        self.hang_seconds = hang_seconds
        self.verbose = verbose
        self.stopping = threading.Event()

    def shutdown(self):
        self.stopping.set()
        super().shutdown()


def write_port_file(path, port):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def serve(host="127.0.0.1", port=0, port_file=None, model=None, hang_seconds=30.0, verbose=False):
    server = PowerSimServer((host, port), model=model, hang_seconds=hang_seconds, verbose=verbose)
    if port_file:
        write_port_file(port_file, server.server_address[1])
    return server
