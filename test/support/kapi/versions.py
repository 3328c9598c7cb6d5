"""Which Kubernetes version the server plays (``--server-version``), and what that version knows.

A real API server of version 1.N refuses, under ``fieldValidation=Strict`` (kubectl's default
since 1.25), every field its built-in types do not have yet; it serves CRD field selectors only
where the feature exists and is on. Tests that apply Joulie's manifests against each played
version catch a manifest that uses a field newer than the oldest supported server.

Feature gates of the versions played (``--feature-gates Name=true`` turns an alpha one on):

- ``CustomResourceFieldSelectors`` (CRD ``selectableFields``): the field exists from 1.30
  (alpha, off by default: the server drops it), beta and on from 1.31, GA in 1.32.
- CEL validation rules (``x-kubernetes-validations``): beta and on since 1.25 (the oldest
  version played); ``messageExpression`` 1.26; ``reason``/``fieldPath`` 1.28;
  ``optionalOldSelf`` 1.29.
"""

import re

# minor -> the patch release reported by /version (the last of each line, as a cluster would run).
RELEASES = {
    25: "v1.25.16",
    26: "v1.26.15",
    27: "v1.27.16",
    28: "v1.28.15",
    29: "v1.29.14",
    30: "v1.30.14",
    31: "v1.31.10",
    32: "v1.32.6",
}
OLDEST = min(RELEASES)
NEWEST = max(RELEASES)

# Gate -> (minor where the field/API appears, minor where it is on by default).
GATES = {
    "CustomResourceFieldSelectors": (30, 31),
}


class ServerVersion:
    """One played version: ``minor`` (25..32), ``git_version``, and feature-gate overrides."""

    def __init__(self, text=None, feature_gates=None):
        minor = parse(text) if text else NEWEST
        self.minor = minor
        self.git_version = RELEASES[minor]
        self.gates = {}
        for name, enabled in (feature_gates or {}).items():
            if name not in GATES:
                raise ValueError("unknown feature gate %s (known: %s)" % (name, ", ".join(GATES)))
            if minor < GATES[name][0]:
                raise ValueError("feature gate %s does not exist in 1.%d" % (name, minor))
            self.gates[name] = enabled

    def __str__(self):
        return "1.%d" % self.minor

    def at_least(self, minor):
        return self.minor >= minor

    def enabled(self, gate):
        """Whether a feature gate is on (its default for this version unless overridden)."""
        appears, default_on = GATES[gate]
        if self.minor < appears:
            return False
        return self.gates.get(gate, self.minor >= default_on)

    def version_document(self):
        """The body of GET /version."""
        return {
            "major": "1",
            "minor": str(self.minor),
            "gitVersion": self.git_version,
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z",
            "goVersion": "go1.22.0",
            "compiler": "gc",
            "platform": "linux/amd64",
        }


def parse(text):
    """``1.29``, ``v1.29``, ``1.29.3`` or ``v1.29.3`` -> 29; ValueError outside the played range."""
    m = re.match(r"^v?1\.(\d+)(?:\.\d+)?$", text.strip())
    if not m:
        raise ValueError("server version %r: expected 1.N (for example 1.29)" % text)
    minor = int(m.group(1))
    if minor not in RELEASES:
        raise ValueError("server version 1.%d is not played (1.%d to 1.%d)" % (minor, OLDEST, NEWEST))
    return minor


def parse_gates(text):
    """``A=true,B=false`` -> {"A": True, "B": False}."""
    out = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep or value.strip().lower() not in ("true", "false"):
            raise ValueError("feature gate %r: expected Name=true|false" % part)
        out[name.strip()] = value.strip().lower() == "true"
    return out
