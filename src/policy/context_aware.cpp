// context_aware_v1 (docs/design.md#context-aware-policy): demand (queue-aware count raised by the
// forecast), which nodes (performance-pod hosts, zone minimums, temperature, PUE, name), stability
// (minDwell, changeBudget). Pure and deterministic: every ordering ends with the node name.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <unordered_map>

#include "context_fit.hpp"
#include "joulie/policy/policies.hpp"

namespace joulie::policy {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Candidate {
  std::size_t index = 0;  // into the managed list / the plan
  const NodeContext* node = nullptr;
  bool hosts = false;      // hosts performance-sensitive pods
  double temperature = 0;  // ranking key; ±inf when the signal is missing
  double pue = 0;
  double cap_loss = 0;  // performance − eco watts of its class (0 without classes)
  std::optional<double> temperature_value;
  std::optional<double> pue_value;
};

// Where a node sits now: an ActivePerformance node is on the performance side; a draining
// node is already on its way to eco.
bool on_performance_side(NodeState s) { return s == NodeState::active_performance; }

// A missing signal holds the node where it is: on the performance side it ranks first for
// performance, on the eco side last. So a signal going missing never downgrades a node.
double missing_key(const NodeContext& n) { return on_performance_side(n.state) ? -kInf : kInf; }

std::optional<double> finite(const Signal& s) {
  auto v = s.get();
  if (v && std::isfinite(*v)) {
    return v;
  }
  return std::nullopt;
}

std::optional<double> median(std::vector<double> values) {
  if (values.empty()) {
    return std::nullopt;
  }
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

std::string celsius_reason(double value, double med) {
  const double delta = value - med;
  if (std::fabs(delta) < 0.05) {
    return fmt::format("temperature {:.1f} °C, at the median", value);
  }
  return fmt::format("temperature {:.1f} °C, {:.1f} °C {} median", value, std::fabs(delta),
                     delta > 0 ? "above" : "below");
}

std::string duration_text(Duration d) {
  return format_duration(std::chrono::duration_cast<std::chrono::seconds>(d));
}

// Fit-aware demand: the nodes hosting performance pods, plus the performance nodes and upgrades
// the packing needs for the pending ones; the base fraction, min and max still bound it.
std::int64_t fit_aware_count(std::int64_t n, const PolicyConfig& c, std::int64_t per_node,
                             std::span<const NodeContext* const> nodes,
                             const detail::FitDemand& fit, bool keep_hosts,
                             std::vector<std::string>& reasons) {
  std::vector<bool> needed(nodes.size(), false);
  std::int64_t hosts = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (keep_hosts && nodes[i]->perf_pods > 0) {
      needed[i] = true;
      ++hosts;
    }
  }
  std::int64_t count = hosts;
  std::int64_t upgrades = 0;
  for (std::size_t i : fit.required) {
    if (!needed[i]) {
      needed[i] = true;
      ++count;
      upgrades += nodes[i]->state == NodeState::active_performance ? 0 : 1;
    }
  }
  const std::int64_t hp = queue_aware_count(n, count * per_node, c);
  std::int64_t placed = 0;
  for (auto p : fit.placed) {
    placed += p;
  }
  reasons.push_back(fmt::format(
      "demand: {} pending performance pod(s) fit {} node(s) ({} upgrade(s)), {} node(s) host "
      "performance pods; count {}",
      placed, fit.required.size(), upgrades, hosts, hp));
  if (fit.waiting > 0) {
    reasons.push_back(
        fmt::format("demand: {} pending performance pod(s) fit a node whose room the others took",
                    fit.waiting));
  }
  constexpr std::size_t kNamed = 10;
  for (std::size_t k = 0; k < fit.unschedulable.size() && k < kNamed; ++k) {
    reasons.push_back(fmt::format("unschedulable: {} fits no managed node even at performance: {}",
                                  fit.unschedulable[k].pod, fit.unschedulable[k].reason));
  }
  if (fit.unschedulable.size() > kNamed) {
    reasons.push_back(
        fmt::format("unschedulable: and {} more pod(s)", fit.unschedulable.size() - kNamed));
  }
  return hp;
}

// One context_aware_v1 plan in the making: the inputs, and what each step leaves for the next.
struct Planning {
  const PolicyConfig& c;
  const TimeWindow* window;
  std::span<const std::string> managed;
  const Context& ctx;
  bool explain;
  PolicyPlan out;
  std::vector<NodeContext> placeholders;  // managed nodes the context does not describe
  std::vector<const NodeContext*> nodes;  // aligned with `managed`
  std::int64_t hp = 0;                    // the performance count demand and forecast ask for
  std::vector<Candidate> cands;
  std::vector<std::size_t> order;  // most performance-worthy first
  bool use_temperature = false;
  bool use_pue = false;
  std::optional<double> temp_median;
  std::vector<bool> performance;
  std::vector<std::vector<std::string>> reasons;
  std::int64_t selected = 0;
  detail::ClassCaps caps;  // per-node class caps (hardware classes)
  detail::FitDemand fit;   // the pending pods' packing (fit-aware supply)
  std::vector<std::optional<SystemTime>> held_until;  // minDwell holds, aligned with `managed`
};

// The nodes, aligned with the managed list.
void align_nodes(Planning& p) {
  const Context& ctx = p.ctx;
  std::span<const std::string> managed = p.managed;
  std::vector<const NodeContext*>& nodes = p.nodes;
  std::vector<NodeContext>& placeholders = p.placeholders;
  nodes.assign(managed.size(), nullptr);
  bool aligned = ctx.nodes.size() == managed.size();
  for (std::size_t i = 0; aligned && i < managed.size(); ++i) {
    aligned = ctx.nodes[i].name == managed[i];
  }
  if (aligned) {
    for (std::size_t i = 0; i < managed.size(); ++i) {
      nodes[i] = &ctx.nodes[i];
    }
  } else {
    std::unordered_map<std::string_view, const NodeContext*> by_name;
    for (const auto& node : ctx.nodes) {
      by_name.emplace(node.name, &node);
    }
    placeholders.reserve(managed.size());
    for (std::size_t i = 0; i < managed.size(); ++i) {
      if (auto it = by_name.find(managed[i]); it != by_name.end()) {
        nodes[i] = it->second;
      } else {
        placeholders.push_back(NodeContext{});
        placeholders.back().name = managed[i];
        nodes[i] = &placeholders.back();
      }
    }
  }
}

// 1. Demand: the performance count from the pods, raised by the forecast.
void count_demand(Planning& p) {
  const PolicyConfig& c = p.c;
  const ContextAwareParts& parts = c.parts;
  const Context& ctx = p.ctx;
  std::span<const std::string> managed = p.managed;
  const auto n = static_cast<std::int64_t>(managed.size());
  PolicyPlan& out = p.out;
  std::int64_t& hp = p.hp;
  p.caps = detail::class_caps(c, p.window, p.nodes);
  if (parts.fit) {
    p.fit = detail::fit_demand(ctx, p.nodes, p.caps, ctx.profile_label);
  }
  const std::int64_t pods = ctx.pods_known ? ctx.workloads.cluster.perf_sensitive() : 0;
  hp = queue_aware_count(n, pods, c);
  const std::int64_t per_node = pods_per_performance_node(c);
  if (p.fit.active) {
    hp = fit_aware_count(n, c, per_node, p.nodes, p.fit, parts.keep_perf_pod_hosts, out.reasons);
  } else {
    out.reasons.push_back(
        ctx.pods_known
            ? fmt::format("demand: {} performance-sensitive pod(s) at {} per node; count {}", pods,
                          per_node, hp)
            : fmt::format("demand: pods unknown; count {} (no downgrade without pod data)", hp));
  }
  if (parts.forecast) {
    if (auto f = finite(ctx.demand_forecast); f && *f >= 0) {
      const double expected = *f * c.forecast_headroom;
      const auto forecast_pods = static_cast<std::int64_t>(std::ceil(std::min(expected, 9.0e15)));
      const std::int64_t raised = queue_aware_count(n, std::max(pods, forecast_pods), c);
      if (raised > hp) {
        out.reasons.push_back(
            fmt::format("forecast: {:.1f} pod(s) × headroom {} = {} raises the count from {} to {}",
                        *f, c.forecast_headroom, forecast_pods, hp, raised));
        hp = raised;
      } else {
        out.reasons.push_back(
            fmt::format("forecast: {:.1f} pod(s) × headroom {} needs no more than {}", *f,
                        c.forecast_headroom, hp));
      }
    } else if (ctx.demand_forecast.source.empty() == false ||
               ctx.demand_forecast.health != SignalHealth::missing) {
      out.reasons.push_back(
          fmt::format("forecast {}: ignored", to_string(ctx.demand_forecast.health)));
    }
  }
}

// 2. Ranking: pod hosts first, then coolest, then lowest PUE, then name.
void rank_nodes(Planning& p) {
  const PolicyConfig& c = p.c;
  const ContextAwareParts& parts = c.parts;
  const Context& ctx = p.ctx;
  std::span<const std::string> managed = p.managed;
  std::vector<const NodeContext*>& nodes = p.nodes;
  std::vector<Candidate>& cands = p.cands;
  std::vector<std::size_t>& order = p.order;
  bool& use_temperature = p.use_temperature;
  bool& use_pue = p.use_pue;
  std::optional<double>& temp_median = p.temp_median;
  // A signal family that is configured (some value has a source or a health other than plain
  // missing) but missing for a node holds that node on its side; one that is not configured
  // at all is no key (ties go to the name).
  auto configured = [](const Signal& s) {
    return !s.source.empty() || s.health != SignalHealth::missing;
  };
  bool temp_configured = false;
  for (const NodeContext* node : nodes) {
    temp_configured = temp_configured || configured(node->temperature_celsius);
  }
  bool pue_configured = configured(ctx.pue);
  for (const auto& [zone, signal] : ctx.zone_pue) {
    pue_configured = pue_configured || configured(signal);
  }
  use_temperature = parts.temperature && temp_configured;
  use_pue = parts.pue && pue_configured;
  std::vector<double> temps;
  cands.resize(managed.size());
  for (std::size_t i = 0; i < managed.size(); ++i) {
    const NodeContext& node = *nodes[i];
    Candidate& cand = cands[i];
    cand.index = i;
    cand.node = &node;
    cand.hosts = parts.keep_perf_pod_hosts && ctx.pods_known && node.perf_pods > 0;
    if (use_temperature) {
      cand.temperature_value = finite(node.temperature_celsius);
      if (cand.temperature_value) {
        temps.push_back(*cand.temperature_value);
      }
    }
    // A part switched off is no key at all; a missing signal holds the node on its side.
    cand.temperature = use_temperature ? cand.temperature_value.value_or(missing_key(node)) : 0;
    if (use_pue) {
      if (!ctx.zone_pue.empty()) {
        if (auto it = ctx.zone_pue.find(node.zone);
            !node.zone.empty() && it != ctx.zone_pue.end()) {
          cand.pue_value = finite(it->second);
        }
      } else {
        cand.pue_value = finite(ctx.pue);
      }
    }
    cand.pue = use_pue ? cand.pue_value.value_or(missing_key(node)) : 0;
    cand.cap_loss =
        p.caps.any_class ? p.caps.caps[i].performance_watts - p.caps.caps[i].eco_watts : 0;
  }
  temp_median = median(std::move(temps));

  order.resize(managed.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  // The operator hands the managed list sorted and unique: the name tie-break is then the index
  // order, without comparing thousands of names per pass.
  const bool by_index =
      std::adjacent_find(managed.begin(), managed.end(), std::greater_equal<>()) == managed.end();
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const Candidate& x = cands[a];
    const Candidate& y = cands[b];
    if (x.hosts != y.hosts) {
      return x.hosts;
    }
    if (x.temperature != y.temperature) {
      return x.temperature < y.temperature;
    }
    if (x.pue != y.pue) {
      return x.pue < y.pue;
    }
    // Hardware classes: the node that would lose the most watts to its eco cap runs performance.
    if (x.cap_loss != y.cap_loss) {
      return x.cap_loss > y.cap_loss;
    }
    return by_index ? a < b : managed[a] < managed[b];
  });
}

// The nodes the pending pods need: performance nodes with room for them, then the upgrades
// in the packing's order (never a node none of them fits), up to the count.
void choose_fit_required(Planning& p) {
  for (std::size_t i : p.fit.required) {
    if (p.selected >= p.hp) {
      break;
    }
    if (!p.performance[i]) {
      p.performance[i] = true;
      ++p.selected;
      if (p.explain) {
        p.reasons[i].push_back(
            fmt::format("{} pending performance pod(s) fit here", p.fit.placed[i]));
      }
    }
  }
}

// hardwareClasses[].min: each class keeps min(min, class size) performance nodes, its
// best-ranked ones; a hard floor like the zone minimum.
void select_class_minimums(Planning& p) {
  const PolicyConfig& c = p.c;
  const detail::ClassCaps& caps = p.caps;
  const std::vector<std::size_t>& order = p.order;
  std::vector<bool>& performance = p.performance;
  std::int64_t& selected = p.selected;
  std::vector<std::vector<std::string>>& reasons = p.reasons;
  std::vector<std::string>& plan_reasons = p.out.reasons;
  const bool explain = p.explain;
  if (!caps.any_class) {
    return;
  }
  for (std::size_t k = 0; k < c.hardware_classes.size(); ++k) {
    const auto& cls = c.hardware_classes[k];
    if (!cls.min || *cls.min <= 0) {
      continue;
    }
    std::int64_t have = 0;
    for (std::size_t i : order) {
      have += caps.class_index[i] == static_cast<std::ptrdiff_t>(k) && performance[i] ? 1 : 0;
    }
    const std::int64_t before = have;
    for (std::size_t i : order) {
      if (have >= *cls.min) {
        break;
      }
      if (caps.class_index[i] == static_cast<std::ptrdiff_t>(k) && !performance[i]) {
        performance[i] = true;
        ++have;
        ++selected;
        if (explain) {
          reasons[i].push_back(fmt::format("hardware class {}: minimum {}", cls.name, *cls.min));
        }
      }
    }
    if (have > before) {
      plan_reasons.push_back(fmt::format("hardware class {}: minimum {} adds {} node(s)", cls.name,
                                         *cls.min, have - before));
    }
  }
}

// 3. Which nodes: pod hosts, zone minimums, then the ranking, up to the count.
void choose_nodes(Planning& p) {
  const PolicyConfig& c = p.c;
  const ContextAwareParts& parts = c.parts;
  std::span<const std::string> managed = p.managed;
  const bool explain = p.explain;
  const TimeWindow* window = p.window;
  PolicyPlan& out = p.out;
  std::vector<const NodeContext*>& nodes = p.nodes;
  std::int64_t& hp = p.hp;
  std::vector<Candidate>& cands = p.cands;
  std::vector<std::size_t>& order = p.order;
  std::vector<bool>& performance = p.performance;
  std::vector<std::vector<std::string>>& reasons = p.reasons;
  std::int64_t& selected = p.selected;
  performance.assign(managed.size(), false);
  reasons.resize(managed.size());
  if (explain && window != nullptr) {
    const std::string w = window_reason(*window, PolicyKind::context_aware_v1);
    for (auto& r : reasons) {
      r.push_back(w);
    }
  }
  selected = 0;
  // Hosts of performance-sensitive pods first (fewest drains), up to the count.
  for (std::size_t i : order) {
    if (selected >= hp || !cands[i].hosts) {
      break;
    }
    performance[i] = true;
    ++selected;
    if (explain)
      reasons[i].push_back(
          fmt::format("hosts {} performance-sensitive pod(s)", nodes[i]->perf_pods));
  }
  choose_fit_required(p);
  select_class_minimums(p);
  // Zone minimums: a hard floor, it may raise the count.
  const std::int64_t zone_min = c.topology.min_performance_per_zone;
  if (parts.zone_minimum && zone_min > 0) {
    std::map<std::string, std::int64_t> have;
    std::map<std::string, std::int64_t> size;
    for (std::size_t i = 0; i < managed.size(); ++i) {
      if (!nodes[i]->zone.empty()) {
        ++size[nodes[i]->zone];
        have[nodes[i]->zone] += performance[i] ? 1 : 0;
      }
    }
    const std::int64_t before = selected;
    for (std::size_t i : order) {
      const std::string& zone = nodes[i]->zone;
      if (zone.empty() || performance[i]) {
        continue;
      }
      if (have[zone] < std::min(zone_min, size[zone])) {
        performance[i] = true;
        ++have[zone];
        ++selected;
        if (explain) reasons[i].push_back(fmt::format("zone {}: minimum {}", zone, zone_min));
      }
    }
    if (selected > std::max(before, hp)) {
      out.reasons.push_back(
          fmt::format("zone minimum {} raises the count from {} to {}", zone_min, hp, selected));
    }
  }
  // The rest by preference: coolest, then lowest PUE, then name.
  for (std::size_t i : order) {
    if (selected >= hp) {
      break;
    }
    if (!performance[i]) {
      performance[i] = true;
      ++selected;
      if (explain) reasons[i].push_back(fmt::format("ranked among the {} performance node(s)", hp));
    }
  }
}

// Why each node got its profile (explain).
void explain_choices(Planning& p) {
  const Context& ctx = p.ctx;
  std::span<const std::string> managed = p.managed;
  const bool explain = p.explain;
  std::vector<const NodeContext*>& nodes = p.nodes;
  std::int64_t& hp = p.hp;
  std::vector<Candidate>& cands = p.cands;
  std::vector<bool>& performance = p.performance;
  std::vector<std::vector<std::string>>& reasons = p.reasons;
  bool& use_temperature = p.use_temperature;
  bool& use_pue = p.use_pue;
  std::optional<double>& temp_median = p.temp_median;
  for (std::size_t i = 0; i < managed.size(); ++i) {
    if (!performance[i]) {
      if (explain)
        reasons[i].push_back(cands[i].hosts
                                 ? fmt::format("hosts {} performance-sensitive pod(s), but more "
                                               "hosts than the {} performance node(s)",
                                               nodes[i]->perf_pods, hp)
                                 : fmt::format("ranked beyond the {} performance node(s)", hp));
    }
    if (use_temperature) {
      if (cands[i].temperature_value && temp_median) {
        if (explain)
          reasons[i].push_back(celsius_reason(*cands[i].temperature_value, *temp_median));
      } else if (!cands[i].temperature_value &&
                 nodes[i]->temperature_celsius.health != SignalHealth::missing) {
        if (explain)
          reasons[i].push_back(fmt::format("temperature {}: no preference, kept on its side",
                                           to_string(nodes[i]->temperature_celsius.health)));
      }
    }
    if (use_pue && cands[i].pue_value && !ctx.zone_pue.empty()) {
      if (explain)
        reasons[i].push_back(
            fmt::format("zone {} PUE {:.2f}", nodes[i]->zone, *cands[i].pue_value));
    }
  }
}

// 4. Stability: minDwell and the change budget hold downgrades that would start now.
void hold_for_stability(Planning& p) {
  const PolicyConfig& c = p.c;
  const ContextAwareParts& parts = c.parts;
  const Context& ctx = p.ctx;
  std::span<const std::string> managed = p.managed;
  const auto n = static_cast<std::int64_t>(managed.size());
  const bool explain = p.explain;
  PolicyPlan& out = p.out;
  std::vector<const NodeContext*>& nodes = p.nodes;
  std::vector<std::size_t>& order = p.order;
  std::vector<bool>& performance = p.performance;
  std::vector<std::vector<std::string>>& reasons = p.reasons;
  std::int64_t& selected = p.selected;
  // Only downgrades that would START now (ActivePerformance planned eco) are held: a draining
  // node continues, an upgrade is never delayed.
  if (parts.stability) {
    const Duration dwell = c.stability.min_dwell;
    std::vector<std::size_t> starting;
    // Most eco-worthy first: the reverse of the ranking (no pod hosts, hottest, highest PUE).
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      const std::size_t i = *it;
      if (performance[i] || nodes[i]->state != NodeState::active_performance) {
        continue;
      }
      if (dwell > Duration::zero() && nodes[i]->last_transition) {
        const Duration in_state = ctx.now - *nodes[i]->last_transition;
        if (in_state < dwell) {
          performance[i] = true;
          p.held_until[i] = *nodes[i]->last_transition + dwell;
          ++selected;
          if (explain)
            reasons[i].push_back(fmt::format("minDwell {}: {} left in ActivePerformance",
                                             duration_text(dwell),
                                             duration_text(dwell - in_state)));
          continue;
        }
      }
      starting.push_back(i);
    }
    if (c.stability.change_budget) {
      const std::int64_t budget = c.stability.change_budget->allowed(n);
      std::int64_t used = 0;
      for (std::size_t i : starting) {
        if (used < budget) {
          ++used;
          if (explain) reasons[i].push_back(fmt::format("budget: {} of {} used", used, budget));
        } else {
          performance[i] = true;
          ++selected;
          if (explain)
            reasons[i].push_back(fmt::format(
                "budget: {} of {} used; downgrade waits for a later pass", budget, budget));
        }
      }
      if (static_cast<std::int64_t>(starting.size()) > budget) {
        out.reasons.push_back(
            fmt::format("budget: {} of {} downgrade(s) start this pass", budget, starting.size()));
      }
    }
  }
}

}  // namespace

PolicyPlan plan_context_aware(const PolicyConfig& c, const TimeWindow* window,
                              std::span<const std::string> managed, const Context& ctx,
                              bool explain) {
  Planning p{c,  window, managed, ctx, explain, {}, {}, {}, 0,  {},
             {}, false,  false,   {},  {},      {}, 0,  {}, {}, {}};
  PolicyPlan& out = p.out;
  out.policy_name = spec_name(PolicyKind::context_aware_v1);
  out.performance_cap_watts = c.performance_cap_watts;
  out.eco_cap_watts = c.eco_cap_watts;
  if (window != nullptr) {
    out.window = window->name;
    out.reasons.push_back(window_reason(*window, PolicyKind::context_aware_v1));
  }
  align_nodes(p);
  count_demand(p);
  rank_nodes(p);
  choose_nodes(p);
  explain_choices(p);
  p.held_until.assign(managed.size(), std::nullopt);
  hold_for_stability(p);
  out.performance_nodes = p.selected;
  out.nodes.reserve(managed.size());
  for (std::size_t i = 0; i < managed.size(); ++i) {
    out.nodes.push_back({managed[i],
                         p.performance[i] ? api::Profile::performance : api::Profile::eco,
                         std::move(p.reasons[i])});
    out.nodes.back().held_until = p.held_until[i];
    if (p.caps.class_index[i] >= 0) {
      out.nodes.back().performance_cap_watts = p.caps.caps[i].performance_watts;
      out.nodes.back().eco_cap_watts = p.caps.caps[i].eco_watts;
    }
  }
  if (p.caps.fell_back > 0) {
    out.reasons.push_back(fmt::format(
        "hardware classes: {} node(s) have no package maximum reported yet; their fraction caps "
        "use the default watts",
        p.caps.fell_back));
  }
  out.unschedulable = p.fit.unschedulable;
  return out;
}

}  // namespace joulie::policy
