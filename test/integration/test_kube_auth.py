"""The Kubernetes transport (test/support/kube_probe over src/kube): configuration sources,
authentication methods, credential refresh and TLS checks.

Tests on the ``kube`` fixture run on both tiers and use only the credentials of the kubeconfig
they are given (its bearer token, client certificate or exec plugin); on the external tier a
test that needs a bearer token skips when the kubeconfig has none. Tests on ``apiserver`` need
the test server: per-user client certificates it issues, token rotation on the server, its
certificate's names."""

import base64
import json
import stat
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from harness import wait_for
from kube_probe_support import (TRUST_KEYS, failed, ok, own_kubeconfig, require_tls,
                                require_token, write_kubeconfig)


def b64(path):
    return base64.b64encode(Path(path).read_bytes()).decode()


def test_own_kubeconfig_credentials(kube, kube_probe, tmp_path):
    out = ok(kube_probe("--kubeconfig", kube.kubeconfig(), "list", "nodes"))
    assert json.loads(out)["kind"] == "NodeList"
    # The same server and credentials as the kubeconfig variants below are written.
    ok(kube_probe("--kubeconfig", own_kubeconfig(kube, tmp_path / "own"), "list", "nodes"))


def test_client_certificate_from_files_and_embedded_data(apiserver, kube_probe, certs, tmp_path):
    by_cert = apiserver.kubeconfig("admin", auth="cert")
    out = ok(kube_probe("--kubeconfig", by_cert, "list", "nodes"))
    assert json.loads(out)["kind"] == "NodeList"

    crt, key = certs.client("viewer")
    embedded = write_kubeconfig(tmp_path / "embedded", {
        "server": apiserver.url, "certificate-authority-data": b64(apiserver.ca_file)},
        {"client-certificate-data": b64(crt), "client-key-data": b64(key)})
    ok(kube_probe("--kubeconfig", embedded, "list", "nodes"))
    # The certificate's identity is the one the server authorises: a viewer cannot create.
    node = tmp_path / "node.json"
    node.write_text(json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}))
    failed(kube_probe("--kubeconfig", embedded, "create-from", node, "nodes"), "Forbidden (403)")


def test_wrong_bearer_token_is_unauthorized(kube, kube_probe, tmp_path):
    if not kube.user_entry():
        pytest.skip("the kubeconfig carries no credentials: the server does not authenticate it")
    bad = own_kubeconfig(kube, tmp_path / "bad", user={"token": "not-a-valid-token"})
    failed(kube_probe("--kubeconfig", bad, "list", "nodes"), "Unauthorized (401)")


def test_token_file_change_is_picked_up_within_the_reread_period(kube, kube_probe, procs,
                                                                 tmp_path):
    token = require_token(kube)
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    cfg = own_kubeconfig(kube, tmp_path / "kubeconfig", user={"tokenFile": str(token_file)})
    loop = procs.start("loop", [kube_probe, "--kubeconfig", cfg, "--token-reread", "1s",
                                "loop-get", "nodes", kube.unique_name("missing-node"),
                                "--interval", "100ms", "--duration", "30s"])
    # Authenticated: the node does not exist (404), which proves the token was accepted.
    loop.wait_for_log(r"NotFound \(404\)", stream="stdout")

    # The file changes, the server does not: only a re-read of the file explains 401s.
    token_file.write_text("not-a-valid-token\n")
    changed = time.monotonic()
    loop.wait_for_log(r"Unauthorized \(401\)", timeout=5, stream="stdout")
    assert time.monotonic() - changed < 3.0

    # A valid token in the file again: requests succeed again without a restart.
    before = loop.output("stdout").count("\n")
    token_file.write_text(token + "\n")
    wait_for(lambda: "NotFound (404)" in "".join(loop.output("stdout").splitlines(True)[before:]),
             5, what="requests authenticated with the token re-read from the file")


def exec_plugin(tmp_path, api_version, lifetime_s):
    """A plugin printing the token in tmp_path/plugin-token, counting its runs."""
    script = tmp_path / "plugin.sh"
    script.write_text("""#!/bin/sh
echo run >> "%(dir)s/plugin-runs"
case "$KUBERNETES_EXEC_INFO" in *'"kind":"ExecCredential"'*) ;; *) echo "no exec info" >&2; exit 4;; esac
[ "$PLUGIN_GREETING" = hello ] || { echo "env missing" >&2; exit 5; }
exp=$(date -u -d "+%(lifetime)d seconds" +%%Y-%%m-%%dT%%H:%%M:%%SZ)
printf '{"apiVersion":"%(api)s","kind":"ExecCredential","status":{"token":"%%s","expirationTimestamp":"%%s"}}' "$(cat "%(dir)s/plugin-token")" "$exp"
""" % {"dir": tmp_path, "api": api_version, "lifetime": lifetime_s})
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def exec_kubeconfig(kube, tmp_path, api_version, lifetime_s):
    script = exec_plugin(tmp_path, api_version, lifetime_s)
    return own_kubeconfig(kube, tmp_path / "kubeconfig", user={"exec": {
        "apiVersion": api_version, "command": str(script), "args": ["get-token"],
        "env": [{"name": "PLUGIN_GREETING", "value": "hello"}]}})


def runs(tmp_path):
    f = tmp_path / "plugin-runs"
    return len(f.read_text().splitlines()) if f.exists() else 0


@pytest.mark.parametrize("api_version", ["client.authentication.k8s.io/v1",
                                         "client.authentication.k8s.io/v1beta1"])
def test_exec_plugin_cached_until_expiry(kube, kube_probe, procs, tmp_path, api_version):
    (tmp_path / "plugin-token").write_text(require_token(kube))
    cfg = exec_kubeconfig(kube, tmp_path, api_version, lifetime_s=2)
    loop = procs.start("loop", [kube_probe, "--kubeconfig", cfg, "loop-get", "nodes",
                                kube.unique_name("missing"), "--interval", "100ms",
                                "--duration", "30s"])
    loop.wait_for_log(r"NotFound \(404\)", stream="stdout")
    assert runs(tmp_path) == 1  # cached: many requests, one run
    # Expiry after ~2 s (second granularity): the plugin runs again.
    wait_for(lambda: runs(tmp_path) >= 2, 6, what="the plugin to run again after expiry")
    assert "Unauthorized" not in loop.output("stdout")


def test_exec_plugin_rerun_on_401(apiserver, kube_probe, procs, tmp_path):
    (tmp_path / "plugin-token").write_text(apiserver.tokens["viewer"])
    cfg = exec_kubeconfig(apiserver, tmp_path, "client.authentication.k8s.io/v1", lifetime_s=3600)
    loop = procs.start("loop", [kube_probe, "--kubeconfig", cfg, "loop-get", "nodes", "missing",
                                "--interval", "100ms", "--duration", "30s"])
    loop.wait_for_log(r"NotFound \(404\)", stream="stdout")
    assert runs(tmp_path) == 1

    # 401: the server rotates the token; the plugin (now handing out the new one) is re-run
    # long before its credential expires and the failed request is retried, so none fails.
    (tmp_path / "plugin-token").write_text("exec-rotated")
    apiserver.set_token("viewer", "exec-rotated")
    wait_for(lambda: runs(tmp_path) > 1, 5, what="the plugin to run after a 401")
    time.sleep(0.3)  # let a few more requests go through (bounded, observation only)
    assert "Unauthorized" not in loop.output("stdout")
    assert "NotFound (404)" in loop.output("stdout").splitlines()[-1]


def test_exec_plugin_failure_is_a_clear_error(kube, kube_probe, tmp_path):
    script = tmp_path / "fail.sh"
    script.write_text("#!/bin/sh\necho 'please log in first' >&2\nexit 7\n")
    script.chmod(0o755)
    cfg = own_kubeconfig(kube, tmp_path / "kubeconfig", user={"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": str(script)}})
    failed(kube_probe("--kubeconfig", cfg, "list", "nodes"), "exit status 7",
           "please log in first")


def ca_bytes(kube):
    """The PEM of the CA ``kube``'s kubeconfig trusts; skips when it names none."""
    entry = kube.cluster_entry()
    if entry.get("certificate-authority-data"):
        return base64.b64decode(entry["certificate-authority-data"])
    if entry.get("certificate-authority"):
        return Path(entry["certificate-authority"]).read_bytes()
    pytest.skip("the kubeconfig names no CA (in-cluster configuration always verifies one)")


def test_in_cluster_configuration(kube, kube_probe, tmp_path):
    require_tls(kube)
    u = urlsplit(kube.url)
    if u.path.strip("/") or kube.cluster_entry().get("tls-server-name"):
        pytest.skip("in-cluster configuration cannot express %s (path or tls-server-name)"
                    % kube.url)
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text(require_token(kube))
    (sa / "ca.crt").write_bytes(ca_bytes(kube))
    (sa / "namespace").write_text("joulie-system")
    env = {"KUBERNETES_SERVICE_HOST": u.hostname, "KUBERNETES_SERVICE_PORT": str(u.port or 443)}
    out = ok(kube_probe("--sa-dir", sa, "list", "nodes", env=env))
    assert json.loads(out)["kind"] == "NodeList"
    # KUBECONFIG wins over in-cluster variables.
    bad = write_kubeconfig(tmp_path / "k", {"server": "https://127.0.0.1:1"}, {})
    failed(kube_probe("--sa-dir", sa, "list", "nodes", env=dict(env, KUBECONFIG=str(bad))),
           "cannot connect")
    failed(kube_probe("--sa-dir", tmp_path / "nothing", "list", "nodes", env=env),
           "in-cluster", "token")


def other_ca(tmp_path):
    key, crt = tmp_path / "other.key", tmp_path / "other.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "2", "-subj", "/CN=other-ca"], check=True, capture_output=True)
    return crt


def test_tls_verification(kube, kube_probe, tmp_path):
    require_tls(kube)
    wrong = own_kubeconfig(kube, tmp_path / "wrong-ca", drop=TRUST_KEYS,
                           cluster={"certificate-authority": str(other_ca(tmp_path))})
    err = failed(kube_probe("--kubeconfig", wrong, "list", "nodes"), "certificate verify failed")
    assert "TLSError" in err

    # The certificate does not name the server we asked for.
    mismatch = own_kubeconfig(kube, tmp_path / "m", drop=("insecure-skip-tls-verify",),
                              cluster={"tls-server-name": "wrong.example"})
    failed(kube_probe("--kubeconfig", mismatch, "list", "nodes"), "certificate verify failed")

    insecure = own_kubeconfig(kube, tmp_path / "insecure", drop=TRUST_KEYS + ("tls-server-name",),
                              cluster={"insecure-skip-tls-verify": True})
    ok(kube_probe("--kubeconfig", insecure, "list", "nodes"))


def test_tls_system_store_and_server_name(apiserver, kube_probe, tmp_path):
    token = {"token": apiserver.tokens["viewer"]}
    # No CA at all: the system store does not know the test CA either.
    no_ca = write_kubeconfig(tmp_path / "no-ca", {"server": apiserver.url}, token)
    failed(kube_probe("--kubeconfig", no_ca, "list", "nodes"), "certificate verify failed")
    # tls-server-name: connect to 127.0.0.1 but verify (and send SNI) as kapi.joulie.test.
    by_name = apiserver.kubeconfig("viewer", tls_server_name="kapi.joulie.test",
                                   path=tmp_path / "n")
    ok(kube_probe("--kubeconfig", by_name, "list", "nodes"))


def test_configuration_errors_are_clear(kube, kube_probe, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nclusters:\n- name: c\n  cluster: {server: [oops\n")
    err = failed(kube_probe("--kubeconfig", broken, "list", "nodes"), "ParseError",
                 str(broken) + ":")

    failed(kube_probe("--kubeconfig", kube.kubeconfig(), "--context", "nope", "list", "nodes"),
           "context \"nope\" not found")
    failed(kube_probe("--kubeconfig", tmp_path / "absent.yaml", "list", "nodes"), "IOError",
           "absent.yaml")
    failed(kube_probe("--kubeconfig", tmp_path, "list", "nodes"), "IOError")
    bad64 = write_kubeconfig(tmp_path / "b64", {"server": kube.url,
                                                "certificate-authority-data": "%%%"}, {})
    failed(kube_probe("--kubeconfig", bad64, "list", "nodes"), "not valid base64")
    assert "Traceback" not in err


def test_kubeconfig_list_merges_first_wins(kube, kube_probe, tmp_path):
    good = kube.kubeconfig()
    shadowed = write_kubeconfig(tmp_path / "second", {"server": "https://127.0.0.1:1"},
                                {"token": "x"})
    ok(kube_probe("list", "nodes", env={"KUBECONFIG": "%s:%s" % (good, shadowed)}))
    failed(kube_probe("list", "nodes", env={"KUBECONFIG": "%s:%s" % (shadowed, good)}),
           "cannot connect")
