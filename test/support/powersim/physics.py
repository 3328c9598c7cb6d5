"""Physical models of the evaluation mode of the power simulator (SPEC.md §9, docs/evaluation.md).

Every function here is pure (no clock, no I/O) so that the integrals in model.py are exact for
piecewise-constant inputs and the same trace gives the same energy on any machine.

Node power (SPECpower-style curves, heterogeneous hardware)
-----------------------------------------------------------
A node is an uncapped *platform* part (memory, disks, fans, NICs, PSU losses: constant) plus one
capped CPU *package* domain (what RAPL limits). The package draws

    P_pkg(u, s) = idle_pkg + (max_pkg - idle_pkg) * g(u) * s**ALPHA          (s >= S_MIN)

with u the utilisation (busy cores / cores), g the per-type load curve and s = f / f_max the
relative core frequency. The curves g are shaped after published SPECpower_ssj2008 results
(spec.org/power_ssj2008/results): server power rises almost linearly with the ssj load, slightly
concave, from an idle power that is 20–50 % of the full-load power depending on the generation
(Barroso, Hölzle, Ranganathan, "The Datacenter as a Computer", 3rd ed., ch. 5 "Energy and power
efficiency", fig. 5.7–5.8). They are illustrative of classes of machines, not any vendor's result.

Frequency and the cap: dynamic CMOS power is C·V²·f and, inside the DVFS range, V grows roughly
linearly with f, so package dynamic power scales as s**ALPHA with ALPHA between 2 and 3 (we use 2.4;
see e.g. Le Sueur & Heiser, "Dynamic voltage and frequency scaling: the laws of diminishing
returns", HotPower 2010). A RAPL cap below the uncapped draw lowers s until P_pkg = cap; below the
lowest P-state (S_MIN) RAPL holds the cap by clock modulation, where power falls linearly with the
duty cycle d and the effective speed is S_MIN·d. A cap below the package idle power cannot be met:
the package then runs at the slowest duty cycle S_FLOOR and draws what that costs.

Throughput from frequency (compute- vs memory-bound): a job whose run time at full frequency is a
fraction m stalled on memory (which does not speed up with the core clock) and 1-m computing
progresses at

    rate(s, m) = 1 / ((1 - m) / s + m)

(the classic DVFS performance model, e.g. Choi, Soma, Pedram, "Fine-grained dynamic voltage and
frequency scaling for precise energy and performance trade-off based on the ratio of off-chip access
to on-chip computation times", DATE 2004). So a capped compute-bound job (m≈0) slows by 1/s, a
memory-bound one (m≈1) hardly at all — and a slowed job draws power for longer, which the energy
integral accounts for.

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

ALPHA = 2.4  # package dynamic power ∝ s**ALPHA inside the DVFS range
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


def package_dynamic_watts(hw, u):
    return (hw.max_pkg_watts - hw.idle_pkg_watts) * hw.g(u)


def package_watts(hw, u, s):
    """Package power at utilisation u and effective speed s (s < S_MIN: clock modulation)."""
    dyn = package_dynamic_watts(hw, u)
    if s >= S_MIN:
        return hw.idle_pkg_watts + dyn * s ** ALPHA
    return hw.idle_pkg_watts + dyn * S_MIN ** ALPHA * (s / S_MIN)


def speed_under(hw, u, cap_watts, s_limit=1.0):
    """The effective speed in (0, s_limit] the package runs at under cap_watts (None = no cap):
    the highest s whose package power is within the cap."""
    s_limit = min(1.0, max(S_FLOOR, s_limit))
    if cap_watts is None or package_watts(hw, u, s_limit) <= cap_watts:
        return s_limit
    dyn = package_dynamic_watts(hw, u)
    head = cap_watts - hw.idle_pkg_watts
    if dyn <= 0.0:
        return s_limit
    if head >= dyn * S_MIN ** ALPHA:
        return min(s_limit, (head / dyn) ** (1.0 / ALPHA))
    s = S_MIN * max(0.0, head) / (dyn * S_MIN ** ALPHA)
    return min(s_limit, max(S_FLOOR, s))


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
