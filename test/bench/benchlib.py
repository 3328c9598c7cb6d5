"""Shared helpers of the benchmark scripts (docs/design.md#quality-bars): process figures, machine
load, tables.

Benchmarks are scripts, not timed assertions: each prints a table of figures, their target and a
verdict, and can also write its rows as JSON (``--json FILE``) for scripts/bench.sh. The machine
is shared (other builds may be running), so every table also records the load average seen during
the run; a figure measured under load is an upper bound of what an idle machine gives.
"""

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SUPPORT_DIR = HERE.parent / "support"
INTEGRATION_DIR = HERE.parent / "integration"
sys.path[:0] = [str(SUPPORT_DIR), str(INTEGRATION_DIR), str(HERE)]

import polling  # noqa: E402 (test/support is on the path only from here)

PYTHON = "/usr/bin/python3"
TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


# ----------------------------------------------------------------------------------- processes
def rss_bytes(pid):
    """Resident set size of ``pid`` now (VmRSS)."""
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for pid %d" % pid)


def hwm_bytes(pid):
    """Peak resident set size of ``pid`` so far (VmHWM)."""
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM for pid %d" % pid)


def cpu_seconds(pid):
    """User + system CPU time of ``pid`` (all its threads) from /proc/<pid>/stat."""
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def wait_for(predicate, timeout, interval=0.05, what="a condition"):
    """Poll ``predicate`` until it returns a truthy value (returned) or ``timeout`` passes."""
    return polling.wait_for(predicate, timeout, interval, what)


def stop(proc, timeout=20):
    """SIGTERM a child we started, then SIGKILL it if it does not exit."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def log_port(stderr_path, proc, pattern=r"serving /metrics.* port=(\d+)", timeout=60):
    """The metrics port a joulie process logged (it binds 127.0.0.1:0)."""
    def port():
        if proc.poll() is not None:
            raise RuntimeError("process exited with %s:\n%s" % (
                proc.returncode, Path(stderr_path).read_text(errors="replace")[-3000:]))
        m = re.search(pattern, Path(stderr_path).read_text(errors="replace"))
        return int(m.group(1)) if m else None
    return wait_for(port, timeout, what="the metrics port in %s" % stderr_path)


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=30) as r:
        return r.read().decode()


def metric(text, name, labels=""):
    """Value of one series in Prometheus text (``labels`` is the literal ``{...}`` or empty)."""
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else None


# ------------------------------------------------------------------------------------- machine
def loadavg():
    """The 1-minute load average."""
    return float(Path("/proc/loadavg").read_text().split()[0])


class LoadSampler:
    """Samples the 1-minute load average while a benchmark runs (call ``sample()`` in loops,
    or rely on ``start``/``stop`` marks)."""

    def __init__(self):
        self.samples = [loadavg()]

    def sample(self):
        self.samples.append(loadavg())

    def describe(self):
        self.sample()
        return "%.2f-%.2f (1-min load avg; %d cores)" % (min(self.samples), max(self.samples),
                                                        os.cpu_count())

    def high(self):
        return max(self.samples) > 0.5 * (os.cpu_count() or 1)


def machine():
    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) * 1024
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    osname = ""
    if Path("/etc/os-release").exists():
        m = re.search(r'^PRETTY_NAME="?([^"\n]*)', Path("/etc/os-release").read_text(), re.M)
        osname = m.group(1) if m else ""
    return "%s, %s, %d cores (%s), %.0f GiB RAM" % (osname, platform.release(), os.cpu_count(),
                                                      model, mem / 1024 ** 3)


def default_binary():
    for candidate in (ROOT / "build-bench" / "joulie", ROOT / "build" / "joulie"):
        if candidate.exists():
            return str(candidate)
    return str(ROOT / "build-bench" / "joulie")


def default_probe():
    for candidate in (ROOT / "build-bench" / "test" / "support" / "informer_probe",
                      ROOT / "build" / "test" / "support" / "informer_probe"):
        if candidate.exists():
            return str(candidate)
    return str(ROOT / "build-bench" / "test" / "support" / "informer_probe")


# --------------------------------------------------------------------------------------- table
class Table:
    """Rows of (figure, value, target, verdict, note); verdict is met / MISSED / info."""

    def __init__(self, title, timed=True):
        self.title = title
        self.timed = timed
        self.rows = []
        self.notes = []
        self.load = LoadSampler()

    def info(self, figure, value, note=""):
        self.rows.append({"figure": figure, "value": value, "target": "", "verdict": "info",
                          "note": note})

    def check(self, figure, value, shown, target, ok, note=""):
        """A figure with a target: ``shown`` is the printed value, ``ok`` whether it is met."""
        self.rows.append({"figure": figure, "value": value, "shown": shown, "target": target,
                          "verdict": "met" if ok else "MISSED", "note": note})

    def note(self, text):
        self.notes.append(text)

    def print(self, json_path=None):
        load = self.load.describe()
        if self.timed and self.load.high():
            self.note("load average above 0.5 per core during the run: timings and CPU figures "
                      "are upper bounds of an idle machine's")
        rows = [(r["figure"], r.get("shown", str(r["value"])), r["target"], r["verdict"],
                 r["note"]) for r in self.rows]
        head = ("figure", "value", "target", "verdict", "note")
        widths = [max(len(str(x[i])) for x in rows + [head]) for i in range(5)]
        print("\n== %s" % self.title)
        print("machine: %s" % machine())
        print("date: %s   load during run: %s" % (time.strftime("%Y-%m-%d %H:%M %Z"), load))
        for row in [head] + rows:
            print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
        for n in self.notes:
            print("note: %s" % n)
        sys.stdout.flush()
        if json_path:
            with open(json_path, "w") as f:
                json.dump({"title": self.title, "machine": machine(), "load": load,
                           "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "rows": self.rows,
                           "notes": self.notes}, f, indent=1)
        return 0 if all(r["verdict"] != "MISSED" for r in self.rows) else 1


def mib(n):
    return "%.1f MiB" % (n / MIB)


def which(name):
    return shutil.which(name)
