"""The manifests' policy file: the ConfigMap carries examples/policy/default.yaml verbatim (the
flag defaults: an install changes nothing unasked), the
operator Deployment mounts it read-only and names it in POLICY_CONFIG, and the binary accepts
what the manifests ship (a usage error would crash-loop the operator)."""

import os
import subprocess

import pytest

from test_manifests import REPO, container, env_value, kustomize, one

EXAMPLE = os.path.join(REPO, "examples", "policy", "default.yaml")


@pytest.fixture(scope="module")
def base():
    return kustomize(os.path.join(REPO, "manifests", "base"))


def test_the_configmap_is_the_conservative_default(base):
    cm = one(base, "ConfigMap", "joulie-policy")
    assert cm["metadata"]["namespace"] == "joulie-system"
    with open(EXAMPLE, encoding="utf-8") as f:
        assert cm["data"]["policy.yaml"] == f.read()
    # The shipped default is the behaviour of the flag defaults, not a context-aware surprise.
    assert "policy: static_partition" in cm["data"]["policy.yaml"]


def test_the_operator_mounts_it_and_names_it(base):
    dep = one(base, "Deployment", "joulie-operator")
    pod = dep["spec"]["template"]["spec"]
    c = container(dep, "operator")
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert volumes["policy"]["configMap"]["name"] == "joulie-policy"
    assert mounts["policy"]["readOnly"] is True
    assert env_value(c, "POLICY_CONFIG") == mounts["policy"]["mountPath"] + "/policy.yaml"
    # A subPath mount would never see ConfigMap updates: the hot reload needs the directory.
    assert "subPath" not in mounts["policy"]


def test_the_binary_accepts_the_shipped_file(base, joulie_bin, tmp_path):
    f = tmp_path / "policy.yaml"
    f.write_text(one(base, "ConfigMap", "joulie-policy")["data"]["policy.yaml"])
    # Past the configuration (exit 2 would be a usage error), failing on the missing cluster.
    out = subprocess.run([joulie_bin, "operator", "--once", "--policy-config", str(f),
                          "--kubeconfig", str(tmp_path / "missing")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1, out.stderr
    assert "Kubernetes configuration" in out.stderr
