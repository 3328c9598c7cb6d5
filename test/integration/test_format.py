"""Every tracked C++ file under src/, include/ and test/ is formatted per the root .clang-format
(vendored subprojects/ are outside these folders and carry their own .clang-format that turns
formatting off). A drift fails the suite with the files and the command that fixes them, so a
format-on-save by the next engineer changes only their own lines."""

import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FOLDERS = ("src", "include", "test")
SUFFIXES = (".cpp", ".hpp", ".h", ".cc")
# The style file was applied with Debian 12's clang-format 14 (scripts/deps.sh installs it);
# another major version formats some constructs differently and would report drift that is not.
MAJOR = 14


def cpp_files():
    """The tracked C++ files of FOLDERS, relative to ROOT; outside a git checkout (a source
    tarball), every such file below them."""
    try:
        out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--", *FOLDERS],
                             capture_output=True, text=True, check=True).stdout
        files = [f for f in out.split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = [os.path.relpath(os.path.join(d, f), ROOT)
                 for folder in FOLDERS for d, _, names in os.walk(os.path.join(ROOT, folder))
                 for f in names]
    return sorted(f for f in files if f.endswith(SUFFIXES))


def unformatted(clang_format, files):
    """The files whose formatting differs from .clang-format, each with clang-format's first
    complaint (file:line:col), from one --dry-run per batch (about 3 s for the whole tree)."""
    first = {}
    for i in range(0, len(files), 200):
        run = subprocess.run([clang_format, "--dry-run", "--Werror", *files[i:i + 200]],
                             cwd=ROOT, capture_output=True, text=True)
        for line in run.stderr.splitlines():
            m = re.match(r"^(.+?):(\d+):(\d+): (?:error|warning): ", line)
            if m:
                first.setdefault(os.path.relpath(os.path.join(ROOT, m.group(1)), ROOT),
                                 "%s:%s:%s" % m.groups())
        assert run.returncode == 0 or first, "clang-format failed:\n" + run.stderr[-2000:]
    return first


def test_cpp_sources_are_clang_formatted():
    if os.environ.get("JOULIE_SANITIZER_PASS") == "1":
        pytest.skip("a source check: the release pass has run it")
    clang_format = shutil.which("clang-format")
    assert clang_format, "clang-format is not installed: run scripts/deps.sh (Debian: clang-format)"
    version = subprocess.run([clang_format, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"version (\d+)\.", version)
    if not m or int(m.group(1)) != MAJOR:
        pytest.skip("clang-format %d formats the tree; this is %s" % (MAJOR, version.strip()))
    files = cpp_files()
    assert len(files) > 100, "found only %d C++ files under %s" % (len(files), FOLDERS)
    bad = unformatted(clang_format, files)
    assert not bad, (
        "%d C++ file(s) not formatted per .clang-format (first difference of each):\n  %s\n"
        "Fix from the repository root with:\n  clang-format -i %s"
        % (len(bad), "\n  ".join(bad[f] for f in sorted(bad)), " ".join(sorted(bad))))
