#pragma once
// The write planner: the StateGuard (guard.hpp) extended with the two-phase sequencing of a
// node's writes (docs/decisions.md, "Downgrade settle, upgrade apply-wait"). From the profile
// the policy wants, what the node's objects hold now, the node's memory and the time, it decides
// the writes of this pass, the memory they leave behind, what the node waits for and when to look
// again. Pure: no I/O, no clock reads. The operator's Reconciler executes what it returns.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "joulie/api/types.hpp"
#include "joulie/common/clock.hpp"
#include "joulie/common/duration.hpp"
#include "joulie/policy/guard.hpp"

namespace joulie::policy {

// A label or annotation edit: leave it, set it to `value`, or remove it (merge patch null).
struct FieldChange {
  enum class Op { keep, set, remove };
  Op op = Op::keep;
  std::string value;

  static FieldChange keep() { return {}; }
  static FieldChange set(std::string v) { return {Op::set, std::move(v)}; }
  static FieldChange remove() { return {Op::remove, {}}; }
  bool touches() const { return op != Op::keep; }
  bool operator==(const FieldChange&) const = default;
};

// ---- per-node memory ---------------------------------------------------------------------------

// What the planner remembers of a node between passes. It lives in API objects, not in the
// process: the Node's joulie.io/state-since annotation and the NodePowerProfile's
// joulie.io/apply-wait-until annotation (api/names.hpp), so a restarted or new leader imposes the
// same minDwell and settle, and never caps early.
struct NodeMemory {
  // joulie.io/state-since: the state the operator last published, when, and whether a forced
  // drain put it there. Only meaningful while the node's label still shows `state`.
  std::optional<NodeState> state;
  std::optional<SystemTime> since;
  bool forced = false;
  // joulie.io/apply-wait-until: until when an upgrade's performance label waits for the agent.
  std::optional<SystemTime> apply_wait_until;

  // The record's time when it describes `current` (the state the label shows), else nullopt.
  std::optional<SystemTime> since_for(NodeState current) const {
    return state == current ? since : std::nullopt;
  }
  bool operator==(const NodeMemory&) const = default;
};

// "eco 2026-12-06T05:00:00.000Z", "eco 2026-12-06T05:00:00.000Z forced". The time is rounded up
// to the millisecond: a reader never sees the state as older than it is.
std::string format_state_since(NodeState state, SystemTime since, bool forced);
// Reads both annotations; a malformed or unknown value is simply absent from the memory.
NodeMemory read_memory(const std::optional<std::string>& state_since,
                       const std::optional<std::string>& apply_wait_until);
// RFC 3339 (milliseconds, rounded up) for joulie.io/apply-wait-until.
std::string format_apply_wait_until(SystemTime until);

// The node's last state change for the policy's minDwell: the memory's record when it describes
// the current state; for a draining node without one, its draining-since annotation. nullopt:
// unknown (no dwell is imposed).
std::optional<SystemTime> last_transition(NodeState current, const NodeMemory& memory,
                                          const std::optional<std::string>& draining_since);

// ---- inputs ------------------------------------------------------------------------------------

// The node's operator-owned NodePowerProfile as the operator believes it is (its own writes
// included while the cache has not caught up), read leniently.
struct ObservedProfile {
  std::string node_name;
  std::string profile;
  std::optional<double> cap_watts;
  std::optional<std::string> policy_name;
  bool has_apply_wait_until = false;  // the annotation is present (a later write clears it)
};
bool spec_matches(const ObservedProfile& current, const api::NodePowerProfileSpec& desired);

// A one-shot run that writes (--once) has no later pass: the operator sets both durations to 0.
// A dry run keeps them, so it reports the pass the running operator would make (the first half
// of a two-phase change, or what a node between the halves waits for).
struct WriteSettings {
  Duration downgrade_settle{0};       // 0: a downgrade writes label and cap in one pass
  Duration upgrade_apply_timeout{0};  // 0: an upgrade writes cap and label in one pass
  Duration drain_timeout{0};          // 0: never force a drain
  Duration retry_initial{std::chrono::seconds(1)};  // look again this soon with pods unknown
  double performance_cap_watts = 0;
  double eco_cap_watts = 0;  // the cap in force now (a time window may lower it)
  std::string policy_name;   // spec.policyName
};

struct NodeObservation {
  std::string node;
  std::optional<std::string> label;           // the power-profile label
  std::optional<std::string> draining_since;  // raw joulie.io/draining-since
  std::optional<std::int64_t> perf_pods;      // nullopt: pod data unknown
  std::optional<ObservedProfile> profile;     // nullopt: no NodePowerProfile
  // From the cached NodePowerProfile's status: an agent reports on it (observedGeneration
  // present), and it has acted on the spec the operator believes is there (not `error`).
  bool agent_reports = false;
  bool agent_applied = false;
};

struct WritePlanInput {
  api::Profile desired = api::Profile::performance;  // from the policy's plan
  NodeObservation observed;
  NodeMemory memory;
  SystemTime now{};
};

// ---- the plan ----------------------------------------------------------------------------------

// One write request's content. A node write touches the label and annotations; a profile write
// creates or merge-patches the canonical NodePowerProfile.
struct PlannedWrite {
  enum class Kind { node, create_profile, patch_profile };
  Kind kind = Kind::node;
  FieldChange label;
  FieldChange draining_since;
  FieldChange state_since;
  api::NodePowerProfileSpec spec;
  FieldChange apply_wait_until;
  bool operator==(const PlannedWrite&) const = default;
};

// The first half of a two-phase change, sent this pass; the second follows in a later one.
enum class WritePhase {
  none,
  eco_label,        // a downgrade's eco label (or its memory record); the eco cap after the settle
  performance_cap,  // an upgrade's raised cap (or its deadline); the label once the agent reports
};

// What a node held between the phases waits for (NodeOutcome::waiting).
enum class Wait { none, settle, pods_unknown, agent };
std::string_view to_string(Wait wait);

struct WritePlan {
  GuardDecision decision;
  // The state the guard decided from: the label's, except a settled eco label whose node got a
  // performance-sensitive pod (it is the performance node it still is, and drains).
  NodeState current = NodeState::active_performance;
  DesiredWrite target;               // the label, profile and cap of decision.next
  std::vector<PlannedWrite> writes;  // in order; empty: nothing to write this pass
  WritePhase phase = WritePhase::none;
  Wait waiting = Wait::none;  // held between two phases: no writes but the memory's
  // When to look again at this node, counted as if the writes completed at `now` (the executor
  // moves a first phase's wake-up to when its writes completed).
  std::optional<SystemTime> wake;
  // Ask the live pod count right before the writes: a downgrade that lowers the label or cap.
  bool recheck_pods = false;
  // The writes are only the NodePowerProfile half of a two-phase change (counted as `caps`).
  bool cap_only = false;
  // The writes only record memory (no label or spec change): reported as unchanged.
  bool memory_only = false;
  // The label is published without the agent's report: the deadline passed (a warning).
  bool apply_wait_expired = false;
  NodeMemory next;  // the memory once the writes are made
};

WritePlan plan_writes(const WritePlanInput& input, const WriteSettings& settings);

}  // namespace joulie::policy
