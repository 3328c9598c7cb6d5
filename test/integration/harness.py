"""Integration-test harness for Joulie (standard library + pytest only).

What it gives tests (through the fixtures in conftest.py):

* :class:`Certs` -- a throw-away CA, a server certificate (SAN ``localhost``, ``127.0.0.1``,
  ``kapi.joulie.test``) and per-user client certificates (CN = user), made with the ``openssl``
  CLI once per session.
* :class:`ApiServer` -- the test Kubernetes API server (``test/support/kapi``) as a subprocess:
  HTTPS by default, users ``admin``/``operator``/``agent``/``agent-pool``/``viewer``/``nobody``
  (operator and agent rules rendered from manifests/, see DEFAULT_USERS) with random tokens,
  a kubeconfig writer, ``kubectl`` runner, raw API calls, watches, and the test controls (request
  counters, fault injection, cutting watches, compaction, stop/start listening, token rotation).
* :class:`ExternalCluster` -- the same read/write methods against a real API server named by
  ``JOULIE_E2E_KUBECONFIG``; the test-server-only controls skip the test there.
* :class:`Procs` -- subprocesses (joulie, probes) with output captured to files, waits for a log
  line, and guaranteed cleanup.

No method sleeps blindly: every wait is a bounded poll of a condition (:func:`wait_for`).
"""

import collections.abc
import functools
import http.client
import json
import os
import re
import secrets
import shutil
import signal as _signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
SUPPORT_DIR = REPO / "test" / "support"
CRDS_DIR = REPO / "crds"
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
SERVER_HOSTNAME = "kapi.joulie.test"

#: Users with hand-written rules (tokens are random per server).
STATIC_USERS = {
    "admin": [{"verbs": ["*"], "resources": ["*"]}],
    "viewer": [{"verbs": ["get", "list", "watch"], "resources": ["*"]}],
    "nobody": [],
}

#: Namespace of the manifests (and so of the operator's leader-election Lease).
MANIFESTS_NAMESPACE = "joulie-system"

#: Users whose rules are exactly what the manifests grant a ServiceAccount:
#: user -> (kustomize directory, ServiceAccount namespace, ServiceAccount name).
MANIFEST_USERS = {
    "operator": ("manifests/overlays/daemonset", MANIFESTS_NAMESPACE, "joulie-operator"),
    "agent": ("manifests/overlays/daemonset", MANIFESTS_NAMESPACE, "joulie-agent"),
    "agent-pool": ("manifests/overlays/pool", MANIFESTS_NAMESPACE, "joulie-agent"),
}


@functools.lru_cache(maxsize=None)
def _default_users():
    from rbac_support import service_account_rules     # renders with kubectl kustomize
    users = {"admin": STATIC_USERS["admin"]}
    for user, (directory, namespace, name) in MANIFEST_USERS.items():
        users[user] = service_account_rules(directory, namespace, name)
    users.update((k, v) for k, v in STATIC_USERS.items() if k != "admin")
    return users


class _DefaultUsers(collections.abc.Mapping):
    """The users every ApiServer knows: ``admin`` (everything), ``operator``/``agent`` (the
    manifests' RBAC for joulie-system/joulie-operator and joulie-system/joulie-agent in the
    daemonset overlay), ``agent-pool`` (joulie-system/joulie-agent in the pool overlay),
    ``viewer`` (read everything) and ``nobody``. The manifests are rendered on first use, once per
    session (rbac_support.py); the rules are enforced by the test API server, so a rule missing
    from the manifests fails the scenario that needs it."""

    def __getitem__(self, key):
        return _default_users()[key]

    def __iter__(self):
        return iter(_default_users())

    def __len__(self):
        return len(_default_users())


DEFAULT_USERS = _DefaultUsers()

MERGE_PATCH = "application/merge-patch+json"

#: The first line of an AddressSanitizer, LeakSanitizer or UndefinedBehaviorSanitizer report.
SANITIZER_REPORT = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|: runtime error: ")


# ------------------------------------------------------------------------------------ waiting
def wait_for(predicate, timeout=10.0, interval=0.05, what=None):
    """Poll ``predicate()`` until it returns something truthy and return that value; fail the
    test with a clear message (naming ``what`` and the last value seen) after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            pytest.fail("timed out after %.1fs waiting for %s (last value: %r)"
                        % (timeout, what or getattr(predicate, "__name__", "condition"), last),
                        pytrace=False)
        time.sleep(interval)


def kubectl_path():
    """Path of kubectl, or None when it is not installed."""
    return shutil.which("kubectl") or ("/usr/bin/kubectl" if os.path.exists("/usr/bin/kubectl")
                                       else None)


def require_kubectl():
    path = kubectl_path()
    if path is None:
        pytest.skip("kubectl is not installed (it is not a Debian 12 package); this test needs it")
    return path


# -------------------------------------------------------------------------------- certificates
class Certs:
    """A CA, a server certificate and lazily created client certificates, in ``directory``."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        if shutil.which("openssl") is None:
            pytest.skip("the openssl CLI is needed to make test certificates")
        self.ca_cert, self.ca_key = self.dir / "ca.crt", self.dir / "ca.key"
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                      "-nodes", "-keyout", self.ca_key, "-out", self.ca_cert, "-days", "3650",
                      "-subj", "/CN=joulie-test-ca",
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.server_cert, self.server_key = self._issue(
            "server", "/CN=kapi",
            "subjectAltName=DNS:localhost,DNS:%s,IP:127.0.0.1\n"
            "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
            % SERVER_HOSTNAME)
        self._clients = {}

    def _openssl(self, *args):
        r = subprocess.run(["openssl"] + [str(a) for a in args], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("openssl %s failed: %s" % (" ".join(map(str, args)), r.stderr))

    def _issue(self, stem, subject, extensions):
        key, csr, crt = self.dir / (stem + ".key"), self.dir / (stem + ".csr"), self.dir / (stem + ".crt")
        ext = self.dir / (stem + ".ext")
        ext.write_text(extensions)
        self._openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                      "-keyout", key, "-out", csr, "-subj", subject)
        self._openssl("x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key,
                      "-CAcreateserial", "-out", crt, "-days", "3650", "-extfile", ext)
        return crt, key

    def client(self, user):
        """(cert path, key path) of a client certificate whose CN is ``user``."""
        with self._lock:
            if user not in self._clients:
                self._clients[user] = self._issue(
                    "client-" + re.sub(r"[^A-Za-z0-9_.-]", "_", user), "/CN=" + user,
                    "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n")
            return self._clients[user]


# ------------------------------------------------------------------------------- HTTP helpers
class Response:
    """An API answer: ``code``, ``headers`` (dict, lower-case keys), ``body`` (bytes), ``json``."""

    def __init__(self, code, headers, body):
        self.code = code
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "Response(%d, %s)" % (self.code, self.body[:300])


class Watch:
    """A streaming watch. Iterate with :meth:`next` (None at a clean end or timeout); use as a
    context manager so the connection is always closed."""

    def __init__(self, conn, resp):
        self._conn = conn
        self.resp = resp
        self.code = resp.status
        self.ended = False

    def next(self, timeout=10.0):
        """The next event dict, or None when the stream ended or nothing came within ``timeout``."""
        if self.ended:
            return None
        self._conn.sock.settimeout(timeout)
        try:
            line = self.resp.readline()
        except (socket.timeout, TimeoutError):
            return None
        except (OSError, http.client.HTTPException):
            self.ended = True
            return None
        if not line:
            self.ended = True
            return None
        return json.loads(line)

    def until(self, predicate, timeout=10.0, what="a watch event"):
        """Read events until ``predicate(event)`` is truthy; return that event (fail on timeout)."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ev = self.next(left)
            if ev is None:
                if self.ended:
                    break
                continue
            seen.append(ev.get("type"))
            if predicate(ev):
                return ev
        pytest.fail("no %s within %.1fs (event types seen: %s; stream ended: %s)"
                    % (what, timeout, seen, self.ended), pytrace=False)

    def close(self):
        try:
            self._conn.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class KubeClient:
    """Read/write methods shared by the test server and an external cluster. Subclasses provide
    ``_target(user)`` -> (base url, ssl context or None, headers) and ``kubeconfig(user)``."""

    kubectl_timeout = 60
    #: True on a real cluster (:class:`ExternalCluster`), where the test-server controls skip.
    external = False
    #: Labels every object a test creates should carry (the external tier deletes by them).
    test_labels = {}

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.kube_cache = self.workdir / "kubectl-cache"
        self._delete_later = []

    # -- naming and clean-up (what makes a scenario safe to run on a shared, real cluster)
    def unique_name(self, name):
        """``name`` for this run: unchanged on a fresh test server, suffixed with the run id on
        an external cluster (where another run's or a real object may hold the plain name)."""
        return name

    def selector(self, extra=""):
        """A label selector for this run's objects, ANDed with ``extra`` (may be empty)."""
        terms = ["%s=%s" % kv for kv in self.test_labels.items()]
        return ",".join(terms + ([extra] if extra else []))

    def delete_later(self, path):
        """Delete ``path`` at :meth:`cleanup` (objects that cannot carry ``test_labels``, such as
        a Lease a probe creates)."""
        self._delete_later.append(path)

    def cleanup(self):
        """Best-effort deletion of what :meth:`delete_later` recorded."""
        for path in self._delete_later:
            try:
                self.request("DELETE", path, timeout=10)
            except OSError:
                pass
        self._delete_later = []

    # -- kubeconfig pieces, for tests that write kubeconfig variants with the same credentials
    def cluster_entry(self):
        """The kubeconfig ``cluster`` entry (server, CA...) that :meth:`kubeconfig` uses."""
        entry = {"server": self.url}
        if getattr(self, "ca_file", None):
            entry["certificate-authority"] = self.ca_file
        return entry

    def user_entry(self, user="admin"):
        """The kubeconfig ``user`` entry (credentials) of ``user``: here its bearer token."""
        token = self.bearer_token(user)
        return {"token": token} if token else {}

    def bearer_token(self, user="admin"):
        """The bearer token requests for ``user`` carry, or None (certificates, no auth)."""
        auth = self._target(user)[2].get("Authorization", "")
        return auth[len("Bearer "):] if auth.startswith("Bearer ") else None

    # -- raw API
    def _connection(self, user, timeout):
        base, ctx, headers = self._target(user)
        u = urlsplit(base)
        if u.scheme == "https":
            conn = http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=timeout, context=ctx)
        else:
            conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
        return conn, headers

    def request(self, method, path, body=None, user="admin", content_type=None, query=None,
                headers=None, timeout=15.0):
        """One API request; returns a :class:`Response` (never raises for HTTP errors).
        ``body`` may be a dict/list (sent as JSON), str or bytes; PATCH defaults to merge patch."""
        if query:
            path += ("&" if "?" in path else "?") + urlencode(query)
        conn, hdrs = self._connection(user, timeout)
        hdrs = dict(hdrs)
        hdrs.setdefault("Accept", "application/json")
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) \
                else json.dumps(body).encode()
            hdrs["Content-Type"] = content_type or (MERGE_PATCH if method == "PATCH"
                                                    else "application/json")
        hdrs.update(headers or {})
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            out = Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()
        return out

    def api(self, method, path, body=None, user="admin", **kw):
        """``(status code, decoded JSON body)`` of one API request (see :meth:`request`)."""
        r = self.request(method, path, body, user, **kw)
        return r.code, r.json

    def get(self, path, user="admin"):
        """GET ``path`` and return the decoded object, failing the test unless it is 200."""
        r = self.request("GET", path, user=user)
        assert r.code == 200, "GET %s -> %s" % (path, r)
        return r.json

    def watch(self, path, user="admin", timeout=10.0, **params):
        """Open a watch on a collection path (``watch=true`` is added): returns a :class:`Watch`."""
        params = dict(params)
        params["watch"] = "true"
        conn, hdrs = self._connection(user, timeout)
        conn.request("GET", path + ("&" if "?" in path else "?") + urlencode(params),
                     headers=dict(hdrs, Accept="application/json"))
        return Watch(conn, conn.getresponse())

    # -- kubectl
    def kubectl(self, *args, user="admin", check=True, input=None, timeout=None):
        """Run kubectl with this server's kubeconfig for ``user``; returns the CompletedProcess
        (text). With ``check``, a non-zero exit fails the test showing stdout and stderr. Skips
        the test when kubectl is not installed."""
        exe = require_kubectl()
        cmd = [exe, "--kubeconfig", str(self.kubeconfig(user)), "--cache-dir", str(self.kube_cache)]
        cmd += [str(a) for a in args]
        r = subprocess.run(cmd, capture_output=True, text=True, input=input,
                           timeout=timeout or self.kubectl_timeout)
        if check and r.returncode != 0:
            pytest.fail("kubectl %s failed (exit %d)\nstdout:\n%s\nstderr:\n%s"
                        % (" ".join(map(str, args)), r.returncode, r.stdout, r.stderr), pytrace=False)
        return r

    def wait_for(self, predicate, timeout=10.0, interval=0.05, what=None):
        """See :func:`wait_for`."""
        return wait_for(predicate, timeout, interval, what)

    def ensure_namespace(self, name):
        """Create Namespace ``name`` unless it exists (as admin)."""
        r = self.request("POST", "/api/v1/namespaces",
                         {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        assert r.code in (201, 409), "creating namespace %s: %s" % (name, r)

    def apply_crds(self, directory=None):
        """Apply every ``crds/*.yaml`` of the repository (kubectl when installed, else the API with
        a YAML body); returns the list of files applied (empty when there are none)."""
        files = sorted(Path(directory or CRDS_DIR).glob("*.yaml"))
        for f in files:
            if kubectl_path() is not None:
                self.kubectl("apply", "-f", f)
            else:
                self._apply_yaml_without_kubectl(f)
        self._wait_crds_established(files)
        return files

    def kustomization(self, resources, components=()):
        """A kustomization directory (under this client's workdir) listing repository
        ``resources`` and ``components`` (paths relative to the repository: kustomize refuses
        absolute ones); returns its path, for ``kubectl apply -k``."""
        d = Path(tempfile.mkdtemp(prefix="kustomization-", dir=str(self.workdir)))
        rel = os.path.relpath(REPO, d)
        lines = ["apiVersion: kustomize.config.k8s.io/v1beta1", "kind: Kustomization", "resources:"]
        lines += ["  - %s/%s" % (rel, r) for r in resources]
        if components:
            lines.append("components:")
            lines += ["  - %s/%s" % (rel, c) for c in components]
        (d / "kustomization.yaml").write_text("\n".join(lines) + "\n")
        return d

    def apply_field_selector_component(self):
        """Apply crds/ with manifests/components/field-selectors (Kubernetes >= 1.31)."""
        require_kubectl()
        self.kubectl("apply", "-k", self.kustomization(
            ["crds"], ["manifests/components/field-selectors"]))
        self._wait_crds_established(sorted(CRDS_DIR.glob("*.yaml")))

    def _apply_yaml_without_kubectl(self, path):
        pytest.skip("kubectl is not installed: cannot apply %s" % path)

    def _wait_crds_established(self, files):
        pass


# --------------------------------------------------------------------------------- test server
class ApiServer(KubeClient):
    """The test API server as a subprocess, plus everything tests do with it.

    Attributes: ``url`` (https://127.0.0.1:PORT), ``host_url`` (same port, host name
    ``kapi.joulie.test`` -- resolvable only where /etc/hosts says so; use
    ``kubeconfig(tls_server_name=...)`` otherwise), ``port``, ``ca_file``, ``tokens`` (user ->
    token), ``admin_token``, ``log_file`` (the server's stderr).
    """

    def __init__(self, workdir, certs=None, tls=True, users=None, history=None,
                 refuse_selectable_fields=False, bookmark_interval=None, seed=None, extra_args=(),
                 server_version=None, feature_gates=None):
        super().__init__(workdir)
        self.certs = certs
        self.tls = tls and certs is not None
        self.users = dict(DEFAULT_USERS if users is None else users)
        self.tokens = {name: "tok-%s-%s" % (name, secrets.token_hex(8)) for name in self.users}
        self.args = []
        if history is not None:
            self.args += ["--history", str(history)]
        if refuse_selectable_fields:
            self.args.append("--refuse-selectable-fields")
        # The Kubernetes version played (kapi/versions.py); None = kapi's default, the newest.
        self.server_version = server_version
        if server_version is not None:
            self.args += ["--server-version", str(server_version)]
        if feature_gates:
            self.args += ["--feature-gates", ",".join("%s=%s" % (k, str(v).lower())
                                                      for k, v in sorted(feature_gates.items()))]
        if bookmark_interval is not None:
            self.args += ["--bookmark-interval", str(bookmark_interval)]
        if seed is not None:
            self.args += ["--seed", str(seed)]
        self.args += list(extra_args)
        self.proc = None
        self.port = None
        self.control_port = None
        self.log_file = self.workdir / "kapi.log"
        self._kubeconfigs = {}

    @property
    def admin_token(self):
        return self.tokens.get("admin")

    @property
    def ca_file(self):
        return str(self.certs.ca_cert) if self.tls else None

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)

    @property
    def host_url(self):
        return "%s://%s:%d" % ("https" if self.tls else "http", SERVER_HOSTNAME, self.port)

    # -- life cycle
    def start(self, timeout=15.0):
        """Start the server and wait (bounded) until its port files exist."""
        port_file, control_file = self.workdir / "port", self.workdir / "control-port"
        for f in (port_file, control_file):
            if f.exists():
                f.unlink()
        cmd = [PYTHON, "-m", "kapi", "--host", "127.0.0.1", "--port", "0", "--port-file", port_file,
               "--control-port-file", control_file]
        if self.tls:
            cmd += ["--tls-cert", self.certs.server_cert, "--tls-key", self.certs.server_key,
                    "--client-ca", self.certs.ca_cert]
        if self.users:
            users_file = self.workdir / "users.json"
            users_file.write_text(json.dumps({"users": [
                {"name": n, "token": self.tokens[n], "rules": rules} for n, rules in self.users.items()]}))
            cmd += ["--users", users_file]
        cmd += self.args
        env = dict(os.environ, PYTHONPATH=str(SUPPORT_DIR), PYTHONDONTWRITEBYTECODE="1")
        self._log = open(self.log_file, "wb")
        self.proc = subprocess.Popen([str(c) for c in cmd], stdout=self._log, stderr=subprocess.STDOUT,
                                     env=env, cwd=str(self.workdir))

        def ready():
            if self.proc.poll() is not None:
                pytest.fail("test API server exited with %s:\n%s" % (self.proc.returncode,
                                                                     self.log_tail()), pytrace=False)
            return control_file.exists() and port_file.exists()
        wait_for(ready, timeout, 0.02, "the test API server to listen")
        self.port = int(port_file.read_text())
        self.control_port = int(control_file.read_text())
        return self

    def close(self):
        """Stop the server process (always safe to call)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None

    def log_tail(self, lines=40):
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # -- client side
    def _ssl_context(self, user, auth="token"):
        if not self.tls:
            return None
        ctx = ssl.create_default_context(cafile=self.ca_file)
        if auth == "cert":
            crt, key = self.certs.client(user)
            ctx.load_cert_chain(str(crt), str(key))
        return ctx

    def _target(self, user):
        headers = {}
        if user is not None and self.users and user in self.tokens:
            headers["Authorization"] = "Bearer " + self.tokens[user]
        elif user is not None and user.startswith("token:"):
            headers["Authorization"] = "Bearer " + user[len("token:"):]
        return self.url, self._ssl_context(user), headers

    def request_with_cert(self, method, path, user, body=None, timeout=15.0):
        """Like :meth:`request` but authenticated by ``user``'s client certificate."""
        u = urlsplit(self.url)
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=timeout,
                                           context=self._ssl_context(user, "cert"))
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    def kubeconfig(self, user="admin", path=None, auth="token", server=None, token=None,
                   token_file=None, insecure=False, tls_server_name=None, namespace=None,
                   ca_data=False):
        """Write a kubeconfig for ``user`` and return its path.

        ``auth``: "token" (the user's token, or ``token``/``token_file``) or "cert" (client
        certificate, CN = user). ``server`` overrides the URL (e.g. ``host_url``); ``ca_data``
        inlines the CA as certificate-authority-data; ``insecure`` sets insecure-skip-tls-verify."""
        key = (user, auth, server, token, token_file, insecure, tls_server_name, namespace, ca_data)
        if path is None and key in self._kubeconfigs:
            return self._kubeconfigs[key]
        cluster = {"server": server or self.url}
        if self.tls:
            if insecure:
                cluster["insecure-skip-tls-verify"] = True
            elif ca_data:
                import base64
                cluster["certificate-authority-data"] = base64.b64encode(
                    Path(self.ca_file).read_bytes()).decode()
            else:
                cluster["certificate-authority"] = self.ca_file
            if tls_server_name:
                cluster["tls-server-name"] = tls_server_name
        creds = {}
        if auth == "cert":
            crt, key_file = self.certs.client(user)
            creds = {"client-certificate": str(crt), "client-key": str(key_file)}
        elif token_file:
            creds = {"tokenFile": str(token_file)}
        elif token or self.tokens.get(user):
            creds = {"token": token or self.tokens[user]}
        context = {"cluster": "kapi", "user": user}
        if namespace:
            context["namespace"] = namespace
        doc = {"apiVersion": "v1", "kind": "Config", "current-context": "kapi",
               "clusters": [{"name": "kapi", "cluster": cluster}],
               "users": [{"name": user, "user": creds}],
               "contexts": [{"name": "kapi", "context": context}], "preferences": {}}
        if path is None:
            fd, path = tempfile.mkstemp(prefix="kubeconfig-%s-" % user, suffix=".yaml",
                                        dir=str(self.workdir))
            os.close(fd)
            self._kubeconfigs[key] = Path(path)
        Path(path).write_text(to_yaml(doc))
        return Path(path)

    def _apply_yaml_without_kubectl(self, path):
        for doc in Path(path).read_text().split("\n---"):
            if not doc.strip() or all(l.strip().startswith("#") or not l.strip()
                                      for l in doc.splitlines()):
                continue
            r = self.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                             doc, content_type="application/yaml")
            assert r.code in (201, 409), "creating the CRD of %s: %s" % (path, r)

    # -- test controls (on the control listener: they work while the main one is stopped)
    def control(self, method, what, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.control_port, timeout=15)
        try:
            conn.request(method, "/_test/" + what,
                         body=json.dumps(body).encode() if body is not None else None,
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            raise RuntimeError("control %s %s failed: %s %s" % (method, what, resp.status, data))
        return json.loads(data) if data else None

    def counters(self):
        """{"requests": {verb: {resource: n}}, "writes": n, "total": n} since the last reset.
        Resources are ``plural`` or ``plural/subresource``; writes = create/update/patch/delete."""
        return self.control("GET", "counters")

    def count(self, verb, resource):
        return self.counters()["requests"].get(verb, {}).get(resource, 0)

    def forbidden(self, user=None):
        """Requests refused with 403 since the last reset: {verb: {resource: n}} for ``user``, or
        {user: {verb: {resource: n}}} for everyone when ``user`` is None."""
        by_user = self.counters()["forbidden"]
        return by_user if user is None else by_user.get(user, {})

    def forbidden_messages(self):
        """The Status messages of the latest 403 answers (oldest first)."""
        return self.counters()["forbiddenMessages"]

    def reset_counters(self):
        self.control("POST", "counters/reset")

    def writes_since_reset(self):
        return self.counters()["writes"]

    def fail_next(self, n, code=500, retry_after=None, verb=None, resource=None):
        """Answer the next ``n`` resource requests (optionally only this verb/resource) with
        ``code`` (500, 503, 429...); 429 carries ``Retry-After: retry_after`` (default 1)."""
        self.control("POST", "fail", {"count": n, "code": code, "retryAfter": retry_after,
                                      "verb": verb, "resource": resource})

    def add_latency(self, seconds, verb=None, resource=None):
        self.control("POST", "latency", {"seconds": seconds, "verb": verb, "resource": resource})

    def clear_faults(self):
        self.control("POST", "clear-faults")

    def cut_watches(self, graceful=False):
        """Drop every open watch connection (graceful: end the streams cleanly instead)."""
        return self.control("POST", "cut-watches", {"graceful": graceful})["watches"]

    def compact(self):
        """Forget watch history: a watch from any older resourceVersion now gets 410 Gone."""
        return self.control("POST", "compact")["resourceVersion"]

    def stop_listening(self):
        """Close the listening socket and all connections; state is kept."""
        self.control("POST", "stop-listening")
        wait_for(lambda: not self.state()["listening"], 5, what="the server to stop listening")

    def start_listening(self):
        """Listen again on the same port."""
        port = self.control("POST", "start-listening")["port"]
        assert port == self.port, "restarted on port %s instead of %s" % (port, self.port)

    def state(self):
        return self.control("GET", "state")

    def open_watches(self):
        return self.state()["watches"]

    def set_token(self, user, token):
        """Rotate ``user``'s token (the old one stops working at once)."""
        self.control("PUT", "users/%s/token" % user, {"token": token})
        self.tokens[user] = token

    def add_user(self, name, token, rules):
        """Add (or replace) a user with ``rules``: RBAC PolicyRules ({"apiGroups", "resources",
        "verbs", optional "resourceNames"/"namespace"}) or the short form ({"verbs",
        "resources"}); see test/support/kapi/auth.py."""
        self.control("POST", "users", {"name": name, "token": token, "rules": rules})
        self.users[name] = rules
        self.tokens[name] = token

    def seed(self, objects):
        """Bulk-load objects without events (benchmarks); returns how many were loaded."""
        return self.control("POST", "seed", {"items": list(objects)})["seeded"]


# -------------------------------------------------------------------------- external cluster
class ExternalCluster(KubeClient):
    """A real API server from ``JOULIE_E2E_KUBECONFIG`` (read/write through its kubeconfig).

    Everything a test creates should carry ``self.test_labels`` so :meth:`cleanup` can delete it.
    Test-server controls (counters, fault injection...) skip the calling test."""

    external = True

    def __init__(self, kubeconfig_path, workdir):
        super().__init__(workdir)
        self.path = Path(kubeconfig_path)
        self.run_id = "e2e-" + secrets.token_hex(4)
        self.test_labels = {"joulie.io/e2e-run": self.run_id}
        exe = require_kubectl()
        r = subprocess.run([exe, "--kubeconfig", str(self.path), "config", "view", "--raw",
                            "--minify", "--flatten", "-o", "json"], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.fail("cannot read JOULIE_E2E_KUBECONFIG %s: %s" % (self.path, r.stderr))
        cfg = json.loads(r.stdout)
        cluster = cfg["clusters"][0]["cluster"]
        user = (cfg.get("users") or [{}])[0].get("user") or {}
        self.url = cluster["server"]
        import base64
        self._ctx = None
        if self.url.startswith("https"):
            self._ctx = ssl.create_default_context()
            if cluster.get("insecure-skip-tls-verify"):
                self._ctx.check_hostname = False
                self._ctx.verify_mode = ssl.CERT_NONE
            elif cluster.get("certificate-authority-data"):
                self._ctx.load_verify_locations(cadata=base64.b64decode(
                    cluster["certificate-authority-data"]).decode())
            if user.get("client-certificate-data"):
                crt, key = self.workdir / "client.crt", self.workdir / "client.key"
                crt.write_bytes(base64.b64decode(user["client-certificate-data"]))
                key.write_bytes(base64.b64decode(user["client-key-data"]))
                self._ctx.load_cert_chain(str(crt), str(key))
        self._token = user.get("token")
        if not self._token and user.get("tokenFile"):
            self._token = Path(user["tokenFile"]).read_text().strip()
        self._cluster_entry, self._user_entry = cluster, user

    def _target(self, user):
        return self.url, self._ctx, ({"Authorization": "Bearer " + self._token} if self._token else {})

    def kubeconfig(self, user="admin", **_):
        return self.path

    def unique_name(self, name):
        return "%s-%s" % (name, self.run_id)

    def cluster_entry(self):
        return dict(self._cluster_entry)

    def user_entry(self, user="admin"):
        """The kubeconfig's own credentials (whatever ``user`` asks for: there is only one)."""
        return dict(self._user_entry)

    def _wait_crds_established(self, files):
        for f in files:
            self.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", f)

    def cleanup(self, kinds=("nodepowerprofiles", "telemetryprofiles", "pods", "nodes")):
        """Delete everything labelled with this run's label and what :meth:`delete_later`
        recorded (best effort)."""
        super().cleanup()
        selector = self.selector()
        for kind in kinds:
            self.kubectl("delete", kind, "-A" if kind == "pods" else "--ignore-not-found", "-l",
                         selector, "--wait=false", check=False)

    def _needs_test_server(self, *_, **__):
        pytest.skip("needs the test API server's controls (not available on an external cluster)")

    counters = count = forbidden = forbidden_messages = reset_counters = writes_since_reset = \
        fail_next = add_latency = clear_faults = cut_watches = compact = stop_listening = \
        start_listening = set_token = add_user = seed = state = open_watches = _needs_test_server


# --------------------------------------------------------------------------------- processes
class Proc:
    """A started subprocess with stdout/stderr in files."""

    def __init__(self, name, argv, popen, stdout_path, stderr_path):
        self.name = name
        self.argv = argv
        self.popen = popen
        self.pid = popen.pid
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path

    @property
    def returncode(self):
        return self.popen.poll()

    def alive(self):
        return self.popen.poll() is None

    def output(self, stream="stderr"):
        paths = {"stderr": [self.stderr_path], "stdout": [self.stdout_path],
                 "both": [self.stdout_path, self.stderr_path]}[stream]
        return "".join(p.read_text(errors="replace") for p in paths if p.exists())

    def tail(self, lines=30, stream="both"):
        return "\n".join(self.output(stream).splitlines()[-lines:])

    def wait_for_log(self, pattern, timeout=10.0, stream="stderr"):
        """Wait (bounded) for a line matching regex ``pattern``; returns the match. Fails early,
        with the output tail, if the process exits first."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.output(stream).splitlines():
                m = rx.search(line)
                if m:
                    return m
            if not self.alive():
                # One more read: the line may have been written just before exiting.
                for line in self.output(stream).splitlines():
                    m = rx.search(line)
                    if m:
                        return m
                pytest.fail("%s exited (code %s) before logging /%s/:\n%s"
                            % (self.name, self.returncode, pattern, self.tail()), pytrace=False)
            if time.monotonic() >= deadline:
                pytest.fail("%s did not log /%s/ within %.1fs:\n%s"
                            % (self.name, pattern, timeout, self.tail()), pytrace=False)
            time.sleep(0.05)

    def signal(self, sig):
        if self.alive():
            self.popen.send_signal(sig)

    def wait(self, timeout=10.0):
        """Wait for exit; returns the exit code (fails the test on timeout)."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail("%s did not exit within %.1fs:\n%s" % (self.name, timeout, self.tail()),
                        pytrace=False)

    def stop(self, sig=_signal.SIGTERM, timeout=5.0):
        """Signal, wait up to ``timeout``, then kill. Returns the exit code."""
        if self.alive():
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        return self.popen.returncode


class Procs:
    """Starts subprocesses for one test and always stops them at teardown."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.procs = []

    def start(self, name, argv, env=None, cwd=None, stdin=None):
        """Start ``argv`` (list) with ``env`` added to the environment; returns a :class:`Proc`.
        Output goes to ``<workdir>/<name>.stdout`` and ``.stderr``."""
        n = sum(1 for p in self.procs if p.name == name)
        stem = name if n == 0 else "%s-%d" % (name, n)
        out, err = self.workdir / (stem + ".stdout"), self.workdir / (stem + ".stderr")
        full_env = dict(os.environ)
        full_env.update({k: str(v) for k, v in (env or {}).items()})
        with open(out, "wb") as fo, open(err, "wb") as fe:
            popen = subprocess.Popen([str(a) for a in argv], stdout=fo, stderr=fe, env=full_env,
                                     cwd=str(cwd) if cwd else None,
                                     stdin=stdin if stdin is not None else subprocess.DEVNULL)
        p = Proc(stem, argv, popen, out, err)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            p.stop()

    def sanitizer_reports(self):
        """(name, excerpt) for every process whose output holds an ASan/LSan/UBSan report -- in
        the sanitizer pass a report must fail the test even when the process was only stopped at
        teardown (a leak is reported at exit, after the test's own assertions)."""
        found = []
        for p in self.procs:
            for stream in ("stderr", "stdout"):
                text = p.output(stream)
                m = SANITIZER_REPORT.search(text)
                if m:
                    found.append((p.name, text[max(0, m.start() - 200):m.start() + 3000]))
                    break
        return found

    def report(self, lines=30):
        return "\n".join("----- %s (pid %d, exit %s) -----\n%s" % (p.name, p.pid, p.returncode,
                                                                    p.tail(lines))
                         for p in self.procs)


# ------------------------------------------------------------------------------------ YAML out
def _yaml_scalar(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    return json.dumps(str(v))     # a JSON string is a valid YAML double-quoted scalar


def to_yaml(value, indent=0):
    """Block YAML for dicts/lists of scalars (enough for kubeconfigs and manifests)."""
    pad = " " * indent
    lines = []
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        for k, v in value.items():
            key = str(k) if re.match(r"^[A-Za-z_][A-Za-z0-9_.-]*$", str(k)) else json.dumps(str(k))
            if isinstance(v, (dict, list)) and v:
                lines.append("%s%s:\n%s" % (pad, key, to_yaml(v, indent + 2)))
            else:
                lines.append("%s%s: %s\n" % (pad, key,
                                             "{}" if v == {} else "[]" if v == [] else _yaml_scalar(v)))
        return "".join(lines)
    if isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)) and item:
                body = to_yaml(item, indent + 2)
                lines.append("%s- %s" % (pad, body[indent + 2:]))
            else:
                lines.append("%s- %s\n" % (pad, _yaml_scalar(item)))
        return "".join(lines)
    return pad + _yaml_scalar(value) + "\n"
