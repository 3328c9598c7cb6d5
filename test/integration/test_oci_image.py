"""scripts/build-oci-image.sh: the runtime image as an OCI image layout, built without Docker.

Checks the layout the way a registry client reads it (index.json → manifest → config and two
layers), with every digest and size recomputed, the first layer holding exactly the binary and
the second the IANA time-zone files the policy file's timeZone needs.

Run: JOULIE_BIN=build/joulie /usr/bin/python3 -m pytest test/integration/test_oci_image.py -q
"""

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(REPO, "scripts", "build-oci-image.sh")
EPOCH = 1764400000  # fixed SOURCE_DATE_EPOCH: the image must not depend on the clock


@pytest.fixture(scope="module")
def binary():
    path = os.environ.get("JOULIE_BIN") or os.path.join(REPO, "build", "joulie")
    if not os.path.isfile(path):
        pytest.skip("joulie binary not found at %s (build it, or set JOULIE_BIN)" % path)
    if subprocess.run(["ldd", path], capture_output=True).returncode == 0:
        # The sanitizer pass's binary: the image holds only the static release binary.
        pytest.skip("%s is dynamically linked (sanitizer build); the image test needs the "
                    "static release binary" % path)
    return os.path.abspath(path)


def build(binary, out, *extra, epoch=EPOCH):
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(epoch))
    return subprocess.run(["bash", SCRIPT, "--binary", binary, *extra, str(out)],
                          capture_output=True, text=True, env=env, timeout=120)


def blob(layout, digest):
    algo, hexdigest = digest.split(":", 1)
    assert algo == "sha256"
    with open(os.path.join(layout, "blobs", "sha256", hexdigest), "rb") as f:
        data = f.read()
    assert hashlib.sha256(data).hexdigest() == hexdigest, "blob content does not match its digest"
    return data


def fetch(layout, descriptor):
    """Reads the blob a descriptor points at, checking digest and size like a registry client."""
    data = blob(layout, descriptor["digest"])
    assert len(data) == descriptor["size"], "descriptor size mismatch for %s" % descriptor["digest"]
    return data


@pytest.fixture(scope="module")
def image(binary, tmp_path_factory):
    out = tmp_path_factory.mktemp("oci") / "layout"
    res = build(binary, out, "--tag", "test")
    assert res.returncode == 0, res.stderr
    digest = res.stdout.strip().splitlines()[-1]
    return {"dir": str(out), "digest": digest}


def read_image(layout):
    with open(os.path.join(layout, "oci-layout")) as f:
        assert json.load(f) == {"imageLayoutVersion": "1.0.0"}
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    assert index["schemaVersion"] == 2
    assert len(index["manifests"]) == 1
    desc = index["manifests"][0]
    assert desc["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    manifest = json.loads(fetch(layout, desc))
    config = json.loads(fetch(layout, manifest["config"]))
    return index, desc, manifest, config


def layer_tar(layout, manifest, index=0):
    assert len(manifest["layers"]) == 2, "the binary layer and the zoneinfo layer"
    layer = manifest["layers"][index]
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    return gzip.decompress(fetch(layout, layer))


def test_index_manifest_and_config(image):
    index, desc, manifest, config = read_image(image["dir"])
    assert desc["digest"] == image["digest"], "the script prints the manifest digest"
    assert desc["annotations"]["org.opencontainers.image.ref.name"] == "test"
    assert desc["platform"] == {"architecture": "amd64", "os": "linux"}
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    assert config["architecture"] == "amd64" and config["os"] == "linux"
    run = config["config"]
    assert run["Entrypoint"] == ["/joulie"]
    assert "Cmd" not in run, "the mode (operator|agent) is the argument, no default command"
    assert run["User"] == "65532:65532"
    labels = run["Labels"]
    assert labels["org.opencontainers.image.title"] == "joulie"
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.version"]
    assert labels["org.opencontainers.image.created"] == "2025-11-29T07:06:40Z"
    assert config["created"] == "2025-11-29T07:06:40Z"


def test_layer_is_exactly_the_binary(image, binary):
    _, _, manifest, config = read_image(image["dir"])
    raw = layer_tar(image["dir"], manifest)
    assert config["rootfs"]["type"] == "layers"
    assert config["rootfs"]["diff_ids"][0] == "sha256:" + hashlib.sha256(raw).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["joulie"], "the layer holds only /joulie"
        m = members[0]
        assert m.isreg()
        assert m.mode == 0o755
        assert (m.uid, m.gid) == (0, 0)
        assert m.mtime == EPOCH
        content = tar.extractfile(m).read()
    with open(binary, "rb") as f:
        assert content == f.read(), "layer bytes differ from the binary"


def test_zoneinfo_layer_carries_tzdata(image, binary, tmp_path):
    _, _, manifest, config = read_image(image["dir"])
    raw = layer_tar(image["dir"], manifest, 1)
    assert config["rootfs"]["diff_ids"][1] == "sha256:" + hashlib.sha256(raw).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        names = tar.getnames()
        assert names == sorted(names), "sorted: the layer is reproducible"
        assert "usr/share/zoneinfo/Europe/Rome" in names
        assert not [n for n in names if n.startswith(("usr/share/zoneinfo/right/",
                                                      "usr/share/zoneinfo/posix/"))]
        for m in tar.getmembers():
            assert (m.uid, m.gid, m.mtime) == (0, 0, EPOCH), m.name
        with open("/usr/share/zoneinfo/Europe/Rome", "rb") as f:
            assert tar.extractfile("usr/share/zoneinfo/Europe/Rome").read() == f.read()
        tar.extractall(str(tmp_path / "root"))
    # The image's binary with the image's zoneinfo accepts a policy file in Europe/Rome: it
    # gets past its configuration (exit 2 would be a usage error) to the missing cluster.
    policy = tmp_path / "policy.yaml"
    policy.write_text("timeZone: Europe/Rome\n")
    res = subprocess.run([binary, "operator", "--once", "--policy-config", str(policy),
                          "--kubeconfig", str(tmp_path / "none")], capture_output=True, text=True,
                         timeout=30, env={"ZONEINFO": str(tmp_path / "root/usr/share/zoneinfo")})
    assert res.returncode == 1, res.stderr
    res = subprocess.run([binary, "operator", "--once", "--policy-config", str(policy)],
                         capture_output=True, text=True, timeout=30,
                         env={"ZONEINFO": str(tmp_path / "empty")})
    assert res.returncode == 2 and "Europe/Rome" in res.stderr, res.stderr


def test_zoneinfo_none_leaves_only_the_binary(binary, tmp_path):
    res = build(binary, tmp_path / "bare", "--zoneinfo", "none")
    assert res.returncode == 0, res.stderr
    _, _, manifest, config = read_image(str(tmp_path / "bare"))
    assert len(manifest["layers"]) == 1 and len(config["rootfs"]["diff_ids"]) == 1


def test_same_input_gives_the_same_digest(binary, image, tmp_path):
    res = build(binary, tmp_path / "again", "--tag", "test")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == image["digest"]
    later = build(binary, tmp_path / "later", "--tag", "test", epoch=EPOCH + 1)
    assert later.stdout.strip() != image["digest"], "the timestamp is part of the image"


def test_strip_option_puts_a_stripped_copy_in(binary, tmp_path):
    if shutil.which("strip") is None:
        pytest.skip("strip (binutils) not installed")
    res = build(binary, tmp_path / "stripped", "--strip")
    assert res.returncode == 0, res.stderr
    _, _, manifest, _ = read_image(str(tmp_path / "stripped"))
    with tarfile.open(fileobj=io.BytesIO(layer_tar(str(tmp_path / "stripped"), manifest))) as tar:
        content = tar.extractfile("joulie").read()
    subprocess.run(["strip", "-o", str(tmp_path / "ref"), binary], check=True)
    assert content == (tmp_path / "ref").read_bytes()
    assert len(content) <= os.path.getsize(binary)


def test_image_binary_runs(image, tmp_path):
    """The file in the layer is a runnable, static executable."""
    _, _, manifest, _ = read_image(image["dir"])
    with tarfile.open(fileobj=io.BytesIO(layer_tar(image["dir"], manifest))) as tar:
        tar.extract("joulie", path=str(tmp_path))
    res = subprocess.run([str(tmp_path / "joulie"), "version"], capture_output=True, text=True,
                         timeout=30)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("joulie ")


def test_umoci_reads_the_layout(image, binary, tmp_path):
    """An independent OCI implementation (Debian's umoci) unpacks it to the same file and config."""
    if shutil.which("umoci") is None:
        pytest.skip("umoci not installed (apt-get install umoci)")
    bundle = tmp_path / "bundle"
    res = subprocess.run(["umoci", "unpack", "--rootless", "--image", image["dir"] + ":test",
                          str(bundle)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert sorted(os.listdir(bundle / "rootfs")) == ["joulie", "usr"]
    with open(binary, "rb") as f:
        assert (bundle / "rootfs" / "joulie").read_bytes() == f.read()
    with open("/usr/share/zoneinfo/Europe/Rome", "rb") as f:
        assert (bundle / "rootfs/usr/share/zoneinfo/Europe/Rome").read_bytes() == f.read()
    runtime = json.loads((bundle / "config.json").read_text())
    assert runtime["process"]["args"] == ["/joulie"]
    assert runtime["process"]["user"]["uid"] == 65532
    assert runtime["process"]["user"]["gid"] == 65532


def test_refuses_to_clobber_a_directory_that_is_not_a_layout(binary, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    res = build(binary, precious)
    assert res.returncode == 1
    assert "refusing" in res.stderr
    assert (precious / "notes.txt").read_text() == "keep me"


def test_refuses_a_dynamic_binary(tmp_path):
    dynamic = shutil.which("ls")
    if dynamic is None or subprocess.run(["ldd", dynamic], capture_output=True).returncode != 0:
        pytest.skip("no dynamically linked executable to try")
    res = build(dynamic, tmp_path / "dyn")
    assert res.returncode == 1
    assert "dynamically linked" in res.stderr
    assert not (tmp_path / "dyn").exists()


def test_missing_binary_is_a_clear_error(tmp_path):
    res = build(str(tmp_path / "nope"), tmp_path / "out")
    assert res.returncode == 1
    assert "binary not found" in res.stderr
