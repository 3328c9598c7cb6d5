#include "joulie/policy/policies.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace joulie::policy {
namespace {

using namespace std::chrono_literals;

Error invalid(std::string message) { return Error(Errc::invalid_argument, std::move(message)); }

bool is_fraction(double f) { return std::isfinite(f) && f >= 0.0 && f <= 1.0; }
bool is_cap(double w) { return std::isfinite(w) && w >= 1.0; }

// floor(a / b) for b > 0, correct for negative a.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && (a < 0)) {
    --q;
  }
  return q;
}

// hp = round(N × frac); a NaN fraction (only reachable if validation was skipped) means all
// performance — the side that never hurts workloads.
std::int64_t fraction_of(std::int64_t nodes, double frac) {
  if (std::isnan(frac)) {
    return nodes;
  }
  return round_half_away(static_cast<double>(nodes) * frac);
}

}  // namespace

std::string_view config_name(PolicyKind kind) {
  switch (kind) {
    case PolicyKind::static_partition:
      return "static_partition";
    case PolicyKind::queue_aware_v1:
      return "queue_aware_v1";
    case PolicyKind::rule_swap_v1:
      return "rule_swap_v1";
    case PolicyKind::context_aware_v1:
      return "context_aware_v1";
  }
  return "static_partition";
}

std::string_view spec_name(PolicyKind kind) {
  switch (kind) {
    case PolicyKind::static_partition:
      return "static-partition-v1";
    case PolicyKind::queue_aware_v1:
      return "queue-aware-v1";
    case PolicyKind::rule_swap_v1:
      return "rule-swap-v1";
    case PolicyKind::context_aware_v1:
      return "context-aware-v1";
  }
  return "static-partition-v1";
}

Result<PolicyKind> parse_policy_kind(std::string_view name) {
  for (auto kind : {PolicyKind::static_partition, PolicyKind::queue_aware_v1,
                    PolicyKind::rule_swap_v1, PolicyKind::context_aware_v1}) {
    if (name == config_name(kind)) {
      return kind;
    }
  }
  return invalid(
      fmt::format("unknown policy \"{}\" (want static_partition, queue_aware_v1, rule_swap_v1 or "
                  "context_aware_v1)",
                  name));
}

Status validate(const PolicyConfig& c) {
  if (!is_fraction(base_fraction(c))) {
    return invalid(
        fmt::format("performance.baseFraction must be within [0,1], got {}", base_fraction(c)));
  }
  if (!is_cap(c.performance_cap_watts)) {
    return invalid(
        fmt::format("performance cap must be at least 1 W, got {}", c.performance_cap_watts));
  }
  if (!is_cap(c.eco_cap_watts)) {
    return invalid(fmt::format("eco cap must be at least 1 W, got {}", c.eco_cap_watts));
  }
  if (c.kind == PolicyKind::rule_swap_v1 && c.interval < 1s) {
    return invalid(fmt::format("rule_swap_v1 needs an interval of at least 1s, got {}",
                               format_duration(c.interval)));
  }
  return Status::success();
}

double default_base_fraction(PolicyKind kind) {
  return kind == PolicyKind::static_partition ? 0.5 : 0.6;
}

double base_fraction(const PolicyConfig& config) {
  return config.base_fraction.value_or(default_base_fraction(config.kind));
}

double cap_watts(const PolicyConfig& config, api::Profile profile) {
  return profile == api::Profile::performance ? config.performance_cap_watts : config.eco_cap_watts;
}

std::int64_t round_half_away(double x) {
  // std::round rounds halves away from zero (Go's math.Round). Saturate instead of overflowing.
  constexpr double kLimit = 9.2e18;
  if (std::isnan(x)) {
    return 0;
  }
  const double r = std::round(std::clamp(x, -kLimit, kLimit));
  return static_cast<std::int64_t>(r);
}

std::int64_t static_partition_count(std::int64_t nodes, double hp_frac) {
  return std::clamp<std::int64_t>(fraction_of(nodes, hp_frac), 0, nodes);
}

std::int64_t queue_aware_count(std::int64_t nodes, std::int64_t perf_sensitive_pods,
                               const PolicyConfig& c) {
  const std::int64_t min = c.min < 0 ? 0 : c.min;
  std::int64_t max = c.max <= 0 ? nodes : c.max;
  if (max < min) {
    max = min;
  }
  const std::int64_t per_hp = pods_per_performance_node(c);

  const std::int64_t base = fraction_of(nodes, base_fraction(c));
  const std::int64_t pods = std::max<std::int64_t>(perf_sensitive_pods, 0);
  const std::int64_t need = pods / per_hp + (pods % per_hp != 0 ? 1 : 0);
  std::int64_t hp = std::max(base, need);
  hp = std::clamp(hp, min, max);
  return std::clamp<std::int64_t>(hp, 0, nodes);
}

int rule_swap_phase(SystemTime now, Duration interval) {
  // Milliseconds keep the arithmetic exact and far from overflow; for whole-second intervals
  // this equals floor(floor(unix seconds) / interval seconds).
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const auto interval_ms = std::max<std::int64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(interval).count(), 1);
  return static_cast<int>(floor_div(now_ms, interval_ms) & 1);
}

PolicyConfig in_window(const PolicyConfig& config, const TimeWindow* window) {
  PolicyConfig c = config;
  if (window == nullptr) {
    return c;
  }
  if (window->base_fraction) {
    c.base_fraction = *window->base_fraction;
  }
  if (window->min) {
    c.min = *window->min;
  }
  if (window->max) {
    c.max = *window->max;
  }
  if (window->eco_cap_watts) {
    c.eco_cap_watts = *window->eco_cap_watts;
  }
  return c;
}

std::string window_reason(const TimeWindow& w, PolicyKind kind) {
  std::string out = fmt::format("window {}:", w.name);
  const bool fraction_used = kind != PolicyKind::rule_swap_v1;
  const bool bounds_used =
      kind == PolicyKind::queue_aware_v1 || kind == PolicyKind::context_aware_v1;
  if (w.base_fraction && fraction_used) {
    out += fmt::format(" baseFraction {}", *w.base_fraction);
  }
  if (w.min && bounds_used) {
    out += fmt::format(" min {}", *w.min);
  }
  if (w.max && bounds_used) {
    out += fmt::format(" max {}", *w.max);
  }
  if (w.eco_cap_watts) {
    out += fmt::format(" ecoCapWatts {}", *w.eco_cap_watts);
  }
  return out;
}

std::int64_t pods_per_performance_node(const PolicyConfig& config) {
  return std::max<std::int64_t>(config.perf_pods_per_node, 1);
}

Result<PolicyPlan> plan(const PolicyConfig& config, const PolicyInput& input) {
  const Context& context = input.context;
  const TimeWindow* window = active_window(config.windows, context.local);
  const PolicyConfig effective = in_window(config, window);
  if (config.kind == PolicyKind::context_aware_v1) {
    std::vector<std::string> names;
    names.reserve(context.nodes.size());
    for (const NodeContext& node : context.nodes) {
      names.push_back(node.name);
    }
    return plan_context_aware(effective, window, names, context, input.explain);
  }

  const auto n = static_cast<std::int64_t>(context.nodes.size());
  PolicyPlan out;
  out.policy_name = spec_name(config.kind);
  out.nodes.reserve(context.nodes.size());
  out.performance_cap_watts = effective.performance_cap_watts;
  out.eco_cap_watts = effective.eco_cap_watts;

  std::int64_t eco_index = -1;  // rule_swap_v1: the single eco node
  switch (config.kind) {
    case PolicyKind::static_partition:
      out.performance_nodes = static_partition_count(n, base_fraction(effective));
      break;
    case PolicyKind::queue_aware_v1:
      out.performance_nodes = queue_aware_count(
          n, context.pods_known ? context.workloads.cluster.perf_sensitive() : 0, effective);
      break;
    case PolicyKind::rule_swap_v1:
      if (config.interval < 1s) {
        return invalid(fmt::format("rule_swap_v1 needs an interval of at least 1s, got {}",
                                   format_duration(config.interval)));
      }
      eco_index = rule_swap_phase(context.now, config.interval);
      out.performance_nodes = eco_index < n ? n - 1 : n;
      break;
    case PolicyKind::context_aware_v1:
      break;  // handled above
  }
  if (window != nullptr) {
    out.window = window->name;
    out.reasons.push_back(window_reason(*window, config.kind));
  }

  for (std::int64_t i = 0; i < n; ++i) {
    const bool performance =
        config.kind == PolicyKind::rule_swap_v1 ? i != eco_index : i < out.performance_nodes;
    out.nodes.push_back({context.nodes[static_cast<std::size_t>(i)].name,
                         performance ? api::Profile::performance : api::Profile::eco,
                         {}});
    if (input.explain && window != nullptr) {
      out.nodes.back().reasons.push_back(out.reasons.front());
    }
  }
  return out;
}

}  // namespace joulie::policy
