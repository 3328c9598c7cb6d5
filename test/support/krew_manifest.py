"""krew's own checks of a plugin manifest, ported so our tests refuse what `kubectl krew install`
and the krew-index CI refuse (krew itself cannot be installed here). Standard library only; the
manifest is parsed with our own YAML loader (kapi.yamlish, Kubernetes' YAML 1.1 rules).

Sources, in github.com/kubernetes-sigs/krew (read at db921d5, 2026-05):
* internal/index/validation/validate.go, ValidatePlugin / validatePlatform / validateFiles /
  validateSelector: the structural rules (check_structure below);
* internal/installation/semver/version.go with k8s.io/apimachinery's util/version ParseSemantic:
  the version (check_version);
* cmd/validate-krew-manifest/main.go: the krew-index CI (file name, every platform used, none
  overlapping, a LICENSE among the installed files);
* internal/installation/install.go and move.go: what an install does with files and bin
  (check_install: `to` a clean path, nothing moved out of the archive or the install folder, the
  bin inside the install folder and present after the moves).
krew checks neither the uri's scheme nor a shortDescription length (its developer guide only
asks for "a few words"), so neither do we."""

import fnmatch
import posixpath
import re

from kapi import yamlish

API_VERSION = "krew.googlecontainertools.github.com/v1alpha2"  # pkg/constants CurrentAPIVersion
KIND = "Plugin"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")  # Go's `^[\w-]+$` (\w is ASCII in RE2)
_WINDOWS_FORBIDDEN = {"CON", "PRN", "AUX", "NUL"} | {"COM%d" % i for i in range(1, 10)} | {
    "LPT%d" % i for i in range(1, 10)}
_SHA256 = re.compile(r"^[a-f0-9]{64}$")
# The <os, arch> pairs krew is released for (validate-krew-manifest's allPlatforms).
PLATFORMS = [("windows", "386"), ("windows", "amd64"), ("windows", "arm64"), ("linux", "386"),
             ("linux", "amd64"), ("linux", "arm"), ("linux", "arm64"), ("linux", "ppc64le"),
             ("darwin", "386"), ("darwin", "amd64"), ("darwin", "arm64")]
_LICENSE_FILES = {"license", "license.txt", "license.md", "licenses", "licenses.txt",
                  "licenses.md", "copying", "copying.txt"}
_SEMVER_EXTRA = re.compile(r"^(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
                           r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$")


class ManifestError(ValueError):
    """What krew would refuse, in its words."""


def load(text):
    return yamlish.load(text)


def check_version(version):
    """A leading 'v', then exactly MAJOR.MINOR.PATCH without zero-prefixed components, then an
    optional -pre-release and +build (ParseSemantic)."""
    if not isinstance(version, str) or not version.startswith("v"):
        raise ManifestError("version string %r not starting with 'v'" % (version,))
    m = re.match(r"^v([0-9]+(?:\.[0-9]+)*)(.*)$", version)
    if not m:
        raise ManifestError("could not parse %r as version" % version)
    parts = m.group(1).split(".")
    if len(parts) != 3:
        raise ManifestError("illegal version string %r" % version)
    if any(p != "0" and p.startswith("0") for p in parts):
        raise ManifestError("illegal zero-prefixed version component in %r" % version)
    extra = _SEMVER_EXTRA.match(m.group(2))
    if not extra:
        raise ManifestError("illegal version string %r" % version)
    for ident in (extra.group(1) or "").split(".") if extra.group(1) else []:
        if ident.isdigit() and ident != "0" and ident.startswith("0"):
            raise ManifestError("illegal zero-prefixed version component in %r" % version)


def _check_selector(sel):
    if not isinstance(sel, dict):
        raise ManifestError("invalid platform selector: nil selector is not supported")
    labels, exprs = sel.get("matchLabels"), sel.get("matchExpressions")
    if labels is None and not exprs:
        raise ManifestError("invalid platform selector: empty selector is not supported")
    keys = list(labels or {}) + [e.get("key") for e in exprs or [] if isinstance(e, dict)]
    for key in keys:
        if key not in ("os", "arch"):
            raise ManifestError('invalid platform selector: key "%s" not supported' % key)
    if labels is not None and len(labels) == 0:
        raise ManifestError("invalid platform selector: `matchLabels` specified but empty")
    if exprs is not None and len(exprs) == 0:
        raise ManifestError("invalid platform selector: `matchExpressions` specified but empty")


def _check_platform(p):
    if not isinstance(p, dict):
        raise ManifestError("platform (%r) is badly constructed" % (p,))
    if not p.get("uri"):
        raise ManifestError("`uri` has to be set")
    if not p.get("sha256"):
        raise ManifestError("`sha256` sum has to be set")
    if not _SHA256.match(str(p["sha256"])):
        raise ManifestError("`sha256` value %s is not valid, must match pattern ^[a-f0-9]{64}$"
                            % p["sha256"])
    if not p.get("bin"):
        raise ManifestError("`bin` has to be set")
    files = p.get("files")
    if files is not None:
        if len(files) == 0:
            raise ManifestError("`files` is invalid: `files` has to be unspecified or non-empty")
        for op in files:
            if not op.get("from"):
                raise ManifestError("`files` is invalid: `from` field has to be set")
            if not op.get("to"):
                raise ManifestError("`files` is invalid: `to` field has to be set")
    _check_selector(p.get("selector"))


def check_structure(manifest, name):
    """ValidatePlugin(name, manifest): `name` is the plugin's file name without .yaml."""
    if manifest.get("apiVersion") != API_VERSION:
        raise ManifestError("plugin manifest has apiVersion=%r, not supported in this version "
                            "of krew" % manifest.get("apiVersion"))
    if manifest.get("kind") != KIND:
        raise ManifestError('plugin manifest has kind=%r, but only "Plugin" is supported'
                            % manifest.get("kind"))
    if not _SAFE_NAME.match(name) or name.upper() in _WINDOWS_FORBIDDEN:
        raise ManifestError("the plugin name %r is not allowed, must match ^[\\w-]+$" % name)
    meta_name = (manifest.get("metadata") or {}).get("name")
    if meta_name != name:
        raise ManifestError("plugin should be named %r, not %r" % (name, meta_name))
    spec = manifest.get("spec") or {}
    short = spec.get("shortDescription") or ""
    if not short:
        raise ManifestError("should have a short description")
    if "\r" in short or "\n" in short:
        raise ManifestError("should not have line breaks in short description")
    if not spec.get("platforms"):
        raise ManifestError("should have a platform specified")
    if not spec.get("version"):
        raise ManifestError("should have a version specified")
    check_version(spec["version"])
    for p in spec["platforms"]:
        _check_platform(p)


def selects(selector, os_name, arch):
    """metav1.LabelSelector semantics on the labels {os, arch}."""
    labels = {"os": os_name, "arch": arch}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        op, key, values = e.get("operator"), e.get("key"), e.get("values") or []
        has = key in labels
        if op == "In" and not (has and labels[key] in values):
            return False
        if op == "NotIn" and has and labels[key] in values:
            return False
        if op == "Exists" and not has:
            return False
        if op == "DoesNotExist" and has:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False  # LabelSelectorAsSelector refuses the operator: matches nothing
    return True


def check_platforms_used_once(platforms):
    """Every platform selects a supported <os, arch>; no <os, arch> is selected twice."""
    for i, p in enumerate(platforms):
        if not any(selects(p["selector"], o, a) for o, a in PLATFORMS):
            raise ManifestError("spec.platform[%d]'s selector doesn't match any supported "
                                "platforms" % i)
    for o, a in PLATFORMS:
        hits = [i for i, p in enumerate(platforms) if selects(p["selector"], o, a)]
        if len(hits) > 1:
            raise ManifestError("multiple spec.platforms (at indexes %s) have overlapping "
                                "selectors that select %s/%s" % (hits, o, a))


def _inside(base, path):
    return not posixpath.relpath(path, base).startswith("..")


def _glob(pattern, entries):
    """filepath.Glob: `*` and `?` never cross a '/'."""
    parts = pattern.split("/")
    return sorted(e for e in entries if len(e.split("/")) == len(parts) and all(
        fnmatch.fnmatchcase(x, y) for x, y in zip(e.split("/"), parts)))


def installed_files(platform, archive_files):
    """The files an install puts in the plugin's folder (relative paths), from the archive's
    regular files (relative paths): krew's moveToInstallDir with its bounds checks. Raises
    ManifestError where krew's install fails."""
    stage, install = "/stage", "/install"
    entries = set(archive_files)
    for f in archive_files:  # the directories, which a direct move may name too
        parts = f.split("/")
        entries.update("/".join(parts[:i]) for i in range(1, len(parts)))
    out = set()
    for op in platform.get("files") or [{"from": "*", "to": "."}]:
        to = op["to"]
        if to != posixpath.normpath(to):
            raise ManifestError("the provided path is not clean, %r should be %r"
                                % (to, posixpath.normpath(to)))
        src = posixpath.normpath(posixpath.join(stage, op["from"]))
        rel = posixpath.relpath(src, stage)
        if rel in entries:  # a direct move of one file or folder
            dst = posixpath.normpath(posixpath.join(install, posixpath.basename(src) if to == "."
                                                    else to))
            moves = [(rel, dst)]
        else:
            matches = _glob(op["from"], entries)
            if not matches:
                raise ManifestError("no files in the plugin archive matched the glob pattern=%s"
                                    % op["from"])
            dst_dir = posixpath.normpath(posixpath.join(install, to))
            moves = [(m, posixpath.join(dst_dir, posixpath.basename(m))) for m in matches]
        for rel_src, dst in moves:
            if not (_inside(stage, posixpath.join(stage, rel_src)) and _inside(install, dst)):
                raise ManifestError("can't move, move target %s -> %s is out of bounds"
                                    % (rel_src, dst))
            below = [f for f in archive_files if f == rel_src or f.startswith(rel_src + "/")]
            out.update(posixpath.relpath(posixpath.join(dst, posixpath.relpath(f, rel_src)),
                                         install) for f in below)
    return out


def check_install(platform, archive_files):
    """The bin resolves inside the install folder to an installed file, and a LICENSE (or alike)
    is installed. Returns the installed files."""
    files = installed_files(platform, archive_files)
    bin_path = posixpath.normpath(posixpath.join("/install", platform["bin"]))
    if not _inside("/install", bin_path):
        raise ManifestError("the bin %r does not stay inside the installation folder"
                            % platform["bin"])
    if posixpath.relpath(bin_path, "/install") not in files:
        raise ManifestError("can't create symbolic link, source binary (%r) cannot be found in "
                            "extracted archive" % platform["bin"])
    if not any(posixpath.basename(f).lower() in _LICENSE_FILES for f in files):
        raise ManifestError("LICENSE (or alike) file is not extracted from the archive as part "
                            "of installation: could not find license file among %s"
                            % sorted(files))
    return files


def check(manifest, file_name, archive_files=None):
    """All of krew's checks on a parsed manifest named `file_name` (e.g. joulie.yaml); with
    `archive_files` (the archive's regular files), the install checks for every platform."""
    if not file_name.endswith(".yaml"):
        raise ManifestError('expected manifest extension ".yaml" but found %r'
                            % posixpath.splitext(file_name)[1])
    check_structure(manifest, file_name[:-len(".yaml")])
    platforms = manifest["spec"]["platforms"]
    check_platforms_used_once(platforms)
    if archive_files is not None:
        for p in platforms:
            check_install(p, archive_files)
