#pragma once
// A temporary sysfs tree with the real layouts (docs/testing.md), for unit tests.
//
//   devices/virtual/powercap/intel-rapl/intel-rapl:N/…        real zone directories
//   devices/virtual/powercap/intel-rapl/intel-rapl:N/intel-rapl:N:0/…   sub-zone (core)
//   class/powercap/intel-rapl:N, intel-rapl:N:0 → symlinks into devices/
//   devices/virtual/powercap/intel-rapl-mmio/intel-rapl-mmio:N + class/ symlink
//   devices/system/cpu/cpufreq/policyN/… and devices/system/cpu/cpuN/cpufreq → ../cpufreq/policyN
//
// Firmware-locked files: the tests run as root, and root ignores mode bits, so chmod cannot make a
// file unwritable. lock() replaces the file by a symlink to a regular file holding the same value:
// reads follow it, and the agent never writes through a leaf symlink (O_NOFOLLOW; real sysfs
// attributes never are symlinks), so the write fails whatever the uid. Firmware that accepts a
// write but keeps its old value is modelled in C++ with a HostFiles subclass (see rapl_test.cpp).

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "temp_dir.hpp"

namespace joulie::test {

class FakeSysfs {
 public:
  const std::filesystem::path& root() const { return dir_.path(); }
  std::filesystem::path path(const std::string& rel) const { return root() / rel; }

  struct RaplOptions {
    uint64_t limit_uw = 200000000;
    uint64_t max_power_uw = 250000000;  // 0 = no constraint_0_max_power_uw file
    uint64_t energy_uj = 1000000;
    uint64_t max_energy_range_uj = 262143328850;
    bool named_constraints = true;  // constraint_K_name files
    bool long_term_second = false;  // long_term is constraint 1 (short_term first)
  };

  // Adds package zone intel-rapl:N with a core sub-zone intel-rapl:N:0.
  void add_rapl_package(int n, const RaplOptions& options) {
    std::string name = "intel-rapl:" + std::to_string(n);
    auto dir = root() / "devices/virtual/powercap/intel-rapl" / name;
    write_zone(dir, "package-" + std::to_string(n), options);
    link_class(name, "../../devices/virtual/powercap/intel-rapl/" + name);
    std::string sub = name + ":0";
    RaplOptions core = options;
    core.limit_uw = 0;
    write_zone(dir / sub, "core", core);
    link_class(sub, "../../devices/virtual/powercap/intel-rapl/" + name + "/" + sub);
  }
  void add_rapl_package(int n) { add_rapl_package(n, RaplOptions{}); }

  void add_rapl_mmio(int n, const RaplOptions& options) {
    std::string name = "intel-rapl-mmio:" + std::to_string(n);
    auto dir = root() / "devices/virtual/powercap/intel-rapl-mmio" / name;
    write_zone(dir, "package-" + std::to_string(n), options);
    link_class(name, "../../devices/virtual/powercap/intel-rapl-mmio/" + name);
  }

  std::string rapl_limit_file(int n, int constraint = 0) const {
    return "class/powercap/intel-rapl:" + std::to_string(n) + "/constraint_" +
           std::to_string(constraint) + "_power_limit_uw";
  }
  std::string rapl_energy_file(int n) const {
    return "class/powercap/intel-rapl:" + std::to_string(n) + "/energy_uj";
  }

  struct PolicyOptions {
    uint64_t cpuinfo_min_khz = 800000;
    uint64_t cpuinfo_max_khz = 3000000;
    std::vector<uint64_t> available_khz;  // empty = no scaling_available_frequencies
    std::vector<int> cpus;                // affected_cpus; empty = {n}
  };

  // Adds devices/system/cpu/cpufreq/policyN (+ cpuN/cpufreq symlinks), or with `per_cpu` only
  // the older devices/system/cpu/cpuN/cpufreq directory.
  void add_cpufreq_policy(int n, const PolicyOptions& options, bool per_cpu = false) {
    auto cpu_dir = root() / "devices/system/cpu";
    auto dir = per_cpu ? cpu_dir / ("cpu" + std::to_string(n)) / "cpufreq"
                       : cpu_dir / "cpufreq" / ("policy" + std::to_string(n));
    std::filesystem::create_directories(dir);
    write_file(dir / "cpuinfo_min_freq", std::to_string(options.cpuinfo_min_khz) + "\n");
    write_file(dir / "cpuinfo_max_freq", std::to_string(options.cpuinfo_max_khz) + "\n");
    write_file(dir / "scaling_max_freq", std::to_string(options.cpuinfo_max_khz) + "\n");
    write_file(dir / "scaling_min_freq", std::to_string(options.cpuinfo_min_khz) + "\n");
    write_file(dir / "scaling_cur_freq", std::to_string(options.cpuinfo_max_khz) + "\n");
    if (!options.available_khz.empty()) {
      std::ostringstream list;
      for (auto khz : options.available_khz) {
        list << khz << ' ';
      }
      write_file(dir / "scaling_available_frequencies", list.str() + "\n");
    }
    std::vector<int> cpus = options.cpus.empty() ? std::vector<int>{n} : options.cpus;
    std::ostringstream affected;
    for (std::size_t i = 0; i < cpus.size(); ++i) {
      affected << (i ? " " : "") << cpus[i];
    }
    write_file(dir / "affected_cpus", affected.str() + "\n");
    if (!per_cpu) {
      for (int cpu : cpus) {
        auto cpu_path = cpu_dir / ("cpu" + std::to_string(cpu));
        std::filesystem::create_directories(cpu_path);
        std::error_code ec;
        std::filesystem::create_symlink("../cpufreq/policy" + std::to_string(n),
                                        cpu_path / "cpufreq", ec);
      }
    }
  }
  void add_cpufreq_policy(int n) { add_cpufreq_policy(n, PolicyOptions{}); }

  std::string policy_file(int n, const std::string& file) const {
    return "devices/system/cpu/cpufreq/policy" + std::to_string(n) + "/" + file;
  }

  void write(const std::string& rel, const std::string& content) const {
    write_file(root() / rel, content);
  }

  std::string read(const std::string& rel) const {
    std::ifstream in(root() / rel);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  uint64_t read_number(const std::string& rel) const { return std::stoull(read(rel)); }

  // Firmware lock that holds for root (see the header comment).
  void lock(const std::string& rel) const {
    auto file = root() / rel;
    auto real = std::filesystem::canonical(file);
    auto backing = real;
    backing += ".locked-value";
    std::filesystem::rename(real, backing);
    std::filesystem::create_symlink(backing.filename(), real);
  }

 private:
  void write_zone(const std::filesystem::path& dir, const std::string& name,
                  const RaplOptions& o) const {
    std::filesystem::create_directories(dir);
    write_file(dir / "name", name + "\n");
    write_file(dir / "enabled", "1\n");
    write_file(dir / "energy_uj", std::to_string(o.energy_uj) + "\n");
    write_file(dir / "max_energy_range_uj", std::to_string(o.max_energy_range_uj) + "\n");
    int long_term = o.long_term_second ? 1 : 0;
    int short_term = 1 - long_term;
    if (o.named_constraints) {
      write_file(dir / ("constraint_" + std::to_string(long_term) + "_name"), "long_term\n");
      write_file(dir / ("constraint_" + std::to_string(short_term) + "_name"), "short_term\n");
    }
    write_file(dir / ("constraint_" + std::to_string(long_term) + "_power_limit_uw"),
               std::to_string(o.limit_uw) + "\n");
    write_file(dir / ("constraint_" + std::to_string(short_term) + "_power_limit_uw"),
               std::to_string(o.limit_uw + 50000000) + "\n");
    write_file(dir / ("constraint_" + std::to_string(long_term) + "_time_window_us"), "999424\n");
    if (o.max_power_uw > 0) {
      write_file(dir / ("constraint_" + std::to_string(long_term) + "_max_power_uw"),
                 std::to_string(o.max_power_uw) + "\n");
    }
  }

  void link_class(const std::string& name, const std::string& target) const {
    auto dir = root() / "class/powercap";
    std::filesystem::create_directories(dir);
    std::filesystem::create_symlink(target, dir / name);
  }

  TempDir dir_{"joulie-sysfs"};
};

}  // namespace joulie::test
