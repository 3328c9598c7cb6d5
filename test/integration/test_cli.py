"""The joulie command line (docs/design.md#command-line-and-exit-codes): version, help, usage errors
(exit 2, one line on stderr) and flag > env > default precedence, observed through the real binary.
No API server is needed: every case here ends before a mode starts."""

import json
import re
import subprocess

import pytest


def run(joulie_bin, *args, env=None):
    # A clean environment so the caller's KUBECONFIG, LOG_LEVEL, … cannot leak into the test.
    base = {"PATH": "/usr/bin:/bin"}
    base.update(env or {})
    return subprocess.run([str(joulie_bin), *args], env=base, capture_output=True, text=True,
                          timeout=30)


def usage_error(proc):
    """Asserts a usage error and returns its single stderr line."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("joulie: ")
    return lines[0]


def test_version_text(joulie_bin):
    proc = run(joulie_bin, "version")
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(r"joulie \d+\.\d+\.\d+\S* \(([0-9a-f]{7,40}|unknown)\)\n", proc.stdout), \
        proc.stdout
    assert proc.stderr == ""


def test_version_json_matches_text(joulie_bin):
    text = run(joulie_bin, "version").stdout
    proc = run(joulie_bin, "version", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)
    assert set(obj) == {"version", "commit"}
    assert text == "joulie %s (%s)\n" % (obj["version"], obj["commit"])
    assert run(joulie_bin, "version", "--output=json").stdout == proc.stdout


@pytest.mark.parametrize("args", [["help"], ["--help"], ["-h"]])
def test_help_lists_every_flag_with_env_and_default(joulie_bin, args):
    proc = run(joulie_bin, *args)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for flag, env, default in [
        ("--kubeconfig", "KUBECONFIG", None),
        ("--log-format", "LOG_FORMAT", "text"),
        ("--log-level", "LOG_LEVEL", "info"),
        ("--metrics-addr", "METRICS_ADDR", ":8081"),
        ("--kube-qps", "KUBE_QPS", "100"),       # the operator's default; the agent's is 20
        ("--kube-burst", "KUBE_BURST", "200"),
        ("--policy", "POLICY_TYPE", "static_partition"),
        ("--interval", "RECONCILE_INTERVAL", "1m"),
        ("--node-selector", "NODE_SELECTOR", "joulie.io/managed=true"),
        ("--reserved-label", "RESERVED_LABEL_KEY", "joulie.io/reserved"),
        ("--profile-label", "POWER_PROFILE_LABEL", "joulie.io/power-profile"),
        ("--performance-cap-watts", "PERFORMANCE_CAP_WATTS", "5000"),
        ("--eco-cap-watts", "ECO_CAP_WATTS", "120"),
        ("--static-hp-frac", "STATIC_HP_FRAC", "0.5"),
        ("--queue-hp-base-frac", "QUEUE_HP_BASE_FRAC", "0.6"),
        ("--queue-hp-min", "QUEUE_HP_MIN", "1"),
        ("--queue-hp-max", "QUEUE_HP_MAX", "1000000"),
        ("--queue-perf-per-hp-node", "QUEUE_PERF_PER_HP_NODE", "10"),
        ("--drain-timeout", "DRAIN_TIMEOUT", "0"),
        ("--leader-elect", "LEADER_ELECT", "false"),
        ("--dry-run", "DRY_RUN", "false"),
        ("--mode", "AGENT_MODE", "daemonset"),
        ("--node", "NODE_NAME", None),
        ("--sysfs-root", "SYSFS_ROOT", "/host-sys"),
        ("--state-dir", "STATE_DIR", "/var/lib/joulie"),
        ("--simulate-only", "SIMULATE_ONLY", "false"),
        ("--pool-node-selector", "POOL_NODE_SELECTOR", "joulie.io/managed=true"),
        ("--pool-shards", "POOL_SHARDS", "1"),
        ("--pool-shard-id", "POOL_SHARD_ID", "POD_NAME"),
        ("--dvfs-ema-alpha", "DVFS_EMA_ALPHA", "0.3"),
        ("--dvfs-high-margin-w", "DVFS_HIGH_MARGIN_W", "10"),
        ("--dvfs-low-margin-w", "DVFS_LOW_MARGIN_W", "15"),
        ("--dvfs-step-pct", "DVFS_STEP_PCT", "10"),
        ("--dvfs-min-freq-khz", "DVFS_MIN_FREQ_KHZ", "1500000"),
        ("--dvfs-cooldown", "DVFS_COOLDOWN", "20s"),
        ("--dvfs-trip-count", "DVFS_TRIP_COUNT", "2"),
        ("--telemetry-ttl", "TELEMETRY_TTL", "60s"),
    ]:
        # The flag's two usage lines: "  --flag …" then "[env VAR; default …]".
        m = re.search(r"^  %s\b.*\n\s+\[env %s; default ([^\]]*)\]$" % (re.escape(flag), env), out,
                      re.M)
        assert m, "flag %s with env %s not in help:\n%s" % (flag, env, out)
        if default is not None:
            assert default in m.group(1), (flag, m.group(1))
    for flag in ("--once", "--output", "--restore"):
        assert re.search(r"^  %s\b" % flag, out, re.M), flag


@pytest.mark.parametrize("mode,own,other", [
    ("operator", "POLICY_TYPE", "DVFS_STEP_PCT"),
    ("agent", "DVFS_STEP_PCT", "POLICY_TYPE"),
])
def test_mode_help(joulie_bin, mode, own, other):
    proc = run(joulie_bin, mode, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: joulie %s" % mode)
    assert own in proc.stdout and "KUBECONFIG" in proc.stdout
    assert other not in proc.stdout
    assert run(joulie_bin, "help", mode).stdout == proc.stdout


def test_help_answers_for_every_command_it_lists(joulie_bin):
    """`joulie help` lists ctl among the commands; `joulie help ctl` printed "unknown command"."""
    listed = re.findall(r"^  joulie (\w+)", run(joulie_bin, "help").stdout, re.M)
    assert "ctl" in listed, listed
    for command in listed:
        proc = run(joulie_bin, "help", command)
        assert proc.returncode == 0 and proc.stdout, (command, proc.returncode, proc.stderr)
    ctl = run(joulie_bin, "help", "ctl")
    assert ctl.stdout == run(joulie_bin, "ctl", "--help").stdout
    assert "kubectl joulie status" in ctl.stdout
    # Same kubeconfig order as the modes (one loader): $KUBECONFIG, in-cluster, ~/.kube/config.
    assert "$KUBECONFIG, else in-cluster, else ~/.kube/config" in ctl.stdout
    assert "default in-cluster, then ~/.kube/config" in run(joulie_bin, "operator", "--help").stdout
    # The usage errors name every command too.
    assert "ctl" in usage_error(run(joulie_bin))
    assert "ctl" in usage_error(run(joulie_bin, "launch"))


@pytest.mark.parametrize("args,env,expected", [
    (["operator", "--interval", "abc"], {},
     'joulie: invalid value "abc" for --interval: invalid duration "abc"'),
    (["operator"], {"RECONCILE_INTERVAL": "abc"},
     'joulie: invalid value "abc" for --interval (RECONCILE_INTERVAL): invalid duration "abc"'),
    (["operator", "--static-hp-frac=1.2"], {},
     'joulie: invalid value "1.2" for --static-hp-frac: must be a fraction between 0 and 1'),
    (["operator"], {"POLICY_TYPE": "greedy"},
     'joulie: invalid value "greedy" for --policy (POLICY_TYPE): must be one of'),
    (["operator", "--eco-cap-watts=-10"], {},
     'joulie: invalid value "-10" for --eco-cap-watts: must be a package power cap in watts '
     'between 10 and 100000'),
    # Below the NodePowerProfile's minimum: the API server and the agent would refuse it.
    (["operator", "--eco-cap-watts=5"], {},
     'joulie: invalid value "5" for --eco-cap-watts: must be a package power cap in watts '
     'between 10 and 100000'),
    (["operator", "--policy=rule_swap_v1", "--interval=200ms"], {},
     'joulie: invalid value "200ms" for --interval: rule_swap_v1 needs an interval of at least 1s'),
    (["operator", "--log-level=chatty"], {}, 'joulie: invalid value "chatty" for --log-level'),
    (["operator", "--once", "--output=yaml"], {}, 'joulie: invalid value "yaml" for --output'),
    (["operator", "--bogus"], {}, 'joulie: unknown flag --bogus for "joulie operator"'),
    (["operator", "stray"], {}, 'joulie: unexpected argument "stray" for "joulie operator"'),
    (["agent"], {}, "joulie: --node (NODE_NAME) is required in daemonset mode"),
    (["agent", "--mode=pool", "--pool-shards=2"], {"POD_NAME": "joulie-agent-pool-2"},
     'joulie: invalid value "2" for --pool-shard-id (from POD_NAME "joulie-agent-pool-2")'),
    (["agent", "--node=n1", "--dvfs-step-pct=0"], {},
     'joulie: invalid value "0" for --dvfs-step-pct: must be between 1 and 100'),
    (["agent"], {"NODE_NAME": "n1", "DVFS_EMA_ALPHA": "0"},
     'joulie: invalid value "0" for --dvfs-ema-alpha (DVFS_EMA_ALPHA): must be in (0, 1]'),
    (["version", "--output", "xml"], {}, 'joulie: invalid value "xml" for --output'),
    (["launch"], {}, 'joulie: unknown command "launch"'),
    ([], {}, "joulie: missing command"),
])
def test_usage_errors_exit_2_with_one_line(joulie_bin, args, env, expected):
    line = usage_error(run(joulie_bin, *args, env=env))
    assert line.startswith(expected), line


def test_flag_beats_env_beats_default(joulie_bin):
    # Settings are validated in a fixed order (policy before the caps), so which error is
    # reported shows which source each setting was read from — without starting a mode.
    bad_cap = ["--eco-cap-watts=-1"]

    # env over default: an invalid POLICY_TYPE is reported, so the env was read.
    line = usage_error(run(joulie_bin, "operator", *bad_cap, env={"POLICY_TYPE": "nope"}))
    assert "--policy (POLICY_TYPE)" in line

    # flag over env: the valid --policy hides the invalid env value; the next error surfaces.
    line = usage_error(run(joulie_bin, "operator", "--policy=queue_aware_v1", *bad_cap,
                           env={"POLICY_TYPE": "nope"}))
    assert "--eco-cap-watts" in line and "POLICY_TYPE" not in line

    # An empty variable counts as unset (Helm renders missing values as "").
    line = usage_error(run(joulie_bin, "operator", *bad_cap, env={"POLICY_TYPE": ""}))
    assert "--eco-cap-watts" in line

    # The reported value is the one from the winning source.
    line = usage_error(run(joulie_bin, "operator", "--static-hp-frac=7",
                           env={"STATIC_HP_FRAC": "9"}))
    assert line.startswith('joulie: invalid value "7" for --static-hp-frac:'), line


def test_help_wins_over_invalid_values(joulie_bin):
    proc = run(joulie_bin, "operator", "--interval=abc", "--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith("Usage: joulie operator")


@pytest.mark.parametrize("mode", ["operator", "agent"])
def test_help_never_glues_a_flag_to_its_description(joulie_bin, mode):
    # "--leader-elect-lease-duration DURATIONhow long …": a flag name as long as the column ran
    # into its text. Every flag line must end its flag (and value name) before the help starts.
    out = run(joulie_bin, mode, "--help").stdout
    flag_lines = [line for line in out.splitlines() if line.startswith("  --")]
    assert flag_lines, out
    for line in flag_lines:
        m = re.match(r"^  (--[a-z0-9-]+)( [A-Z]+)?(\s{2,}\S.*)?$", line)
        assert m, "flag line runs into its help text: %r" % line
    assert re.search(r"^  --leader-elect-lease-duration DURATION\n\s+how long", out, re.M) or \
        mode == "agent", out
