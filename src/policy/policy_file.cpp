#include "joulie/policy/policy_file.hpp"

#include <algorithm>

namespace joulie::policy {

namespace {
constexpr int kDay = 1440;
constexpr int kWeek = 7 * kDay;
}  // namespace

std::int64_t ChangeBudget::allowed(std::int64_t managed) const {
  if (!percent) {
    return std::max<std::int64_t>(value, 0);
  }
  const std::int64_t n = std::max<std::int64_t>(managed, 0) * value;
  return std::max<std::int64_t>(1, n / 100 + (n % 100 != 0 ? 1 : 0));
}

std::string_view weekday_name(int weekday) {
  static constexpr std::string_view kNames[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  return weekday >= 0 && weekday < 7 ? kNames[weekday] : std::string_view("?");
}

std::vector<std::pair<int, int>> week_ranges(const TimeWindow& w) {
  std::vector<std::pair<int, int>> out;
  for (int d = 0; d < 7; ++d) {
    if (!w.days[static_cast<std::size_t>(d)]) {
      continue;
    }
    const int begin = d * kDay + w.start_minute;
    const int end = d * kDay + w.end_minute + (w.crosses_midnight() ? kDay : 0);
    if (end <= kWeek) {
      out.emplace_back(begin, end);
    } else {  // Sunday night into Monday morning
      out.emplace_back(begin, kWeek);
      out.emplace_back(0, end - kWeek);
    }
  }
  return out;
}

std::optional<std::pair<std::size_t, std::size_t>> overlapping_windows(
    const std::vector<TimeWindow>& windows) {
  std::vector<std::vector<std::pair<int, int>>> ranges;
  ranges.reserve(windows.size());
  for (const auto& w : windows) {
    ranges.push_back(week_ranges(w));
  }
  for (std::size_t i = 0; i < windows.size(); ++i) {
    // A window may not overlap itself either (e.g. a 22:00–23:00 window … impossible; but a
    // cross-midnight window on consecutive days cannot overlap itself since end ≤ start).
    for (std::size_t j = i + 1; j < windows.size(); ++j) {
      for (const auto& a : ranges[i]) {
        for (const auto& b : ranges[j]) {
          if (a.first < b.second && b.first < a.second) {
            return std::make_pair(i, j);
          }
        }
      }
    }
  }
  return std::nullopt;
}

const TimeWindow* active_window(const std::vector<TimeWindow>& windows, const LocalTime& local) {
  const int minute =
      std::clamp(local.weekday, 0, 6) * kDay + std::clamp(local.minute_of_day, 0, kDay - 1);
  for (const auto& w : windows) {
    for (const auto& [begin, end] : week_ranges(w)) {
      if (minute >= begin && minute < end) {
        return &w;
      }
    }
  }
  return nullptr;
}

std::optional<SystemTime> next_window_change(const std::vector<TimeWindow>& windows,
                                             const TimeZone& zone, SystemTime now,
                                             Duration horizon) {
  if (windows.empty()) {
    return std::nullopt;
  }
  const TimeWindow* current = active_window(windows, zone.local(now));
  // Zone offsets are whole minutes, so local minute boundaries are UTC minute boundaries.
  SystemTime t = std::chrono::floor<std::chrono::minutes>(now) + std::chrono::minutes(1);
  const SystemTime end = now + std::chrono::duration_cast<SystemTime::duration>(horizon);
  for (int i = 0; i < 7 * 1440 && t <= end; ++i, t += std::chrono::minutes(1)) {
    if (active_window(windows, zone.local(t)) != current) {
      return t;
    }
  }
  return std::nullopt;
}

PolicyConfig apply_file(PolicyConfig c, const PolicyFile& file) {
  if (file.policy) {
    c.kind = *file.policy;
  }
  const PerformanceSettings& p = file.performance;
  if (p.base_fraction) {
    c.base_fraction = *p.base_fraction;
  }
  if (p.min) {
    c.min = *p.min;
  }
  if (p.max) {
    c.max = *p.max;
  }
  if (p.perf_pods_per_node) {
    c.perf_pods_per_node = *p.perf_pods_per_node;
  }
  if (p.performance_cap_watts) {
    c.performance_cap_watts = *p.performance_cap_watts;
  }
  if (p.eco_cap_watts) {
    c.eco_cap_watts = *p.eco_cap_watts;
  }
  c.windows = file.windows;
  c.hardware_classes = file.hardware_classes;
  if (file.topology) {
    c.topology = *file.topology;
  }
  if (file.stability) {
    c.stability = *file.stability;
  }
  if (file.signals.demand_forecast) {
    c.forecast_headroom = file.signals.demand_forecast->headroom;
  }
  return c;
}

}  // namespace joulie::policy
