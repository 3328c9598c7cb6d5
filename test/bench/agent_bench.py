#!/usr/bin/python3
"""Agent benchmarks (SPEC §7), printed as a table:

  * pool mode: N nodes (default 5000) in one process against the HTTP power simulator —
    the time of a full pass (joulie_agent_last_pass_duration_seconds) and RSS;
  * daemonset mode on a fake host RAPL tree — steady-state RSS and CPU time per reconcile.

    PYTHONPATH=test/support:test/integration test/bench/agent_bench.py [--nodes 5000] [--bin build/joulie]
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "support"), str(HERE.parent / "integration")]

from fake_sysfs import FakeSysfs  # noqa: E402
from harness import PYTHON, SUPPORT_DIR, ApiServer, Certs, wait_for  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def rss_split_mib(pid):
    """(anonymous, file-backed) resident MiB: shared libraries count as file-backed."""
    anon = files = 0
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("RssAnon:"):
            anon = int(line.split()[1]) / 1024.0
        elif line.startswith("RssFile:"):
            files = int(line.split()[1]) / 1024.0
    return anon, files


def cpu_seconds(pid):
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        return r.read().decode()


def metric(text, name, labels=""):
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else None


def metrics_port(stderr_path, proc, timeout=30):
    def port():
        assert proc.poll() is None, Path(stderr_path).read_text()[-3000:]
        m = re.search(r"serving /metrics.* port=(\d+)", Path(stderr_path).read_text())
        return int(m.group(1)) if m else None
    return wait_for(port, timeout, what="the agent's metrics port")


def start_sim(workdir):
    port_file = workdir / "sim.port"
    proc = subprocess.Popen([PYTHON, "-m", "powersim", "--port", "0", "--port-file", str(port_file)],
                            env=dict(os.environ, PYTHONPATH=str(SUPPORT_DIR)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = wait_for(lambda: port_file.exists() and port_file.read_text().endswith("\n")
                    and int(port_file.read_text()), 10, what="simulator port")
    return proc, port


def pool(args, workdir):
    kapi = ApiServer(workdir / "kapi", certs=Certs(workdir / "certs")).start()
    sim, sim_port = None, None
    agent = None
    try:
        kapi.apply_crds()
        sim, sim_port = start_sim(workdir)
        objs = []
        for i in range(args.nodes):
            name = "kwok-node-%d" % i
            objs.append({"apiVersion": "v1", "kind": "Node",
                         "metadata": {"name": name, "labels": {"joulie.io/managed": "true"}}})
            objs.append({"apiVersion": "joulie.io/v1alpha1", "kind": "NodePowerProfile",
                         "metadata": {"name": "node-" + name, "generation": 1},
                         "spec": {"nodeName": name, "profile": "eco",
                                  "cpu": {"packagePowerCapWatts": 150}}})
        objs.append({"apiVersion": "joulie.io/v1alpha1", "kind": "TelemetryProfile",
                     "metadata": {"name": "sim"},
                     "spec": {"target": {"scope": "cluster"},
                              "sources": {"cpu": {"type": "http", "http": {
                                  "endpoint": "http://127.0.0.1:%d/telemetry/{node}" % sim_port}}},
                              "controls": {"cpu": {"type": "http", "http": {
                                  "endpoint": "http://127.0.0.1:%d/control/{node}" % sim_port,
                                  "mode": "rapl"}}}}})
        for i in range(0, len(objs), 2000):
            kapi.seed(objs[i:i + 2000])
        err = workdir / "pool.stderr"
        with open(err, "wb") as fe:
            agent = subprocess.Popen([args.bin, "agent", "--mode", "pool", "--kubeconfig",
                                      str(kapi.kubeconfig("admin")), "--metrics-addr", "127.0.0.1:0",
                                      "--interval", args.pool_interval, "--kube-qps", "500",
                                      "--kube-burst", "1000"],
                                     stdout=subprocess.DEVNULL, stderr=fe)
        port = metrics_port(err, agent)
        passes = []
        deadline = time.monotonic() + args.pool_seconds
        last_count = 0
        cpu_marks = []
        while time.monotonic() < deadline:
            text = scrape(port)
            count = metric(text, "joulie_agent_pass_duration_seconds_count") or 0
            if count > last_count:
                passes.append(metric(text, "joulie_agent_last_pass_duration_seconds"))
                cpu_marks.append((count, cpu_seconds(agent.pid)))
                last_count = count
            time.sleep(1.0)  # sampling period (a scrape of 5 000 nodes costs CPU itself)
        rss = rss_mib(agent.pid)
        anon_file = rss_split_mib(agent.pid)
        steady = passes[1:] or passes
        cpu_per_pass = None
        if len(cpu_marks) >= 3:
            (n0, c0), (n1, c1) = cpu_marks[1], cpu_marks[-1]
            cpu_per_pass = (c1 - c0) / max(1, n1 - n0)
        return {"pool passes": len(passes),
                "pool agent CPU s/pass": cpu_per_pass,
                "pool first pass s": passes[0] if passes else None,
                "pool steady pass s (max)": max(steady) if steady else None,
                "pool steady pass s (median)": sorted(steady)[len(steady) // 2] if steady else None,
                "pool RSS MiB": rss,
                "pool RSS anon/file MiB": "%.1f / %.1f" % anon_file}
    finally:
        for p in (agent, sim):
            if p is not None:
                p.terminate()
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
        kapi.close()


def daemonset(args, workdir):
    kapi = ApiServer(workdir / "kapi-ds", certs=Certs(workdir / "certs-ds")).start()
    agent = None
    try:
        kapi.apply_crds()
        tree = FakeSysfs(workdir / "sys")
        for n in range(2):
            tree.add_rapl_package(n)
        for n in range(8):
            tree.add_cpufreq_policy(n)
        kapi.api("POST", "/apis/joulie.io/v1alpha1/nodepowerprofiles",
                 {"apiVersion": "joulie.io/v1alpha1", "kind": "NodePowerProfile",
                  "metadata": {"name": "node-n1"},
                  "spec": {"nodeName": "n1", "profile": "eco", "cpu": {"packagePowerCapWatts": 150}}})
        err = workdir / "ds.stderr"
        with open(err, "wb") as fe:
            agent = subprocess.Popen([args.bin, "agent", "--node", "n1", "--kubeconfig",
                                      str(kapi.kubeconfig("admin")), "--metrics-addr", "127.0.0.1:0",
                                      "--interval", "100ms", "--sysfs-root", str(tree.root),
                                      "--state-dir", str(workdir / "state")],
                                     stdout=subprocess.DEVNULL, stderr=fe)
        port = metrics_port(err, agent)

        def applies():
            return metric(scrape(port), "joulie_agent_apply_total",
                          '{node="n1",backend="rapl",result="applied"}') or 0
        wait_for(lambda: applies() >= 20, 30, what="warm-up reconciles")
        a0, c0 = applies(), cpu_seconds(agent.pid)
        time.sleep(args.ds_seconds)  # measurement window
        a1, c1 = applies(), cpu_seconds(agent.pid)
        if os.environ.get("AGENT_BENCH_SMAPS"):
            print(Path("/proc/%d/smaps" % agent.pid).read_text(), file=sys.stderr)
        return {"daemonset reconciles": a1 - a0,
                "daemonset CPU ms/reconcile": (c1 - c0) * 1000 / max(1, a1 - a0),
                "daemonset RSS MiB": rss_mib(agent.pid),
                "daemonset RSS anon/file MiB": "%.1f / %.1f" % rss_split_mib(agent.pid)}
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(20)
        kapi.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=str(HERE.parent.parent / "build" / "joulie"))
    p.add_argument("--nodes", type=int, default=5000)
    p.add_argument("--pool-interval", default="5s")
    p.add_argument("--pool-seconds", type=float, default=40)
    p.add_argument("--ds-seconds", type=float, default=10)
    p.add_argument("--skip-pool", action="store_true")
    p.add_argument("--skip-daemonset", action="store_true")
    args = p.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="joulie-agent-bench-"))
    results = {}
    try:
        if not args.skip_daemonset:
            results.update(daemonset(args, workdir))
        if not args.skip_pool:
            results.update(pool(args, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    width = max(len(k) for k in results)
    print("%-*s  %s" % (width, "figure", "value"))
    for k, v in results.items():
        print("%-*s  %s" % (width, k, "%.3f" % v if isinstance(v, float) else v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
