"""Our port of krew's manifest checks (test/support/krew_manifest.py) refuses what krew refuses
and takes what it takes, so the packaging test in test_kubectl_plugin.py is as strict as
`kubectl krew install` and the krew-index CI. No binary needed: the template
plugins/krew/joulie.yaml is filled the way scripts/krew-package.sh fills it."""

import copy
import os

import pytest

import krew_manifest
from krew_manifest import ManifestError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHA = "0123456789abcdef" * 4
ARCHIVE = ["kubectl-joulie", "LICENSE"]


def filled(homepage=""):
    text = open(os.path.join(REPO, "plugins", "krew", "joulie.yaml")).read()
    text = (text.replace("@VERSION@", "v0.1.0").replace("@URI@", "https://example.org/a.tar.gz")
            .replace("@SHA256@", SHA).replace("@HOMEPAGE@", homepage))
    if not homepage:  # krew-package.sh drops the line
        text = text.replace('  homepage: ""\n', "")
    return krew_manifest.load(text)


def platform(m):
    return m["spec"]["platforms"][0]


def test_the_filled_template_passes_every_krew_check():
    krew_manifest.check(filled(), "joulie.yaml", ARCHIVE)
    krew_manifest.check(filled("https://example.org/joulie"), "joulie.yaml", ARCHIVE)
    assert krew_manifest.check_install(platform(filled()), ARCHIVE) == {"kubectl-joulie",
                                                                       "LICENSE"}


def _set(path, value):
    def change(m):
        *parents, last = path
        target = m
        for p in parents:
            target = target[p]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return change


PLATFORM = ("spec", "platforms", 0)
# Each a rule of krew's validate.go / validate-krew-manifest / install (see krew_manifest.py),
# broken once: (what changes, the words of krew's refusal).
BROKEN = [
    (_set(("apiVersion",), "krew.googlecontainertools.github.com/v1alpha1"), "apiVersion"),
    (_set(("kind",), "Plug"), "kind"),
    (_set(("metadata", "name"), "kubectl-joulie"), "should be named"),
    (_set(("spec", "shortDescription"), None), "short description"),
    (_set(("spec", "shortDescription"), "two\nlines"), "line breaks"),
    (_set(("spec", "platforms"), []), "platform specified"),
    (_set(("spec", "version"), None), "version specified"),
    (_set(("spec", "version"), "0.1.0"), "not starting with 'v'"),
    (_set(("spec", "version"), "v0.1"), "illegal version"),
    (_set(("spec", "version"), "v01.1.0"), "zero-prefixed"),
    (_set(("spec", "version"), "v0.1.0-rc_1"), "illegal version"),
    (_set(PLATFORM + ("uri",), ""), "`uri`"),
    (_set(PLATFORM + ("sha256",), None), "`sha256` sum"),
    (_set(PLATFORM + ("sha256",), SHA.upper()), "is not valid"),
    (_set(PLATFORM + ("sha256",), SHA[:-1]), "is not valid"),
    (_set(PLATFORM + ("bin",), ""), "`bin`"),
    (_set(PLATFORM + ("files",), []), "unspecified or non-empty"),
    (_set(PLATFORM + ("files",), [{"from": "", "to": "."}]), "`from`"),
    (_set(PLATFORM + ("files",), [{"from": "LICENSE"}]), "`to`"),
    (_set(PLATFORM + ("selector",), None), "nil selector"),
    (_set(PLATFORM + ("selector",), {}), "empty selector"),
    (_set(PLATFORM + ("selector",), {"matchLabels": {"os": "linux", "distro": "debian"}}),
     'key "distro" not supported'),
    (_set(PLATFORM + ("selector",), {"matchLabels": {"os": "plan9"}}),
     "doesn't match any supported"),
]


@pytest.mark.parametrize("change,words", BROKEN, ids=[w for _, w in BROKEN])
def test_each_krew_rule_refuses(change, words):
    m = copy.deepcopy(filled())
    change(m)
    with pytest.raises(ManifestError, match=words.replace("(", r"\(")):
        krew_manifest.check(m, "joulie.yaml", ARCHIVE)


def test_names_and_platform_sets():
    with pytest.raises(ManifestError, match="not allowed"):
        m = filled()
        m["metadata"]["name"] = "joulie.plugin"
        krew_manifest.check(m, "joulie.plugin.yaml")
    with pytest.raises(ManifestError, match="should be named"):
        krew_manifest.check(filled(), "kubectl-joulie.yaml")
    with pytest.raises(ManifestError, match="manifest extension"):
        krew_manifest.check(filled(), "joulie.yml")
    m = filled()
    linux = copy.deepcopy(platform(m))
    linux["selector"] = {"matchExpressions": [{"key": "os", "operator": "In",
                                               "values": ["linux"]}]}
    m["spec"]["platforms"].append(linux)
    with pytest.raises(ManifestError, match="overlapping"):
        krew_manifest.check(m, "joulie.yaml")
    darwin = copy.deepcopy(platform(filled()))
    darwin["selector"] = {"matchLabels": {"os": "darwin", "arch": "arm64"}}
    m["spec"]["platforms"][1] = darwin
    krew_manifest.check(m, "joulie.yaml")


def test_what_an_install_does_with_files_and_bin():
    p = platform(filled())
    bad = [({"files": [{"from": "kubectl-joulie", "to": "./kubectl-joulie"}]}, "not clean"),
           ({"files": [{"from": "kubectl-joulie", "to": "../outside"}]}, "out of bounds"),
           ({"files": [{"from": "missing-*", "to": "."}]}, "matched the glob"),
           ({"bin": "../kubectl-joulie"}, "inside the installation folder"),
           ({"bin": "bin/kubectl-joulie"}, "cannot be found"),
           ({"files": [{"from": "kubectl-joulie", "to": "."}]}, "LICENSE")]
    for change, words in bad:
        q = dict(p, **change)
        with pytest.raises(ManifestError, match=words):
            krew_manifest.check_install(q, ARCHIVE)
    # What krew does take: no files (everything, "*" to "."), a glob, a renamed target.
    assert krew_manifest.check_install(dict(p, files=None), ARCHIVE) == set(ARCHIVE)
    nested = ["joulie-0.1.0/kubectl-joulie", "joulie-0.1.0/LICENSE", "joulie-0.1.0/README.md"]
    q = dict(p, files=[{"from": "joulie-0.1.0/*", "to": "."}])
    assert krew_manifest.check_install(q, nested) == {"kubectl-joulie", "LICENSE", "README.md"}
    q = dict(p, bin="bin/kj", files=[{"from": "joulie-0.1.0/kubectl-joulie", "to": "bin/kj"},
                                     {"from": "joulie-0.1.0/LICENSE", "to": "."}])
    assert krew_manifest.check_install(q, nested) == {"bin/kj", "LICENSE"}
