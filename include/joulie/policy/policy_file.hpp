#pragma once
// The policy file (docs/design.md#policy-file), parsed: every block optional, every key typed. Pure
// data; src/config/policy_file.cpp reads the YAML and validates it, src/policy applies it.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "joulie/common/duration.hpp"
#include "joulie/policy/context.hpp"
#include "joulie/policy/policies.hpp"
#include "joulie/policy/time_zone.hpp"
#include "joulie/policy/windows.hpp"

namespace joulie::policy {

// `performance:` — each key overrides its flag (baseFraction → --queue-hp-base-frac and
// --static-hp-frac, min/max → --queue-hp-min/--queue-hp-max, perfPodsPerNode →
// --queue-perf-per-hp-node, the caps → the cap flags).
struct PerformanceSettings {
  std::optional<double> base_fraction;
  std::optional<std::int64_t> min;
  std::optional<std::int64_t> max;
  std::optional<std::int64_t> perf_pods_per_node;
  std::optional<double> performance_cap_watts;
  std::optional<double> eco_cap_watts;
};

struct PolicyFile {
  std::optional<PolicyKind> policy;  // nullopt: --policy holds
  std::string time_zone = "UTC";
  PerformanceSettings performance;
  std::vector<TimeWindow> windows;
  std::optional<TopologySettings> topology;
  std::optional<StabilitySettings> stability;
  SignalsConfig signals;
  std::vector<HardwareClass> hardware_classes;
};

// The first minute boundary after `now` and within `horizon` at which the window in force
// changes (local time in `zone`, DST included); nullopt when none does. The operator re-plans
// then instead of waiting for its next tick.
std::optional<SystemTime> next_window_change(const std::vector<TimeWindow>& windows,
                                             const TimeZone& zone, SystemTime now,
                                             Duration horizon);

// The flags' configuration with the file's keys applied on top (policy, performance block).
PolicyConfig apply_file(PolicyConfig flags, const PolicyFile& file);

}  // namespace joulie::policy
