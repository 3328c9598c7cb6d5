"""The Kubernetes transport (test/support/kube_probe over src/kube) against the test API server
over HTTPS: configuration sources, authentication methods, credential refresh and TLS checks."""

import base64
import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from harness import to_yaml, wait_for


@pytest.fixture
def probe(build_dir):
    path = build_dir / "test" / "support" / "kube_probe"
    if not path.exists():
        pytest.skip("kube_probe not built at %s" % path)
    return path


def run(probe, *args, env=None, timeout=60):
    """Runs the probe to completion with a clean environment (no KUBECONFIG, no HOME config)."""
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent"}
    full_env.update(env or {})
    return subprocess.run([str(probe)] + [str(a) for a in args], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


def ok(result):
    assert result.returncode == 0, "probe failed (%d):\nstdout: %s\nstderr: %s" % (
        result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    return result.stdout


def failed(result, *fragments):
    assert result.returncode == 1, "expected exit 1, got %d:\nstdout: %s\nstderr: %s" % (
        result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    for f in fragments:
        assert f in result.stderr, "%r not in stderr: %s" % (f, result.stderr)
    return result.stderr


def write_kubeconfig(path, cluster, user):
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "t",
           "clusters": [{"name": "c", "cluster": cluster}],
           "users": [{"name": "u", "user": user}],
           "contexts": [{"name": "t", "context": {"cluster": "c", "user": "u"}}]}
    Path(path).write_text(to_yaml(doc))
    return path


def b64(path):
    return base64.b64encode(Path(path).read_bytes()).decode()


def test_client_certificate_from_files_and_embedded_data(apiserver, probe, certs, tmp_path):
    out = ok(run(probe, "--kubeconfig", apiserver.kubeconfig("admin", auth="cert"), "list", "nodes"))
    assert json.loads(out)["kind"] == "NodeList"

    crt, key = certs.client("viewer")
    embedded = write_kubeconfig(tmp_path / "embedded", {
        "server": apiserver.url, "certificate-authority-data": b64(apiserver.ca_file)},
        {"client-certificate-data": b64(crt), "client-key-data": b64(key)})
    ok(run(probe, "--kubeconfig", embedded, "list", "nodes"))
    # The certificate's identity is the one the server authorises: a viewer cannot create.
    node = tmp_path / "node.json"
    node.write_text(json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}))
    failed(run(probe, "--kubeconfig", embedded, "create-from", node, "nodes"), "Forbidden (403)")


def test_bearer_token_and_wrong_token(apiserver, probe, tmp_path):
    ok(run(probe, "--kubeconfig", apiserver.kubeconfig("viewer"), "list", "nodes"))
    bad = apiserver.kubeconfig("viewer", token="not-a-valid-token", path=tmp_path / "bad")
    failed(run(probe, "--kubeconfig", bad, "list", "nodes"), "Unauthorized (401)")


def test_token_file_rotation_is_picked_up_within_the_reread_period(apiserver, probe, procs,
                                                                   tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(apiserver.tokens["viewer"] + "\n")
    cfg = apiserver.kubeconfig("viewer", token_file=token_file)
    loop = procs.start("loop", [probe, "--kubeconfig", cfg, "--token-reread", "1s",
                                "loop-get", "nodes", "missing-node", "--interval", "100ms",
                                "--duration", "30s"])
    # Authenticated: the node does not exist (404), which proves the token was accepted.
    loop.wait_for_log(r"NotFound \(404\)", stream="stdout")

    # The file changes, the server does not: only a re-read of the file explains 401s.
    token_file.write_text("rotated-token\n")
    changed = time.monotonic()
    loop.wait_for_log(r"Unauthorized \(401\)", timeout=5, stream="stdout")
    assert time.monotonic() - changed < 3.0

    # The server accepts the new token: requests succeed again without a restart.
    apiserver.set_token("viewer", "rotated-token")
    before = loop.output("stdout").count("\n")
    wait_for(lambda: "NotFound (404)" in "".join(loop.output("stdout").splitlines(True)[before:]),
             5, what="requests authenticated with the rotated token")


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


def runs(tmp_path):
    f = tmp_path / "plugin-runs"
    return len(f.read_text().splitlines()) if f.exists() else 0


@pytest.mark.parametrize("api_version", ["client.authentication.k8s.io/v1",
                                         "client.authentication.k8s.io/v1beta1"])
def test_exec_plugin_cached_until_expiry_and_rerun_on_401(apiserver, probe, procs, tmp_path,
                                                          api_version):
    (tmp_path / "plugin-token").write_text(apiserver.tokens["viewer"])
    script = exec_plugin(tmp_path, api_version, lifetime_s=2)
    cfg = write_kubeconfig(tmp_path / "kubeconfig",
                           {"server": apiserver.url, "certificate-authority": apiserver.ca_file},
                           {"exec": {"apiVersion": api_version, "command": str(script),
                                     "args": ["get-token"],
                                     "env": [{"name": "PLUGIN_GREETING", "value": "hello"}]}})
    loop = procs.start("loop", [probe, "--kubeconfig", cfg, "loop-get", "nodes", "missing",
                                "--interval", "100ms", "--duration", "30s"])
    loop.wait_for_log(r"NotFound \(404\)", stream="stdout")
    assert runs(tmp_path) == 1  # cached: many requests, one run
    # Expiry after ~2 s (second granularity): the plugin runs again.
    wait_for(lambda: runs(tmp_path) >= 2, 6, what="the plugin to run again after expiry")

    # 401: the server rotates the token; the plugin (now handing out the new one) is re-run and
    # the failed request is retried, so no request fails.
    (tmp_path / "plugin-token").write_text("exec-rotated")
    apiserver.set_token("viewer", "exec-rotated")
    count = runs(tmp_path)
    wait_for(lambda: runs(tmp_path) > count, 5, what="the plugin to run after a 401")
    time.sleep(0.3)  # let a few more requests go through (bounded, observation only)
    assert "Unauthorized" not in loop.output("stdout")
    assert "NotFound (404)" in loop.output("stdout").splitlines()[-1]


def test_exec_plugin_failure_is_a_clear_error(apiserver, probe, tmp_path):
    script = tmp_path / "fail.sh"
    script.write_text("#!/bin/sh\necho 'please log in first' >&2\nexit 7\n")
    script.chmod(0o755)
    cfg = write_kubeconfig(tmp_path / "kubeconfig",
                           {"server": apiserver.url, "certificate-authority": apiserver.ca_file},
                           {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                     "command": str(script)}})
    failed(run(probe, "--kubeconfig", cfg, "list", "nodes"), "exit status 7", "please log in first")


def test_in_cluster_configuration(apiserver, probe, tmp_path):
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text(apiserver.tokens["viewer"])
    (sa / "ca.crt").write_bytes(Path(apiserver.ca_file).read_bytes())
    (sa / "namespace").write_text("joulie-system")
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(apiserver.port)}
    out = ok(run(probe, "--sa-dir", sa, "list", "nodes", env=env))
    assert json.loads(out)["kind"] == "NodeList"
    # KUBECONFIG wins over in-cluster variables.
    bad = write_kubeconfig(tmp_path / "k", {"server": "https://127.0.0.1:1"}, {})
    failed(run(probe, "--sa-dir", sa, "list", "nodes", env=dict(env, KUBECONFIG=str(bad))),
           "cannot connect")
    failed(run(probe, "--sa-dir", tmp_path / "nothing", "list", "nodes", env=env),
           "in-cluster", "token")


def other_ca(tmp_path):
    key, crt = tmp_path / "other.key", tmp_path / "other.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "2", "-subj", "/CN=other-ca"], check=True, capture_output=True)
    return crt


def test_tls_verification(apiserver, probe, tmp_path):
    token = {"token": apiserver.tokens["viewer"]}
    wrong = write_kubeconfig(tmp_path / "wrong-ca", {
        "server": apiserver.url, "certificate-authority": str(other_ca(tmp_path))}, token)
    err = failed(run(probe, "--kubeconfig", wrong, "list", "nodes"), "certificate verify failed")
    assert "TLSError" in err

    # No CA at all: the system store does not know the test CA either.
    failed(run(probe, "--kubeconfig", write_kubeconfig(tmp_path / "no-ca", {"server": apiserver.url},
                                                       token), "list", "nodes"),
           "certificate verify failed")

    # The certificate does not name the server we asked for.
    mismatch = apiserver.kubeconfig("viewer", tls_server_name="wrong.example", path=tmp_path / "m")
    failed(run(probe, "--kubeconfig", mismatch, "list", "nodes"), "certificate verify failed")

    # tls-server-name: connect to 127.0.0.1 but verify (and send SNI) as kapi.joulie.test.
    by_name = apiserver.kubeconfig("viewer", tls_server_name="kapi.joulie.test", path=tmp_path / "n")
    ok(run(probe, "--kubeconfig", by_name, "list", "nodes"))

    insecure = write_kubeconfig(tmp_path / "insecure", {
        "server": apiserver.url, "insecure-skip-tls-verify": True}, token)
    ok(run(probe, "--kubeconfig", insecure, "list", "nodes"))


def test_configuration_errors_are_clear(apiserver, probe, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nclusters:\n- name: c\n  cluster: {server: [oops\n")
    err = failed(run(probe, "--kubeconfig", broken, "list", "nodes"), "ParseError", str(broken) + ":")

    cfg = apiserver.kubeconfig("viewer")
    failed(run(probe, "--kubeconfig", cfg, "--context", "nope", "list", "nodes"),
           "context \"nope\" not found")
    failed(run(probe, "--kubeconfig", tmp_path / "absent.yaml", "list", "nodes"), "IOError",
           "absent.yaml")
    failed(run(probe, "--kubeconfig", tmp_path, "list", "nodes"), "IOError")
    bad64 = write_kubeconfig(tmp_path / "b64", {"server": apiserver.url,
                                                "certificate-authority-data": "%%%"}, {})
    failed(run(probe, "--kubeconfig", bad64, "list", "nodes"), "not valid base64")
    assert "Traceback" not in err


def test_kubeconfig_list_merges_first_wins(apiserver, probe, tmp_path):
    good = apiserver.kubeconfig("viewer")
    shadowed = write_kubeconfig(tmp_path / "second", {"server": "https://127.0.0.1:1"},
                                {"token": "x"})
    ok(run(probe, "list", "nodes", env={"KUBECONFIG": "%s:%s" % (good, shadowed)}))
    failed(run(probe, "list", "nodes", env={"KUBECONFIG": "%s:%s" % (shadowed, good)}),
           "cannot connect")
