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
  if (!is_fraction(c.static_hp_frac)) {
    return invalid(
        fmt::format("static hp fraction must be within [0,1], got {}", c.static_hp_frac));
  }
  if (!is_fraction(c.queue_hp_base_frac)) {
    return invalid(
        fmt::format("queue hp base fraction must be within [0,1], got {}", c.queue_hp_base_frac));
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
  const std::int64_t min = c.queue_hp_min < 0 ? 0 : c.queue_hp_min;
  std::int64_t max = c.queue_hp_max <= 0 ? nodes : c.queue_hp_max;
  if (max < min) {
    max = min;
  }
  const std::int64_t per_hp = perf_pods_per_node(c);

  const std::int64_t base = fraction_of(nodes, c.queue_hp_base_frac);
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
    c.static_hp_frac = *window->base_fraction;
    c.queue_hp_base_frac = *window->base_fraction;
  }
  if (window->min) {
    c.queue_hp_min = *window->min;
  }
  if (window->max) {
    c.queue_hp_max = *window->max;
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

std::int64_t perf_pods_per_node(const PolicyConfig& config) {
  return std::max<std::int64_t>(config.queue_perf_per_hp_node, 1);
}

Result<PolicyPlan> plan(const PolicyConfig& config, const PolicyInput& input) {
  const TimeWindow* window =
      input.context != nullptr ? active_window(config.windows, input.context->local) : nullptr;
  const PolicyConfig effective = in_window(config, window);

  if (config.kind == PolicyKind::context_aware_v1) {
    if (input.context != nullptr) {
      return plan_context_aware(effective, window, input.managed_nodes, *input.context,
                                input.explain);
    }
    Context bare;  // names only: no signals, no pods known
    bare.now = input.now;
    for (const auto& name : input.managed_nodes) {
      bare.nodes.push_back(NodeContext{});
      bare.nodes.back().name = name;
    }
    if (input.perf_sensitive_pods) {
      bare.pods_known = true;
      bare.workloads.cluster.unknown = *input.perf_sensitive_pods;
    }
    return plan_context_aware(effective, nullptr, input.managed_nodes, bare, input.explain);
  }

  const auto n = static_cast<std::int64_t>(input.managed_nodes.size());
  PolicyPlan out;
  out.policy_name = spec_name(config.kind);
  out.nodes.reserve(input.managed_nodes.size());
  out.performance_cap_watts = effective.performance_cap_watts;
  out.eco_cap_watts = effective.eco_cap_watts;

  std::int64_t eco_index = -1;  // rule_swap_v1: the single eco node
  switch (config.kind) {
    case PolicyKind::static_partition:
      out.performance_nodes = static_partition_count(n, effective.static_hp_frac);
      break;
    case PolicyKind::queue_aware_v1:
      out.performance_nodes =
          queue_aware_count(n, input.perf_sensitive_pods.value_or(0), effective);
      break;
    case PolicyKind::rule_swap_v1:
      if (config.interval < 1s) {
        return invalid(fmt::format("rule_swap_v1 needs an interval of at least 1s, got {}",
                                   format_duration(config.interval)));
      }
      eco_index = rule_swap_phase(input.now, config.interval);
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
    out.nodes.push_back({input.managed_nodes[static_cast<std::size_t>(i)],
                         performance ? api::Profile::performance : api::Profile::eco,
                         {}});
    if (input.explain && window != nullptr) {
      out.nodes.back().reasons.push_back(out.reasons.front());
    }
  }
  return out;
}

}  // namespace joulie::policy
