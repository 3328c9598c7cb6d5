#include "joulie/policy/hardware_class.hpp"

#include <cmath>

namespace joulie::policy {

std::optional<std::size_t> class_of(const std::vector<HardwareClass>& classes,
                                    const api::Labels& labels) {
  for (std::size_t i = 0; i < classes.size(); ++i) {
    if (classes[i].selector.matches(labels)) {
      return i;
    }
  }
  return std::nullopt;
}

ResolvedCap resolve_cap(const std::optional<CapValue>& cap, std::optional<double> package_max_watts,
                        double fallback) {
  if (!cap) {
    return {fallback, false, false};
  }
  if (!cap->fraction) {
    return {cap->value, false, false};
  }
  if (!package_max_watts || !std::isfinite(*package_max_watts) || *package_max_watts <= 0) {
    return {fallback, true, true};
  }
  // Never below 10 W, the NodePowerProfile's minimum cap (a tiny fraction would be refused).
  return {std::max(10.0, cap->value * *package_max_watts), true, false};
}

NodeCaps caps_for_node(const HardwareClass* cls, const TimeWindow* window,
                       std::optional<double> package_max_watts, double default_performance_watts,
                       double default_eco_watts) {
  NodeCaps out;
  if (cls == nullptr) {
    out.performance_watts = default_performance_watts;
    out.eco_watts = default_eco_watts;
    return out;
  }
  const ResolvedCap perf =
      resolve_cap(cls->performance_cap, package_max_watts, default_performance_watts);
  std::optional<CapValue> eco = cls->eco_cap;
  if (window != nullptr) {
    for (const auto& [name, cap] : window->class_eco_caps) {
      if (name == cls->name) {
        eco = cap;
      }
    }
  }
  const ResolvedCap e = resolve_cap(eco, package_max_watts, default_eco_watts);
  out.performance_watts = perf.watts;
  out.eco_watts = e.watts;
  out.fell_back = perf.fell_back || e.fell_back;
  return out;
}

}  // namespace joulie::policy
