"""docs/configuration.md is checked against `joulie <mode> --help`.

The tables are what operators read when they write manifests, so a flag, environment variable
or default that drifts from the binary is a failing test, not a silent doc bug.
"""
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"
NONE = "—"


def joulie_bin():
    return os.environ.get("JOULIE_BIN", str(ROOT / "build" / "joulie"))


def help_flags(mode):
    """{flag: (env or None, default or None)} from `joulie MODE --help`."""
    out = subprocess.run([joulie_bin(), mode, "--help"], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    flags = {}
    current = None
    for line in out.splitlines():
        m = re.match(r"^\s{2}(--[a-z0-9-]+)\b", line)
        if m:
            current = m.group(1)
            flags[current] = (None, None)
        bracket = re.search(r"\[(.*)\]\s*$", line)
        if current and bracket:
            env = default = None
            for part in bracket.group(1).split(";"):
                part = part.strip()
                if part.startswith("env "):
                    env = part[4:].strip()
                elif part.startswith("default "):
                    default = part[8:].strip()
            flags[current] = (env, default)
    return flags


def doc_tables():
    """{section title: {flag: (env or None, default or None)}} from docs/configuration.md."""
    tables = {}
    section = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if section and line.startswith("| `--") and len(cells) >= 4:
            flag = cells[0].strip("`")
            env = None if cells[1] == NONE else cells[1].strip("`")
            default = None if cells[2] == NONE else cells[2].strip("`")
            tables.setdefault(section, {})[flag] = (env, default)
    return tables


def first_word(text):
    return re.split(r"[\s(]", text.strip().strip("`"), maxsplit=1)[0]


@pytest.fixture(scope="module")
def tables():
    if not Path(joulie_bin()).exists():
        pytest.skip(f"joulie binary not built at {joulie_bin()}")
    return doc_tables()


@pytest.mark.parametrize("mode", ["operator", "agent"])
def test_every_flag_in_help_is_documented_with_the_same_env_and_default(tables, mode):
    documented = dict(tables.get("Global flags (both modes)", {}))
    documented.update(tables.get(f"`joulie {mode}`", {}))
    assert documented, f"no tables for {mode} found in {DOC}"
    actual = help_flags(mode)
    actual.pop("--help", None)

    assert sorted(set(actual) - set(documented)) == [], "flags missing from docs/configuration.md"
    assert sorted(set(documented) - set(actual)) == [], "documented flags the binary lacks"
    for flag, (env, default) in actual.items():
        doc_env, doc_default = documented[flag]
        assert doc_env == env, f"{flag}: docs say env {doc_env}, --help says {env}"
        if doc_default is not None and default is not None:
            assert first_word(doc_default) == first_word(default), \
                f"{flag}: docs say default {doc_default!r}, --help says {default!r}"


def test_parser_reads_the_tables():
    # Guards the test itself: if the table format changed, the comparisons above would be vacuous.
    t = doc_tables()
    assert t["`joulie operator`"]["--policy"] == ("POLICY_TYPE", "static_partition")
    assert t["`joulie agent`"]["--interval"][0] == "RECONCILE_INTERVAL"
