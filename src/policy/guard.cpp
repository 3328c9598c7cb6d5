#include "joulie/policy/guard.hpp"

#include "joulie/api/names.hpp"

namespace joulie::policy {

std::string_view to_string(NodeState state) {
  switch (state) {
    case NodeState::active_performance:
      return "ActivePerformance";
    case NodeState::draining_performance:
      return "DrainingPerformance";
    case NodeState::active_eco:
      return "ActiveEco";
  }
  return "ActivePerformance";
}

NodeState state_from_label(std::optional<std::string_view> label) {
  if (label == api::kProfileEco) {
    return NodeState::active_eco;
  }
  if (label == api::kProfileDrainingPerformance) {
    return NodeState::draining_performance;
  }
  return NodeState::active_performance;
}

std::string_view label_value(NodeState state) {
  switch (state) {
    case NodeState::active_performance:
      return api::kProfilePerformance;
    case NodeState::draining_performance:
      return api::kProfileDrainingPerformance;
    case NodeState::active_eco:
      return api::kProfileEco;
  }
  return api::kProfilePerformance;
}

DesiredWrite desired_write(NodeState state, double performance_cap_watts, double eco_cap_watts) {
  if (state == NodeState::active_eco) {
    return {api::Profile::eco, eco_cap_watts, label_value(state)};
  }
  return {api::Profile::performance, performance_cap_watts, label_value(state)};
}

std::string_view to_string(GuardResult result) {
  switch (result) {
    case GuardResult::applied:
      return "applied";
    case GuardResult::deferred:
      return "deferred";
    case GuardResult::forced:
      return "forced";
    case GuardResult::unchanged:
      return "unchanged";
  }
  return "unchanged";
}

std::string_view reason(NodeEvent event) {
  switch (event) {
    case NodeEvent::none:
      return "";
    case NodeEvent::power_profile_changed:
      return "PowerProfileChanged";
    case NodeEvent::downgrade_deferred:
      return "DowngradeDeferred";
    case NodeEvent::drain_forced:
      return "DrainForced";
  }
  return "";
}

namespace {

using S = NodeState;
using R = GuardResult;

GuardDecision move_to(S from, S to, R result, NodeEvent event) {
  GuardDecision d;
  d.next = to;
  d.result = result;
  d.transitions.push_back({from, to, result});
  d.event = event;
  return d;
}

// The downgrade did not happen this pass; the attempted transition is still counted so a stuck
// drain is visible in the metric.
GuardDecision hold(S state) {
  GuardDecision d;
  d.next = state;
  d.result = R::deferred;
  d.transitions.push_back({state, S::active_eco, R::deferred});
  return d;
}

GuardDecision decide(const GuardInput& in) {
  const auto& pods = in.perf_sensitive_pods;
  if (in.desired == api::Profile::performance) {
    if (in.current == S::active_performance) {
      return GuardDecision{};  // unchanged
    }
    // Upgrades are never guarded; this also cancels a drain.
    return move_to(in.current, S::active_performance, R::applied, NodeEvent::power_profile_changed);
  }

  switch (in.current) {
    case S::active_eco: {
      GuardDecision d;
      d.next = S::active_eco;
      return d;
    }
    case S::active_performance:
      if (!pods) {
        return hold(S::active_performance);  // no pod data: fail safe, do not even start a drain
      }
      if (*pods == 0) {
        return move_to(S::active_performance, S::active_eco, R::applied,
                       NodeEvent::power_profile_changed);
      }
      {
        // The downgrade is deferred and the node starts draining: two records, one event.
        GuardDecision d;
        d.next = S::draining_performance;
        d.result = R::deferred;
        d.transitions.push_back({S::active_performance, S::active_eco, R::deferred});
        d.transitions.push_back({S::active_performance, S::draining_performance, R::applied});
        d.event = NodeEvent::downgrade_deferred;
        return d;
      }
    case S::draining_performance:
      if (!pods) {
        return hold(S::draining_performance);  // never force on missing data
      }
      if (*pods == 0) {
        return move_to(S::draining_performance, S::active_eco, R::applied,
                       NodeEvent::power_profile_changed);
      }
      if (in.drain_timeout > Duration::zero() && in.draining_since &&
          in.now - *in.draining_since >= in.drain_timeout) {
        return move_to(S::draining_performance, S::active_eco, R::forced, NodeEvent::drain_forced);
      }
      return hold(S::draining_performance);
  }
  return GuardDecision{};
}

}  // namespace

GuardDecision evaluate_guard(const GuardInput& input) {
  GuardDecision d = decide(input);
  // The annotation exists exactly while the node drains. A drain found without one (annotation
  // lost) starts its timeout now rather than never.
  if (d.next == S::draining_performance) {
    d.draining_since = input.draining_since ? DrainingSinceWrite::keep : DrainingSinceWrite::set;
  } else {
    d.draining_since = input.draining_since ? DrainingSinceWrite::clear : DrainingSinceWrite::keep;
  }
  return d;
}

}  // namespace joulie::policy
