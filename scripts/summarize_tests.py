#!/usr/bin/env python3
"""Prints the closing line of a test run from meson's testlog.json files.

Counts individual test cases, not executables: Catch2's summary line for each unit
executable and pytest's summary line for the integration suite. Usage:
    summarize_tests.py LABEL=BUILD_DIR|LABEL=FILE [...]
A FILE holds JSON lines of the same shape as meson's testlog.json (name, result, stdout):
scripts/fuzz.sh --results writes one per fuzz target, each counted as one test.
Exit status 1 when anything failed or a test log is missing.
"""
import json
import os
import re
import sys

CATCH_ALL = re.compile(r"All tests passed \((\d+) assertions? in (\d+) test cases?\)")
CATCH_SOME = re.compile(r"test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed")
CATCH_FAILED_ONLY = re.compile(r"test cases:\s*(\d+)\s*\|\s*(\d+) failed")
PYTEST = re.compile(r"^(?:=+ )?(\d+ \w+(?:, \d+ \w+)*) in [\d.]+s", re.MULTILINE)


def count_catch(stdout):
    m = CATCH_ALL.search(stdout)
    if m:
        return int(m.group(2)), 0, 0
    m = CATCH_SOME.search(stdout)
    if m:
        return int(m.group(2)), int(m.group(3)), 0
    m = CATCH_FAILED_ONLY.search(stdout)
    if m:
        return 0, int(m.group(2)), 0
    return None


def count_pytest(stdout):
    found = None
    for m in PYTEST.finditer(stdout):
        found = m.group(1)
    if found is None:
        return None
    counts = {"passed": 0, "failed": 0, "skipped": 0, "error": 0, "errors": 0}
    for part in found.split(","):
        bits = part.strip().split(" ")
        if len(bits) >= 2 and bits[0].isdigit() and bits[1] in counts:
            counts[bits[1]] += int(bits[0])
    return counts["passed"], counts["failed"] + counts["error"] + counts["errors"], counts["skipped"]


def main(argv):
    total = [0, 0, 0]
    ok = True
    for arg in argv:
        label, _, build = arg.partition("=")
        log = build if os.path.isfile(build) else f"{build}/meson-logs/testlog.json"
        try:
            with open(log, encoding="utf-8") as f:
                lines = [json.loads(line) for line in f if line.strip()]
        except OSError as e:
            print(f"{label}: no test log ({e})")
            ok = False
            continue
        for t in lines:
            out = t.get("stdout", "") or ""
            counted = count_pytest(out) if "integration" in t["name"] else count_catch(out)
            if counted is None:
                # A crash or timeout before the runner printed its summary counts as one failure.
                counted = (1, 0, 0) if t["result"] == "OK" else (0, 1, 0)
            if t["result"] not in ("OK", "SKIP") and counted[1] == 0:
                counted = (counted[0], 1, counted[2])
            print(f"  {label:<10} {t['name']:<24} {t['result']:<8} "
                  f"{counted[0]} passed, {counted[1]} failed, {counted[2]} skipped")
            for i in range(3):
                total[i] += counted[i]
    if total[1] > 0:
        ok = False
    print(f"Totals: {total[0]} passed, {total[1]} failed, {total[2]} skipped")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
