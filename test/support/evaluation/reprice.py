"""Physics sensitivity: re-prices recorded schedules under other package-model parameters.

An approximation, stated in the report: the live runs use the default physics; for each other
parameter set (exponent α, static share σ, eco cap) every recorded run is re-simulated offline with
the same models (powersim/physics.py) but a **fixed schedule**: each job starts at the time and on
the node it started in the live run, and each node's cap follows the caps the agent applied (the
eco cap value replaced by the swept one). Job durations, and so the energy, follow the new
parameters; what the control loops would have done differently (placement, label changes) does not.
Where a job runs longer than it did live, the next ones placed on its node wait until it has the
cores (in their recorded order), and that wait is counted (delayed core-hours): where it is large,
the live control loops would have placed jobs differently and the row is flagged. At the default parameters the re-priced energy
is compared with the simulator's (the approximation's own error, in the report).
"""

from powersim import physics

INF = float("inf")


def node_energy(hw, jobs, caps, p, cap_of):
    """Energy of one node from t = 0 to its last job's finish, that finish, and the core-seconds
    jobs waited for room. jobs: [(start, cpus, work, mem)] sorted by start; caps: [(t, cap)]
    sorted by t. A job starts at its recorded time, or later when the node has the cores for it
    (jobs that ran longer under these parameters delay the next ones, in recorded order)."""
    t, energy, cap = 0.0, 0.0, None
    running = []  # [remaining, cpus, mem, work]
    waiting = []  # (recorded start, cpus, work, mem), in recorded order
    ji = ci = 0
    delayed = 0.0
    used = 0
    idle = hw.platform_watts + hw.idle_pkg_watts
    while True:
        while ci < len(caps) and caps[ci][0] <= t + 1e-9:
            cap = cap_of(caps[ci][1])
            ci += 1
        while ji < len(jobs) and jobs[ji][0] <= t + 1e-9:
            waiting.append(jobs[ji])
            ji += 1
        while waiting and used + waiting[0][1] <= hw.cores:
            start, cpus, work, mem = waiting.pop(0)
            delayed += cpus * max(0.0, t - start)
            running.append([work, cpus, mem, work])
            used += cpus
        if not running and not waiting and ji == len(jobs):
            return energy, t, delayed
        nxt = min(jobs[ji][0] if ji < len(jobs) else INF, caps[ci][0] if ci < len(caps) else INF)
        if not running:
            energy += idle * (nxt - t)
            t = nxt
            continue
        u = min(1.0, used / float(hw.cores))
        mix = [(r[1], r[2]) for r in running]
        s = physics.speed_under(hw, u, cap, 1.0, mix, p)
        power = hw.platform_watts + physics.package_watts(hw, u, s, mix, p)
        rates = [physics.job_rate(s, r[2]) for r in running]
        end = min(nxt, t + min(r[0] / rate for r, rate in zip(running, rates)))
        dt = max(0.0, end - t)
        energy += power * dt
        for r, rate in zip(running, rates):
            r[0] -= rate * dt
        still = [r for r in running if r[0] > 1e-9 * max(1.0, r[3])]
        used -= sum(r[1] for r in running if r not in still)
        running = still
        t = end


def run_energy(run, trace, types, p, eco_cap_from, eco_cap_to, performance_cap):
    """name -> (busy energy, last finish, idle watts, core-seconds jobs waited for room)."""
    per_node = {}
    for j in run["jobs"]:
        per_node.setdefault(j["node"], []).append((j["start"], j["cpus"], j["work"], j["memFraction"]))
    caps = {}
    for t, n, cap in run["caps"]:
        caps.setdefault(n, []).append((t, cap))

    def cap_of(c):
        if c is None or c >= performance_cap:
            return None
        return eco_cap_to if abs(c - eco_cap_from) < 1e-6 else c
    out = {}
    for n in run["nodes"]:
        hw = types[n["type"]]
        jobs = sorted(per_node.get(n["name"], []))
        # By time only, stably: caps applied at the same simulated instant keep their order
        # (the last one is the one the node ran with).
        node_caps = sorted(caps.get(n["name"], []), key=lambda c: c[0])
        e, last, ov = node_energy(hw, jobs, node_caps, p, cap_of)
        out[n["name"]] = (e, last, hw.platform_watts + hw.idle_pkg_watts, ov)
    return out


def window_energy(priced, window):
    """IT joules over [0, window]: each node's busy energy, then idle until the window."""
    return sum(e + idle * max(0.0, window - last) for e, last, idle, _ in priced.values())
