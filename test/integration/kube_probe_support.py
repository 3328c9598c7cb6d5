"""Helpers shared by the tests of the Kubernetes transport through ``kube_probe``
(test_kube_auth.py, test_kube_requests.py, test_kube_robustness.py).

* :func:`built_probe` -- the path of a probe in the build directory, skipping when it is not built
  (the ``kube_probe`` and ``informer_probe`` fixtures of conftest.py use it).
* :class:`KubeProbe` -- runs ``kube_probe`` to completion in a clean environment;
  ``probe.with_args("--kubeconfig", cfg)`` binds leading arguments.
* :func:`ok` / :func:`failed` -- check a run's exit code (0, or 1 = a typed error) and return its
  stdout / stderr.
* :func:`write_kubeconfig` / :func:`own_kubeconfig` -- kubeconfig files, the latter with the
  credentials of a ``kube`` fixture (test server or external cluster) and optional overrides.
"""

import os
import subprocess
from pathlib import Path

import pytest

from harness import to_yaml


def built_probe(build_dir, name):
    """``build_dir/test/support/<name>``; skips the test when it has not been built."""
    path = Path(build_dir) / "test" / "support" / name
    if not path.exists():
        pytest.skip("%s not built at %s" % (name, path))
    return path


class KubeProbe:
    """``kube_probe`` with optional leading arguments. Calling it runs it to completion with a
    clean environment (no KUBECONFIG, no HOME configuration) plus ``env``; ``os.fspath`` gives the
    executable (for ``procs.start``)."""

    def __init__(self, path, *leading):
        self.path = Path(path)
        self.leading = [str(a) for a in leading]

    def with_args(self, *leading):
        """The same probe, always started with ``leading`` before the call's own arguments."""
        return KubeProbe(self.path, *(self.leading + [str(a) for a in leading]))

    def __call__(self, *args, env=None, timeout=60):
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent"}
        full_env.update(env or {})
        return subprocess.run([str(self.path)] + self.leading + [str(a) for a in args],
                              capture_output=True, text=True, env=full_env, timeout=timeout)

    def __fspath__(self):
        return str(self.path)

    __str__ = __fspath__


def _outputs(result):
    return "stdout: %s\nstderr: %s" % (result.stdout[-2000:], result.stderr[-2000:])


def ok(result):
    """The stdout of a run that must have succeeded (exit 0)."""
    assert result.returncode == 0, "probe failed (%d):\n%s" % (result.returncode, _outputs(result))
    return result.stdout


def failed(result, *fragments):
    """The stderr of a run that must have ended with a typed error (exit 1, not a usage error or
    a signal) whose message contains every one of ``fragments``."""
    assert result.returncode == 1, "expected exit 1 (a typed error), got %d:\n%s" % (
        result.returncode, _outputs(result))
    for f in fragments:
        assert f in result.stderr, "%r not in stderr: %s" % (f, result.stderr)
    return result.stderr


def write_kubeconfig(path, cluster, user):
    """A one-context kubeconfig with the ``cluster`` and ``user`` entries; returns ``path``."""
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "t",
           "clusters": [{"name": "c", "cluster": cluster}],
           "users": [{"name": "u", "user": user}],
           "contexts": [{"name": "t", "context": {"cluster": "c", "user": "u"}}]}
    Path(path).write_text(to_yaml(doc))
    return path


def own_kubeconfig(kube, path, cluster=None, drop=(), user=None):
    """A kubeconfig for ``kube``'s server (``kube.cluster_entry()`` with the ``drop`` keys removed
    and the ``cluster`` keys set) and, unless ``user`` replaces them, its own credentials."""
    c = kube.cluster_entry()
    for key in drop:
        c.pop(key, None)
    c.update(cluster or {})
    return write_kubeconfig(path, c, kube.user_entry() if user is None else user)


#: The keys of a kubeconfig cluster entry that say which server certificate to trust.
TRUST_KEYS = ("certificate-authority", "certificate-authority-data", "insecure-skip-tls-verify")


def require_tls(kube):
    if not kube.url.startswith("https:"):
        pytest.skip("the API server is not reached over HTTPS (%s)" % kube.url)


def require_token(kube):
    """``kube``'s own bearer token; skips when its credentials are not a token."""
    token = kube.bearer_token()
    if not token:
        pytest.skip("the kubeconfig's credentials are not a bearer token")
    return token
