#include "joulie/policy/overrides.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace joulie::policy {

Pin parse_pin(std::optional<std::string_view> value) {
  if (!value || value->empty() || *value == "none") {
    return Pin::none;
  }
  if (*value == "performance") {
    return Pin::performance;
  }
  if (*value == "eco") {
    return Pin::eco;
  }
  return Pin::invalid;
}

namespace {

std::string pause_reason(const Overrides& o) {
  return o.pause_note.empty()
             ? std::string("paused (joulie-control): every cap lifted")
             : fmt::format("paused (joulie-control: {}): every cap lifted", o.pause_note);
}

}  // namespace

std::size_t apply_overrides(PolicyPlan& plan, const Overrides& overrides) {
  std::size_t changed = 0;
  if (overrides.paused) {
    plan.reasons.push_back(pause_reason(overrides) + " until `kubectl joulie resume`");
  }
  for (NodeDesire& n : plan.nodes) {
    const auto pin_it = overrides.pins.find(n.node);
    const std::optional<std::string_view> raw =
        pin_it == overrides.pins.end() ? std::nullopt
                                       : std::optional<std::string_view>(pin_it->second);
    const Pin pin = parse_pin(raw);
    std::optional<api::Profile> want;
    if (overrides.paused) {
      want = api::Profile::performance;
      n.reasons.push_back(pause_reason(overrides));
      if (pin == Pin::eco) {
        n.reasons.push_back("pin eco (joulie.io/pin) not applied while paused");
      }
    } else if (pin == Pin::performance || pin == Pin::eco) {
      want = pin == Pin::performance ? api::Profile::performance : api::Profile::eco;
      n.reasons.push_back(fmt::format("pinned {} (joulie.io/pin); the policy wanted {}",
                                      api::to_string(*want), api::to_string(n.profile)));
    } else if (pin == Pin::invalid) {
      n.reasons.push_back(
          fmt::format("joulie.io/pin=\"{}\" ignored: the value must be performance or eco", *raw));
    }
    if (want) {
      n.held_until.reset();  // the override decides, not the policy's minDwell
    }
    if (want && *want != n.profile) {
      n.profile = *want;
      ++changed;
    }
  }
  plan.performance_nodes = static_cast<std::int64_t>(
      std::count_if(plan.nodes.begin(), plan.nodes.end(),
                    [](const NodeDesire& n) { return n.profile == api::Profile::performance; }));
  return changed;
}

}  // namespace joulie::policy
