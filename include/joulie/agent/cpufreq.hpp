#pragma once
// Host DVFS backend (docs/design.md#dvfs-backend-and-controller): caps every cpufreq policy's
// scaling_max_freq.
//
// Policies are devices/system/cpu/cpufreq/policy<N> (fallback: devices/system/cpu/cpu<N>/cpufreq),
// de-duplicated by real path. Throttle p ∈ [0,100] maps linearly between cpuinfo_max_freq (p=0)
// and the floor (p=100), floor = clamp(--dvfs-min-freq-khz, cpuinfo_min_freq, cpuinfo_max_freq),
// rounded down to an entry of scaling_available_frequencies (≥ floor) when that file exists.
// All CPUs are capped alike (the reference pinned a subset of CPUs instead; we do not).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "joulie/agent/control.hpp"
#include "joulie/agent/host_files.hpp"
#include "joulie/common/result.hpp"

namespace joulie::agent {

struct CpufreqPolicy {
  std::string name;           // "policy0", or "cpu0" for the per-CPU fallback layout
  std::filesystem::path dir;  // as found under the root
  uint64_t cpuinfo_min_khz = 0;
  uint64_t cpuinfo_max_khz = 0;
  std::vector<uint64_t> available_khz;  // ascending; empty when the file is absent
  std::vector<std::string> cpus;        // affected_cpus, or the index from the name
};

// All policies; none → Errc::unavailable. A policy with unreadable or inconsistent limits
// (min > max, zero max) is an error naming the file.
Result<std::vector<CpufreqPolicy>> discover_cpufreq_policies(const std::filesystem::path& root);

// The frequency for throttle `pct` (clamped to [0,100]) on `policy`. Pure.
uint64_t throttle_target_khz(const CpufreqPolicy& policy, int pct, uint64_t min_freq_option_khz);

struct CpuFrequency {
  std::string cpu;  // "0", "1", … (label of joulie_dvfs_cpu_*_freq_khz)
  std::optional<uint64_t> cur_khz;
  std::optional<uint64_t> max_khz;  // scaling_max_freq: the cap in force
};

class DvfsControl final : public ControlProvider {
 public:
  DvfsControl(HostFiles& files, uint64_t min_freq_option_khz)
      : files_(files), min_freq_option_khz_(min_freq_option_khz) {}

  ControlOutcome apply_cap(double watts) override;
  // Writes scaling_max_freq of every policy and reads it back. The read-back may be lower than
  // written (a thermal or platform limit also caps the policy) but never higher.
  ControlOutcome apply_throttle(int pct, std::optional<double> cap_watts) override;
  ControlOutcome restore() override;
  Status available() override;
  // When the fail-safe record holds scaling_max_freq originals (an earlier agent wrote them),
  // the smallest throttle whose frequency is at or below what every policy holds now.
  std::optional<int> throttle_in_force() const override;

  // Current and maximum frequency per CPU, for metrics.
  std::vector<CpuFrequency> frequencies() const;

 private:
  bool is_cpufreq_path(const std::filesystem::path& path) const;
  HostFiles& files_;
  uint64_t min_freq_option_khz_;
};

}  // namespace joulie::agent
