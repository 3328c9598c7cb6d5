"""Physical models of the evaluation mode of the power simulator (docs/design.md#evaluation, docs/evaluation.md).

Every function here is pure (no clock, no I/O) so that the integrals in model.py are exact for
piecewise-constant inputs and the same trace gives the same energy on any machine.

Node power (SPECpower-style curves, heterogeneous hardware, bounded physics)
---------------------------------------------------------------------------
A node is an uncapped *platform* part (memory, disks, fans, NICs, PSU losses: constant) plus one
capped CPU *package* domain (what RAPL limits). With D(u) = (max_pkg − idle_pkg) · g(u) the
package's active power at full frequency for compute-bound work, the package draws

    P_pkg = idle_pkg + D(u) · [ σ + (1 − σ) · a(s, mix) · s**α ]                  (s >= S_MIN)

- u: utilisation (busy cores / cores); g: the per-type load curve; s = f / f_max.
- σ (STATIC_SHARE): the share of active power that does not scale with the core clock (uncore,
  memory controller, leakage of busy cores). A cap cannot remove it: the larger σ, the less a cap
  saves and the more a slowed job costs (it draws σ·D for longer).
- (1 − σ)·s**α: the frequency-scaled part (dynamic power C·V²·f with V roughly ∝ f: α in 2–3).
- a(s, mix): how busy the cores' logic is, a core-weighted mean over the node's jobs. A job whose
  run time at full speed is a fraction m stalled on memory spends, at speed s, the fraction
  c = (1 − m) / ((1 − m) + m·s) of its time computing; a stalled core draws STALL_ACTIVITY (β) of a
  computing core's dynamic power: a = c + β·(1 − c). So memory-bound work draws less dynamic power,
  and a cap saves less on it (its stalls do not shrink with the clock).
The curves g are shaped after published SPECpower_ssj2008 results (spec.org/power_ssj2008/results):
server power rises almost linearly with load, slightly concave, from an idle power that is
20–50 % of the full-load power depending on the generation (Barroso, Hölzle, Ranganathan, "The
Datacenter as a Computer", 3rd ed., ch. 5). They are illustrative of classes of machines, not any
vendor's result, and are read as compute-bound work's power (a = 1 at s = 1).

The cap: a RAPL cap below the uncapped draw lowers s until P_pkg = cap; below the lowest P-state
(S_MIN) RAPL holds the cap by clock modulation: the frequency-scaled part then falls linearly with
the duty cycle d (effective speed S_MIN·d), the static part stays. A cap below idle + σ·D cannot be
met: the package runs at the slowest duty cycle S_FLOOR and draws what that costs.

Throughput from frequency: a job progresses at rate(s, m) = 1 / ((1 − m)/s + m) (Choi, Soma,
Pedram, DATE 2004), so a capped compute-bound job slows by 1/s, a memory-bound one hardly — and a
slowed job draws power (at least its static share) for longer, which the energy integral counts.

The parameters (α, σ, β) are a Physics object; DEFAULT is what the simulator runs with, and the
evaluation's sensitivity sweep re-prices recorded schedules over ranges of them
(docs/evaluation.md, "Physics sensitivity").

Temperature
-----------
First-order thermal model per node: T → T_inlet + R_TH · P_pkg with time constant TAU_TH. The inlet
temperature follows the outdoor temperature weakly (economiser) plus a per-node offset (rack
position, seeded). Outdoor (ambient) temperature follows a daily sinusoid, minimum at 03:00,
maximum at 15:00 (simulated time of day), 20 ± 7 °C.

Facility power (PUE that depends on load and ambient temperature)
-----------------------------------------------------------------
After Rasmussen, "Electrical efficiency modeling for data centers", APC/Schneider white paper 113:
facility losses are a fixed part (proportional to the design capacity C), a part proportional to the
IT load and a square-law part; cooling work is IT / COP, with the chiller's COP falling as the outdoor
temperature rises (a linear fit typical of air-cooled chillers, 7 at 15 °C, −0.15 per °C, floor 2).

    facility = IT + 0.04·C + 0.03·IT + 0.02·IT²/C + IT / COP(T_out)

which gives a PUE of about 1.25–1.35 at high load on a mild day, and 1.4+ at low load or on a hot
afternoon. PUE = facility / IT.
"""

import math

ALPHA = 2.4  # frequency-scaled package power ∝ s**ALPHA inside the DVFS range
STATIC_SHARE = 0.2  # σ: share of active package power that does not scale with frequency
STALL_ACTIVITY = 0.4  # β: dynamic power of a core stalled on memory / of a computing core
S_MIN = 0.5  # lowest P-state as a fraction of the nominal frequency
S_FLOOR = 0.05  # slowest effective speed under clock modulation
R_TH = 0.15  # K per package watt
TAU_TH = 180.0  # s, thermal time constant of a node
INLET_BASE = 22.0  # °C at an outdoor temperature of 20 °C
INLET_PER_OUTDOOR = 0.15  # economiser: inlet follows the outdoor temperature weakly
AMBIENT_MEAN = 20.0  # °C, daily mean outdoor temperature
AMBIENT_SWING = 7.0  # °C, half the daily range
COP_AT_15 = 7.0
COP_SLOPE = 0.15
COP_FLOOR = 2.0


class HardwareType:
    """A class of node: cores, platform watts, package idle/max watts and an 11-point load curve
    g(0 %), g(10 %), …, g(100 %) in [0, 1] (fraction of the package's dynamic range)."""

    def __init__(self, name, cores, platform_watts, idle_pkg_watts, max_pkg_watts, curve, about):
        if len(curve) != 11 or curve[0] != 0.0 or curve[-1] != 1.0:
            raise ValueError("a load curve has 11 points from 0.0 to 1.0")
        self.name = name
        self.cores = cores
        self.platform_watts = float(platform_watts)
        self.idle_pkg_watts = float(idle_pkg_watts)
        self.max_pkg_watts = float(max_pkg_watts)
        self.curve = tuple(float(x) for x in curve)
        self.about = about

    def g(self, u):
        u = min(1.0, max(0.0, u))
        x = u * 10.0
        i = min(9, int(x))
        return self.curve[i] + (self.curve[i + 1] - self.curve[i]) * (x - i)

    def max_node_watts(self):
        return self.platform_watts + self.max_pkg_watts

    def idle_node_watts(self):
        return self.platform_watts + self.idle_pkg_watts

    def describe(self):
        return {"name": self.name, "cores": self.cores, "platformWatts": self.platform_watts,
                "idlePackageWatts": self.idle_pkg_watts, "maxPackageWatts": self.max_pkg_watts,
                "idleNodeWatts": self.idle_node_watts(), "maxNodeWatts": self.max_node_watts(),
                "curve": list(self.curve), "about": self.about}

    @classmethod
    def from_dict(cls, d):
        """From describe()'s keys (a hardware file's type); raises ValueError on a bad one."""
        try:
            hw = cls(str(d["name"]), int(d["cores"]), float(d["platformWatts"]),
                     float(d["idlePackageWatts"]), float(d["maxPackageWatts"]),
                     [float(x) for x in d["curve"]], str(d.get("about", "")))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError("hardware type %r: %s" % (d.get("name") if isinstance(d, dict) else d,
                                                       e)) from None
        if hw.cores <= 0 or hw.platform_watts < 0 or not 0 <= hw.idle_pkg_watts < hw.max_pkg_watts:
            raise ValueError("hardware type %s: cores > 0, 0 <= idle < max package watts" % hw.name)
        if any(b < a for a, b in zip(hw.curve, hw.curve[1:])):
            raise ValueError("hardware type %s: the load curve must not decrease" % hw.name)
        return hw


# Three generations, from a less to a more energy-proportional one (idle/full-load node power
# 0.52, 0.38, 0.29). Curves: slightly concave, as SPECpower_ssj2008 results are.
HARDWARE = {
    "gen1-32c": HardwareType(
        "gen1-32c", 32, 95, 75, 230,
        [0.0, 0.13, 0.24, 0.34, 0.44, 0.53, 0.62, 0.71, 0.80, 0.90, 1.0],
        "older 32-core server, idle at about half its full-load power"),
    "gen2-64c": HardwareType(
        "gen2-64c", 64, 90, 70, 330,
        [0.0, 0.16, 0.28, 0.39, 0.49, 0.58, 0.67, 0.75, 0.83, 0.92, 1.0],
        "64-core server of a recent generation"),
    "gen3-96c": HardwareType(
        "gen3-96c", 96, 85, 60, 420,
        [0.0, 0.18, 0.31, 0.42, 0.52, 0.61, 0.69, 0.77, 0.85, 0.93, 1.0],
        "96-core dense server, the most energy-proportional"),
}
# Share of each type in a cluster (node i gets the type of slot i mod 10 of this pattern).
HARDWARE_MIX = ["gen1-32c", "gen2-64c", "gen2-64c", "gen3-96c", "gen2-64c",
                "gen1-32c", "gen2-64c", "gen3-96c", "gen2-64c", "gen3-96c"]


class Physics:
    """The package model's parameters: alpha (frequency exponent), static (σ, share of active power
    that does not scale with frequency) and stall (β, a stalled core's share of a computing core's
    dynamic power)."""

    def __init__(self, alpha=ALPHA, static=STATIC_SHARE, stall=STALL_ACTIVITY):
        if not 1.0 <= alpha <= 4.0 or not 0.0 <= static < 1.0 or not 0.0 <= stall <= 1.0:
            raise ValueError("physics: alpha in [1,4], static in [0,1), stall in [0,1]")
        self.alpha = float(alpha)
        self.static = float(static)
        self.stall = float(stall)

    def describe(self):
        return {"alpha": self.alpha, "staticShare": self.static, "stallActivity": self.stall}


DEFAULT = Physics()


def package_dynamic_watts(hw, u):
    """D(u): active package power above idle at full frequency for compute-bound work."""
    return (hw.max_pkg_watts - hw.idle_pkg_watts) * hw.g(u)


def activity(s, mix, p=DEFAULT):
    """a(s, mix): core-weighted busy share of the cores' logic; mix = [(cpus, m), ...] of the
    node's jobs (None or empty: compute-bound)."""
    if not mix:
        return 1.0
    total = weight = 0.0
    for cpus, m in mix:
        c = (1.0 - m) / ((1.0 - m) + m * s) if m < 1.0 else 0.0
        total += cpus * (c + p.stall * (1.0 - c))
        weight += cpus
    return total / weight if weight > 0 else 1.0


def package_watts(hw, u, s, mix=None, p=DEFAULT):
    """Package power at utilisation u and effective speed s (s < S_MIN: clock modulation)."""
    dyn = package_dynamic_watts(hw, u)
    if dyn <= 0.0:
        return hw.idle_pkg_watts
    f = s ** p.alpha if s >= S_MIN else S_MIN ** p.alpha * (s / S_MIN)
    return hw.idle_pkg_watts + dyn * (p.static + (1.0 - p.static) * activity(s, mix, p) * f)


def speed_under(hw, u, cap_watts, s_limit=1.0, mix=None, p=DEFAULT):
    """The effective speed in [S_FLOOR, s_limit] the package runs at under cap_watts (None = no
    cap): the highest s whose package power is within the cap (power rises monotonically with s)."""
    s_limit = min(1.0, max(S_FLOOR, s_limit))
    if cap_watts is None or package_watts(hw, u, s_limit, mix, p) <= cap_watts:
        return s_limit
    if package_watts(hw, u, S_FLOOR, mix, p) >= cap_watts:
        return S_FLOOR
    lo, hi = S_FLOOR, s_limit
    for _ in range(40):  # 2^-40 of the range: far below anything the integrals resolve
        mid = 0.5 * (lo + hi)
        if package_watts(hw, u, mid, mix, p) <= cap_watts:
            lo = mid
        else:
            hi = mid
    return lo


def throttle_speed(throttle_pct):
    """DVFS throttle p % lowers the frequency ceiling linearly from f_max to the lowest P-state."""
    return 1.0 - (throttle_pct / 100.0) * (1.0 - S_MIN)


def job_rate(s, mem_fraction):
    """Progress of a job (full-speed seconds of work per second) at effective speed s."""
    return 1.0 / ((1.0 - mem_fraction) / s + mem_fraction)


def ambient_celsius(t_seconds):
    """Outdoor temperature at simulated time t (t = 0 is midnight): minimum at 03:00, maximum at 15:00."""
    hour = (t_seconds / 3600.0) % 24.0
    return AMBIENT_MEAN + AMBIENT_SWING * math.cos(2.0 * math.pi * (hour - 15.0) / 24.0)


def inlet_celsius(ambient, offset):
    return INLET_BASE + INLET_PER_OUTDOOR * (ambient - AMBIENT_MEAN) + offset


def thermal_step(temp, target, dt):
    """Exact first-order response over dt towards target."""
    return target + (temp - target) * math.exp(-dt / TAU_TH)


def cop(ambient):
    return max(COP_FLOOR, COP_AT_15 - COP_SLOPE * (ambient - 15.0))


def facility_watts(it_watts, ambient, capacity_watts):
    """Facility power for it_watts of IT load in a facility designed for capacity_watts."""
    c = max(capacity_watts, 1.0)
    return (it_watts + 0.04 * c + 0.03 * it_watts + 0.02 * it_watts * it_watts / c +
            it_watts / cop(ambient))
