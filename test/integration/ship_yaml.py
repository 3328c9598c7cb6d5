"""YAML → JSON for the deployment-artefact tests, with kubectl's own YAML parser.

The integration tests use the standard library only, so YAML is decoded by `kubectl patch --local`
with an empty merge patch: offline, no API server, and the same parser that reads these files when
someone runs `kubectl apply` (YAML 1.1 surprises such as `y` → true show up here too).
"""

import json
import os
import shutil
import subprocess
import tempfile

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def kubectl_binary():
    """Path of kubectl, or None (tests that need it skip with a message)."""
    return shutil.which("kubectl") or (os.path.exists("/usr/bin/kubectl") and "/usr/bin/kubectl") or None


def require_kubectl():
    path = kubectl_binary()
    if path is None:
        pytest.skip("kubectl not installed: the deployment-artefact tests need it to parse YAML and "
                    "render kustomizations")
    return path


def _offline_env():
    env = dict(os.environ)
    env["KUBECONFIG"] = os.devnull  # never talk to a cluster from these helpers
    return env


def _decode_stream(text):
    decoder, pos, docs = json.JSONDecoder(), 0, []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return docs
        obj, pos = decoder.raw_decode(text, pos)
        if obj.get("kind") == "List" and "items" in obj:
            docs.extend(obj["items"])
        else:
            docs.append(obj)


def load_yaml_file(path):
    """Every object of a (multi-document) YAML manifest file, as dicts."""
    kubectl = require_kubectl()
    out = subprocess.run([kubectl, "patch", "--local", "-f", path, "--type", "merge", "-p", "{}",
                          "-o", "json"], capture_output=True, text=True, env=_offline_env(),
                         timeout=60)
    assert out.returncode == 0, "kubectl could not parse %s: %s" % (path, out.stderr.strip())
    return _decode_stream(out.stdout)


def load_yaml_text(text):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
        name = f.name
    try:
        return load_yaml_file(name)
    finally:
        os.unlink(name)


def kustomize(directory):
    """`kubectl kustomize <directory>` as a list of objects (fails the test when it does not render)."""
    kubectl = require_kubectl()
    out = subprocess.run([kubectl, "kustomize", directory], capture_output=True, text=True,
                         env=_offline_env(), timeout=120)
    assert out.returncode == 0, "kubectl kustomize %s failed: %s" % (directory, out.stderr.strip())
    assert out.stdout.strip(), "kubectl kustomize %s rendered nothing" % directory
    return load_yaml_text(out.stdout)
