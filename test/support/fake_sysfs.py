"""Builds temporary sysfs trees with the real powercap and cpufreq layouts (docs/testing.md).

    devices/virtual/powercap/intel-rapl/intel-rapl:N/...           real zone directories
    devices/virtual/powercap/intel-rapl/intel-rapl:N/intel-rapl:N:0  core sub-zone
    class/powercap/intel-rapl:N, intel-rapl:N:0                      symlinks into devices/
    devices/virtual/powercap/intel-rapl-mmio/intel-rapl-mmio:N       (+ class/ symlink)
    devices/system/cpu/cpufreq/policyN/...  and  devices/system/cpu/cpuN/cpufreq -> ../cpufreq/policyN

Firmware-locked RAPL: integration tests run as root in CI, and root ignores mode bits, so chmod
alone cannot make a file unwritable. lock() replaces the file by a symlink to a regular file
holding the same value (and also drops the write bits, which covers non-root runs): reads follow
the link, and the agent never writes through a leaf symlink (O_NOFOLLOW -- real sysfs attributes
never are symlinks), so its write fails whatever the uid. unlock() turns it back into a plain file.

Usable as a library (FakeSysfs) or from the shell:
    python3 test/support/fake_sysfs.py --root /tmp/sys --packages 2 --policies 4 --lock-rapl
"""

import argparse
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

DEFAULT_MAX_ENERGY_RANGE_UJ = 262143328850


class FakeSysfs:
    def __init__(self, root=None):
        self.owned = root is None
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="joulie-sysfs-"))
        self.root.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------------- basics
    def path(self, rel):
        return self.root / rel

    def write(self, rel, content):
        p = self.path(rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.is_symlink():  # a locked file: update the value behind the link
            p = p.resolve()
        p.write_text(str(content))

    def read(self, rel):
        return self.path(rel).read_text()

    def read_int(self, rel):
        # The agent writes a value as a real sysfs file is written (open with O_TRUNC, write), but
        # on a plain file a reader can land between the two and see it empty: read again. A real
        # sysfs attribute is never seen empty, so only that case is retried, a bounded number of
        # times (each is a fresh read, not a wait).
        for _ in range(10000):
            text = self.read(rel).strip()
            if text:
                return int(text)
        raise AssertionError("%s stayed empty over 10000 reads" % rel)

    def cleanup(self):
        if self.owned:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    # -------------------------------------------------------------------------- RAPL
    def _zone(self, directory, name, limit_uw, max_power_uw, energy_uj, max_energy_range_uj,
              named_constraints, long_term_index, min_power_uw=0):
        directory.mkdir(parents=True, exist_ok=True)
        short_index = 1 - long_term_index
        files = {
            "name": name + "\n",
            "enabled": "1\n",
            "energy_uj": "%d\n" % energy_uj,
            "max_energy_range_uj": "%d\n" % max_energy_range_uj,
            "constraint_%d_power_limit_uw" % long_term_index: "%d\n" % limit_uw,
            "constraint_%d_power_limit_uw" % short_index: "%d\n" % (limit_uw + 50_000_000),
            "constraint_%d_time_window_us" % long_term_index: "999424\n",
        }
        if named_constraints:
            files["constraint_%d_name" % long_term_index] = "long_term\n"
            files["constraint_%d_name" % short_index] = "short_term\n"
        if max_power_uw:
            files["constraint_%d_max_power_uw" % long_term_index] = "%d\n" % max_power_uw
        if min_power_uw:
            files["constraint_%d_min_power_uw" % long_term_index] = "%d\n" % min_power_uw
        for fname, content in files.items():
            (directory / fname).write_text(content)

    def _link_class(self, name, target):
        d = self.path("class/powercap")
        d.mkdir(parents=True, exist_ok=True)
        (d / name).symlink_to(target)

    def add_rapl_package(self, n, limit_uw=200_000_000, max_power_uw=250_000_000,
                         energy_uj=1_000_000, max_energy_range_uj=DEFAULT_MAX_ENERGY_RANGE_UJ,
                         named_constraints=True, long_term_index=0, min_power_uw=0):
        name = "intel-rapl:%d" % n
        d = self.path("devices/virtual/powercap/intel-rapl") / name
        self._zone(d, "package-%d" % n, limit_uw, max_power_uw, energy_uj, max_energy_range_uj,
                   named_constraints, long_term_index, min_power_uw)
        self._link_class(name, "../../devices/virtual/powercap/intel-rapl/" + name)
        sub = name + ":0"
        self._zone(d / sub, "core", 0, 0, energy_uj // 2, max_energy_range_uj, named_constraints, 0)
        self._link_class(sub, "../../devices/virtual/powercap/intel-rapl/%s/%s" % (name, sub))

    def add_rapl_mmio(self, n, limit_uw=200_000_000, max_power_uw=250_000_000):
        name = "intel-rapl-mmio:%d" % n
        d = self.path("devices/virtual/powercap/intel-rapl-mmio") / name
        self._zone(d, "package-%d" % n, limit_uw, max_power_uw, 0, DEFAULT_MAX_ENERGY_RANGE_UJ,
                   True, 0)
        self._link_class(name, "../../devices/virtual/powercap/intel-rapl-mmio/" + name)

    @staticmethod
    def rapl_limit_file(n, constraint=0, mmio=False):
        zone = ("intel-rapl-mmio:%d" if mmio else "intel-rapl:%d") % n
        return "class/powercap/%s/constraint_%d_power_limit_uw" % (zone, constraint)

    @staticmethod
    def rapl_energy_file(n):
        return "class/powercap/intel-rapl:%d/energy_uj" % n

    def rapl_limit_uw(self, n, constraint=0, mmio=False):
        return self.read_int(self.rapl_limit_file(n, constraint, mmio))

    def add_energy(self, n, joules):
        """Advances package n's energy counter by `joules`, wrapping like the hardware."""
        rel = self.rapl_energy_file(n)
        top = self.read_int("class/powercap/intel-rapl:%d/max_energy_range_uj" % n)
        self.write(rel, "%d\n" % ((self.read_int(rel) + int(joules * 1_000_000)) % top))

    # ------------------------------------------------------------------------ cpufreq
    def add_cpufreq_policy(self, n, min_khz=800_000, max_khz=3_000_000, available=None,
                           cpus=None, per_cpu=False, scaling_max_khz=None):
        cpu_dir = self.path("devices/system/cpu")
        d = (cpu_dir / ("cpu%d" % n) / "cpufreq") if per_cpu else (cpu_dir / "cpufreq" / ("policy%d" % n))
        d.mkdir(parents=True, exist_ok=True)
        cpus = list(cpus) if cpus else [n]
        files = {
            "cpuinfo_min_freq": "%d\n" % min_khz,
            "cpuinfo_max_freq": "%d\n" % max_khz,
            "scaling_min_freq": "%d\n" % min_khz,
            "scaling_max_freq": "%d\n" % (scaling_max_khz or max_khz),
            "scaling_cur_freq": "%d\n" % max_khz,
            "affected_cpus": " ".join(str(c) for c in cpus) + "\n",
        }
        if available:
            files["scaling_available_frequencies"] = " ".join(str(f) for f in available) + " \n"
        for fname, content in files.items():
            (d / fname).write_text(content)
        if not per_cpu:
            for cpu in cpus:
                (cpu_dir / ("cpu%d" % cpu)).mkdir(parents=True, exist_ok=True)
                link = cpu_dir / ("cpu%d" % cpu) / "cpufreq"
                if not link.exists():
                    link.symlink_to("../cpufreq/policy%d" % n)

    @staticmethod
    def policy_file(n, name):
        return "devices/system/cpu/cpufreq/policy%d/%s" % (n, name)

    def scaling_max_freq(self, n):
        return self.read_int(self.policy_file(n, "scaling_max_freq"))

    # ------------------------------------------------------------------ locked files
    def lock(self, rel):
        """Makes `rel` unwritable for the agent even as root (see the module docstring)."""
        p = self.path(rel)
        real = p.parent.resolve() / p.name  # the zone directory resolved, the leaf not
        if real.is_symlink():
            return
        backing = real.with_name(real.name + ".locked-value")
        os.replace(real, backing)
        os.symlink(backing.name, real)
        os.chmod(backing, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)

    def unlock(self, rel):
        """Turns a locked file back into a plain writable file with its current value."""
        p = self.path(rel)
        # Resolve the zone directory but not the leaf link itself.
        real = p.parent.resolve() / p.name
        if not real.is_symlink():
            return
        backing = real.parent / os.readlink(real)
        value = backing.read_text()
        real.unlink()
        backing.unlink()
        real.write_text(value)

    def lock_rapl(self):
        """Locks the long-term limit of every package and mmio zone."""
        for zone in sorted(self.path("class/powercap").iterdir()):
            name = zone.name
            if name.count(":") != 1:
                continue
            for f in sorted(zone.iterdir()):
                if f.name.endswith("_power_limit_uw"):
                    self.lock(os.path.relpath(f, self.root))


def main(argv=None):
    p = argparse.ArgumentParser(description="build a fake sysfs tree for Joulie")
    p.add_argument("--root", required=True)
    p.add_argument("--packages", type=int, default=1)
    p.add_argument("--mmio", action="store_true")
    p.add_argument("--policies", type=int, default=2)
    p.add_argument("--lock-rapl", action="store_true")
    args = p.parse_args(argv)
    tree = FakeSysfs(args.root)
    for n in range(args.packages):
        tree.add_rapl_package(n)
    if args.mmio:
        tree.add_rapl_mmio(0)
    for n in range(args.policies):
        tree.add_cpufreq_policy(n)
    if args.lock_rapl:
        tree.lock_rapl()
    print(tree.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
