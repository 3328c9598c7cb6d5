#pragma once
// Time windows, topology and stability settings of the policy file (docs/design.md#policy-file,
// #context-aware-policy), and the weekly-window arithmetic. Pure.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "joulie/common/duration.hpp"
#include "joulie/policy/context.hpp"

namespace joulie::policy {

// A cap in watts, or as a fraction of the package's maximum power (which the agent reads from
// RAPL and reports in status.packageMaxPowerWatts).
struct CapValue {
  double value = 0;
  bool fraction = false;
  bool operator==(const CapValue&) const = default;
};

// One weekly window in the file's time zone. end ≤ start: the window runs across midnight
// into the next day (a window that starts on Fri 22:00 ends on Sat 06:00).
struct TimeWindow {
  std::string name;
  std::array<bool, 7> days{};  // index 0 = Monday … 6 = Sunday: the days the window STARTS
  int start_minute = 0;        // 0..1439
  int end_minute = 0;          // 1..1440 (24:00 allowed as an end)
  std::optional<double> base_fraction;
  std::optional<std::int64_t> min;
  std::optional<std::int64_t> max;
  std::optional<double> eco_cap_watts;
  // windows[].hardwareClasses: an eco cap per hardware class while the window is in force.
  std::vector<std::pair<std::string, CapValue>> class_eco_caps;

  bool crosses_midnight() const { return end_minute <= start_minute; }
};

// `topology:`.
struct TopologySettings {
  std::string zone_label = "topology.kubernetes.io/zone";
  std::string rack_label;                     // optional extension; "" = no rack label
  std::int64_t min_performance_per_zone = 0;  // 0 = no zone minimum
};

// `stability.changeBudget`: a count, or a percent of the managed nodes.
struct ChangeBudget {
  std::int64_t value = 1;
  bool percent = false;
  // Downgrades that may START in one pass with `managed` nodes: a count as is; a percent
  // rounded up, at least 1 (a budget must let the cluster make progress).
  std::int64_t allowed(std::int64_t managed) const;
};

struct StabilitySettings {
  Duration min_dwell{0};
  std::optional<ChangeBudget> change_budget;  // nullopt: unlimited
};

// Minutes of the week (Mon 00:00 = 0) a window covers; exposed for the overlap check and tests.
// Returns [begin, end) ranges, with a Sunday-night window wrapping to Monday morning.
std::vector<std::pair<int, int>> week_ranges(const TimeWindow& window);
// The first pair of windows that share a minute of the week, as indexes; nullopt when none.
std::optional<std::pair<std::size_t, std::size_t>> overlapping_windows(
    const std::vector<TimeWindow>& windows);
// The window in force at a local time (weekday + minute of day), or nullptr.
const TimeWindow* active_window(const std::vector<TimeWindow>& windows, const LocalTime& local);

// "Mon".."Sun" for 0..6.
std::string_view weekday_name(int weekday);

}  // namespace joulie::policy
