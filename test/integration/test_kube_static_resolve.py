"""The static binary resolves host names without NSS (docs/design.md#kubernetes-access): an
otherwise empty root directory holding only the static kube_probe, /etc/hosts, /etc/resolv.conf and
a kubeconfig reaches the test API server as https://kapi.joulie.test:PORT, with the CA verified."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import SERVER_HOSTNAME


@pytest.fixture
def static_probe(build_dir):
    path = build_dir / "test" / "support" / "kube_probe_static"
    if not path.exists():
        pytest.skip("kube_probe_static not built at %s (needs -Dstatic=true)" % path)
    return path


def chroot_command():
    """How to enter a root directory: chroot as root, else an unprivileged user namespace."""
    if os.geteuid() == 0 and shutil.which("chroot"):
        return [shutil.which("chroot")]
    unshare = shutil.which("unshare")
    if unshare and shutil.which("chroot"):
        probe = subprocess.run([unshare, "-r", "true"], capture_output=True)
        if probe.returncode == 0:
            return [unshare, "-r", shutil.which("chroot")]
    pytest.skip("neither root nor unprivileged user namespaces: cannot chroot")


def make_root(tmp_path, static_probe, apiserver, hosts):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    shutil.copy2(static_probe, root / "kube_probe")
    (root / "etc" / "hosts").write_text(hosts)
    (root / "etc" / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    apiserver.kubeconfig("viewer", server=apiserver.host_url, ca_data=True,
                         path=root / "kubeconfig")
    return root


def run_in(root, *args):
    return subprocess.run(chroot_command() + [str(root), "/kube_probe", "--kubeconfig",
                                              "/kubeconfig"] + list(args),
                          capture_output=True, text=True, timeout=60, env={})


def test_static_binary_is_static(static_probe):
    out = subprocess.run(["file", "-L", str(static_probe)], capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("the file(1) command is not available")
    assert "statically linked" in out.stdout


def test_reaches_the_api_server_by_host_name_in_an_empty_root(tmp_path, static_probe, apiserver):
    root = make_root(tmp_path, static_probe, apiserver,
                     "127.0.0.1 localhost\n127.0.0.1 %s\n" % SERVER_HOSTNAME)
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == [
        "etc", "etc/hosts", "etc/resolv.conf", "kube_probe", "kubeconfig"]
    r = run_in(root, "get", "nodes", "absent-node")
    # The server answered (404 through TLS with the CA verified for the name kapi.joulie.test).
    assert r.returncode == 1, r.stderr
    assert "NotFound (404)" in r.stderr, r.stderr
    apiserver.api("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                            "metadata": {"name": "static-n1"}})
    r = run_in(root, "get", "nodes", "static-n1")
    assert r.returncode == 0, r.stderr
    assert '"static-n1"' in r.stdout


def test_unknown_host_name_is_a_clear_error(tmp_path, static_probe, apiserver):
    root = make_root(tmp_path, static_probe, apiserver, "127.0.0.1 localhost\n")
    r = run_in(root, "--resolve-timeout", "1s", "--max-attempts", "1", "get", "nodes", "x")
    assert r.returncode == 1, r.stderr
    assert "cannot connect" in r.stderr and SERVER_HOSTNAME in r.stderr, r.stderr
