// The policy's view of a pass (docs/design.md#the-policy-snapshot) and what the pass reports
// about it (the explain of docs/design.md#context-aware-policy).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "joulie/common/duration.hpp"
#include "joulie/operator/reconciler.hpp"
#include "joulie/policy/write_planner.hpp"

namespace joulie::operator_mode {

policy::Context make_policy_context(const Snapshot& snapshot, const policy::TimeZone& zone) {
  // The ContextProvider assembled the per-node view once (fill_policy_context: metadata, pod
  // counts by class, last transitions) and the signals; only the local time is the policy
  // configuration's.
  policy::Context c = snapshot.context;
  c.local = zone.local(snapshot.now);
  return c;
}

std::string format_local(const policy::LocalTime& l) {
  const int off = std::abs(l.utc_offset_seconds) / 60;
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:{:02}", l.year, l.month, l.day,
                     l.minute_of_day / 60, l.minute_of_day % 60, l.second,
                     l.utc_offset_seconds < 0 ? '-' : '+', off / 60, off % 60);
}

namespace {

bool present(const policy::Signal& s) {
  return !s.source.empty() || s.health != policy::SignalHealth::missing;
}

NodeSignalReport node_report(const policy::Signal& s, SystemTime now) {
  NodeSignalReport r;
  r.health = std::string(policy::to_string(s.health));
  if (s.usable() && std::isfinite(s.value)) {
    r.value = s.value;
  }
  if (s.sampled_at != SystemTime{}) {
    r.age_seconds = std::round(policy::age_seconds(s, now) * 1000) / 1000;
  }
  r.message = s.message;
  return r;
}

SignalReport scalar_report(std::string name, const policy::Signal& s, SystemTime now) {
  // The same reading as a node's, plus the name and the source.
  NodeSignalReport n = node_report(s, now);
  SignalReport r;
  r.name = std::move(name);
  r.health = std::move(n.health);
  r.source = s.source;
  r.value = n.value;
  r.age_seconds = n.age_seconds;
  r.message = std::move(n.message);
  return r;
}

}  // namespace

PassContext Reconciler::explain(const policy::Context& ctx, const policy::PolicyPlan& plan) const {
  PassContext out;
  out.time_zone = ctx.local.time_zone;
  out.local_time = format_local(ctx.local);
  out.abbreviation = ctx.local.abbreviation;
  out.window = plan.window;
  out.reasons = plan.reasons;

  auto per_node = [&](std::string name, bool configured,
                      const policy::Signal policy::NodeContext::*field) {
    // A family neither configured nor present on any node is not reported: found before its
    // per-node readings are built (thousands of map entries a pass would throw away).
    const bool any = configured || std::any_of(ctx.nodes.begin(), ctx.nodes.end(),
                                               [&](const auto& n) { return present(n.*field); });
    if (!any) {
      return;
    }
    SignalReport r;
    r.name = std::move(name);
    r.per_node = true;
    double oldest = -1;
    for (const auto& n : ctx.nodes) {
      const policy::Signal& s = n.*field;
      r.by_node.emplace(n.name, node_report(s, ctx.now));
      switch (s.health) {
        case policy::SignalHealth::ok:
          ++r.ok;
          oldest = std::max(oldest, policy::age_seconds(s, ctx.now));
          if (r.source.empty()) {
            r.source = s.source;
          }
          break;
        case policy::SignalHealth::stale:
          ++r.stale;
          break;
        case policy::SignalHealth::missing:
          ++r.missing;
          break;
        case policy::SignalHealth::error:
          ++r.error;
          break;
      }
    }
    r.health = r.error > 0 ? "error" : r.missing > 0 ? "missing" : r.stale > 0 ? "stale" : "ok";
    if (oldest >= 0) {
      r.age_seconds = std::round(oldest * 1000) / 1000;
    }
    out.signals.push_back(std::move(r));
  };
  per_node("nodeTemperature", options_.signals.node_temperature.has_value(),
           &policy::NodeContext::temperature_celsius);
  per_node("nodePower", options_.signals.node_power.has_value(), &policy::NodeContext::power_watts);
  if (options_.signals.pue || present(ctx.pue) || !ctx.zone_pue.empty()) {
    if (ctx.zone_pue.empty()) {
      out.signals.push_back(scalar_report("pue", ctx.pue, ctx.now));
    }
    for (const auto& [zone, s] : ctx.zone_pue) {
      out.signals.push_back(scalar_report(fmt::format("pue{{zone={}}}", zone), s, ctx.now));
    }
  }
  if (options_.signals.ambient || present(ctx.ambient_celsius) ||
      !ctx.zone_ambient_celsius.empty()) {
    if (ctx.zone_ambient_celsius.empty()) {
      out.signals.push_back(scalar_report("ambientCelsius", ctx.ambient_celsius, ctx.now));
    }
    for (const auto& [zone, s] : ctx.zone_ambient_celsius) {
      out.signals.push_back(
          scalar_report(fmt::format("ambientCelsius{{zone={}}}", zone), s, ctx.now));
    }
  }
  if (options_.signals.demand_forecast || present(ctx.demand_forecast)) {
    out.signals.push_back(scalar_report("demandForecast", ctx.demand_forecast, ctx.now));
  }
  return out;
}

}  // namespace joulie::operator_mode
