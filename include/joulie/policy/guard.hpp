#pragma once
// The StateGuard (docs/design.md#state-machine-and-downgrade-guard): a node's current state (from
// its label), the policy's desired profile and the node's performance-sensitive pods → the next
// state, what happened, and what must be written. Pure: the caller passes the time and persists
// draining-since.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "joulie/api/types.hpp"
#include "joulie/common/clock.hpp"
#include "joulie/common/duration.hpp"
#include "joulie/common/result.hpp"

namespace joulie::policy {

enum class NodeState { active_performance, draining_performance, active_eco };

// "ActivePerformance", "DrainingPerformance", "ActiveEco" (metric labels, --output json).
std::string_view to_string(NodeState state);

// From the node's power-profile label; missing or unrecognised → ActivePerformance (safe).
NodeState state_from_label(std::optional<std::string_view> label);

// The label value a state is published as.
std::string_view label_value(NodeState state);

// What a state means for the node: the NodePowerProfile keeps performance and the performance
// cap while draining; only the label says draining-performance.
struct DesiredWrite {
  api::Profile profile = api::Profile::performance;
  double cap_watts = 0;
  std::string_view label;
};
DesiredWrite desired_write(NodeState state, double performance_cap_watts, double eco_cap_watts);

// Outcome for the node in this pass (`result` of --output json).
enum class GuardResult { applied, deferred, forced, unchanged };
std::string_view to_string(GuardResult result);

// One increment of joulie_operator_state_transitions_total; result is applied|deferred|forced.
struct TransitionRecord {
  NodeState from = NodeState::active_performance;
  NodeState to = NodeState::active_performance;
  GuardResult result = GuardResult::applied;

  bool operator==(const TransitionRecord&) const = default;
};

enum class NodeEvent { none, power_profile_changed, downgrade_deferred, drain_forced };
// Event reasons: "PowerProfileChanged", "DowngradeDeferred", "DrainForced"; "" for none.
std::string_view reason(NodeEvent event);

enum class DrainingSinceWrite { keep, set, clear };

struct GuardInput {
  NodeState current = NodeState::active_performance;
  api::Profile desired = api::Profile::performance;
  // Performance-sensitive pods on the node; nullopt when pod data is unavailable (cache not
  // synced, watch dead): then nothing is downgraded.
  std::optional<std::int64_t> perf_sensitive_pods;
  std::optional<SystemTime> draining_since;  // from the annotation, if present and valid
  Duration drain_timeout{0};                 // 0: never force
  SystemTime now{};
};

struct GuardDecision {
  NodeState next = NodeState::active_performance;
  GuardResult result = GuardResult::unchanged;
  std::vector<TransitionRecord> transitions;
  // set: write `now` as draining-since; clear: remove the annotation; keep: leave it.
  DrainingSinceWrite draining_since = DrainingSinceWrite::keep;
  NodeEvent event = NodeEvent::none;
};

// The transition table of docs/design.md#state-machine-and-downgrade-guard. Where the table is
// silent: with pod data unavailable a wanted downgrade is `deferred` (record from→ActiveEco
// deferred, no event) and the node keeps its state — an ActivePerformance node does not even start
// draining, a draining node is never forced. A draining node without a draining-since annotation
// gets one now (its timeout starts now, no second event).
GuardDecision evaluate_guard(const GuardInput& input);

}  // namespace joulie::policy
