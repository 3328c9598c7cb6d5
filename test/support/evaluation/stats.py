"""Statistics over seeds: mean and 95 % confidence interval (Student's t), paired differences.

A seed is one independent replication: its own trace and node temperatures, every baseline run on
it. Savings are computed per seed against that seed's A, so they are paired by construction; a
difference between two policies (e.g. D − C) is taken per seed first, then averaged, which removes
the trace-to-trace variation both share.
"""

import math

# Two-sided 95 % quantiles of Student's t by degrees of freedom (tables; 1.96 beyond 30).
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
        10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110,
        18: 2.101, 19: 2.093, 20: 2.086, 25: 2.060, 30: 2.042}


def t975(df):
    if df in T975:
        return T975[df]
    if df > 30:
        return 1.96
    return T975[max(k for k in T975 if k <= df)]


def ci(values):
    """{"n", "mean", "lo", "hi", "sd"} of the finite values (lo/hi None for fewer than 2)."""
    xs = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(xs)
    if n == 0:
        return {"n": 0, "mean": None, "lo": None, "hi": None, "sd": None}
    mean = sum(xs) / n
    if n < 2:
        return {"n": 1, "mean": mean, "lo": None, "hi": None, "sd": None}
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t975(n - 1) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "lo": mean - half, "hi": mean + half, "sd": sd}


def paired(a, b):
    """CI of a[seed] − b[seed] over the seeds both have (dicts seed -> value)."""
    seeds = sorted(set(a) & set(b))
    return ci([a[s] - b[s] for s in seeds if a[s] is not None and b[s] is not None])
