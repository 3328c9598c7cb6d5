#!/usr/bin/python3
"""docs/design.md#quality-bars: the joulie executable is static (`ldd` says "not a dynamic
executable") and a stripped copy is at most 15 MiB.

    test/bench/bench_binary.py [--bin build-bench/joulie] [--json FILE]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import benchlib
from benchlib import MIB, Table


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=benchlib.default_binary())
    p.add_argument("--json")
    a = p.parse_args()
    t = Table("binary: static and small (%s)" % a.bin, timed=False)
    if not os.path.exists(a.bin):
        raise SystemExit("no binary at %s (build it: ninja -C build-bench joulie)" % a.bin)
    ldd = subprocess.run(["ldd", a.bin], capture_output=True, text=True)
    said = (ldd.stdout + ldd.stderr).strip().splitlines()
    static = any("not a dynamic executable" in line or "statically linked" in line for line in said)
    t.check("ldd", said[0] if said else "", said[0].strip() if said else "(no output)",
            "not a dynamic executable", static)
    kind = subprocess.run(["file", "-b", a.bin], capture_output=True, text=True).stdout.strip()
    t.info("file(1)", kind.split(",")[0] + ", " + ", ".join(
        x.strip() for x in kind.split(",") if "linked" in x or "stripped" in x))
    size = os.path.getsize(a.bin)
    t.info("size as built", "%s (%d bytes)" % (benchlib.mib(size), size), "symbols included")
    with tempfile.TemporaryDirectory() as d:
        copy = os.path.join(d, "joulie")
        shutil.copy(a.bin, copy)
        subprocess.run(["strip", copy], check=True)
        stripped = os.path.getsize(copy)
    t.check("stripped size", stripped, "%s (%d bytes)" % (benchlib.mib(stripped), stripped),
            "<= 15 MiB", stripped <= 15 * MIB)
    return t.print(a.json)


if __name__ == "__main__":
    sys.exit(main())
