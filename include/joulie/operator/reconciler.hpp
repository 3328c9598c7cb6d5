#pragma once
// One reconcile pass, a pipeline: Snapshot → PolicyModule (policy::plan) → write planner per node
// (policy::plan_writes: the StateGuard and the two-phase sequencing, fed by the node's memory
// read from its annotations) → the planned writes through the ActuationAdapter → outcome,
// metrics, events and one summary log line. The Reconciler decides nothing about a node itself:
// it builds the planner's inputs, executes what it returns and records the results. Time comes
// from the snapshot and an injected Clock.
//
// Not thread-safe: one controller thread runs the passes. Within a pass the nodes' write
// sequences may run on a few worker threads (ReconcilerOptions::max_concurrent_writes); only the
// ActuationAdapter is called from them, all bookkeeping stays on the pass thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "joulie/common/clock.hpp"
#include "joulie/common/duration.hpp"
#include "joulie/kube/events.hpp"
#include "joulie/operator/actuation.hpp"
#include "joulie/operator/context.hpp"
#include "joulie/operator/metrics.hpp"
#include "joulie/operator/unschedulable_events.hpp"
#include "joulie/policy/context.hpp"
#include "joulie/policy/guard.hpp"
#include "joulie/policy/policies.hpp"
#include "joulie/policy/time_zone.hpp"
#include "joulie/policy/write_planner.hpp"

namespace joulie::operator_mode {

// Adds what the informer snapshot does not hold (zones, signals, workload classes) to the
// policy's Context before each plan; the context sources plug in here. Called on the pass
// thread; must not block on I/O (it reads the sources' last values).
using ContextEnricher = std::function<void(policy::Context& context)>;

struct ReconcilerOptions {
  policy::PolicyConfig policy;
  ContextEnricher enrich_context;  // may be empty
  // Per-node reasons in the pass result (--once --output): off in the long-running loop, where
  // nothing prints them and they cost allocations at thousands of nodes.
  bool explain = true;
  policy::TimeZone time_zone;     // the policy file's timeZone (UTC without one)
  policy::SignalsConfig signals;  // which signals are configured (explain)
  Duration drain_timeout{0};
  bool dry_run = false;
  // Per-node retry pacing after a failed write.
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max{60000};
  // How long a write we made is trusted over a cache that has not caught up with it (the watch
  // echo normally arrives within milliseconds; this only bounds a lost echo).
  std::chrono::milliseconds expectation_ttl{30000};
  // How many nodes' write sequences run at once (--max-concurrent-writes). Each node's own writes
  // stay in order on one thread; all upgrades finish before the first downgrade starts. 1 writes
  // one request at a time. All requests still go through the client's rate limiter.
  int max_concurrent_writes = 1;
  // Asked before each downgrading node's writes start (from the writer threads; must be cheap
  // and thread-safe): true (a re-plan is waiting, e.g. the tick after a demand step) leaves the
  // pass's remaining downgrades for the next pass, which then writes its upgrades first. Empty:
  // never.
  std::function<bool()> yield_downgrades;
  // The node's performance-sensitive pods as the pod cache knows them NOW (nullopt: unknown),
  // asked from the writer threads right before a downgrade to eco starts its writes (must be
  // cheap and thread-safe). The guard decided on the pass's snapshot; a pod bound since then --
  // the scheduler saw the performance label before our eco label reached it -- would otherwise
  // run capped. Such a node is left as it is (performance) for the next pass, which drains it.
  // Not asked for a forced drain. Empty: the snapshot's count is trusted.
  std::function<std::optional<std::int64_t>(const std::string& node)> live_perf_pods;
  // Two-phase writes (docs/decisions.md, "Downgrade settle, upgrade apply-wait"); zero turns each
  // off (label and NodePowerProfile in one pass, in the order plan_writes gives them).
  // Downgrade: the eco label goes out first; the eco cap only once the label has been in place
  // this long and the pod cache then shows no performance-sensitive pod on the node (a pod the
  // scheduler bound while it still saw `performance` is found, and the node drains instead).
  std::chrono::milliseconds downgrade_settle{0};
  // Upgrade: when the node's agent reports on its NodePowerProfile (status.observedGeneration),
  // the performance label waits until the agent has acted on the raised cap, at most this long
  // (then it is published anyway, with a warning), so no performance pod starts capped.
  std::chrono::milliseconds upgrade_apply_timeout{0};
};

// replan: run the policy; reguard: reuse the last plan (pod events, retries) unless the managed
// set differs from it.
enum class PassKind { replan, reguard };

struct NodeOutcome {
  std::string node;
  policy::NodeState state = policy::NodeState::active_performance;  // after the pass
  api::Profile profile = api::Profile::performance;                 // NodePowerProfile
  std::string label;
  double cap_watts = 0;
  std::optional<std::int64_t> perf_pods;  // nullopt: pod data unknown
  bool changed = false;                   // writes were (or, dry run, would be) made
  policy::GuardResult result = policy::GuardResult::unchanged;
  std::string error;                 // empty unless this node's writes failed
  std::vector<std::string> reasons;  // why the policy wants this profile (explain)
  // Non-empty while the node is between the two phases of a downgrade or an upgrade: what its
  // next write waits for.
  std::string waiting;
  // When that wait ends (the settle's end, the agent's deadline), as planned; nullopt: none.
  std::optional<SystemTime> wait_until;
  // The policy holds the node in performance for stability.minDwell until then (nullopt: not).
  std::optional<SystemTime> held_until;
  // The pass's writes for this node were only the NodePowerProfile half of a two-phase change
  // (a settled downgrade's eco cap, an upgrade's raised cap before its label): not a label
  // change, so the pass line counts it under `caps`, not `changed`.
  bool cap_only = false;
};

// One node's reading of a per-node signal family.
struct NodeSignalReport {
  std::string health;
  std::optional<double> value;  // ok only
  std::optional<double> age_seconds;
  std::string message;  // why it is not ok
};

// One signal as the pass saw it (explain, the pass line).
struct SignalReport {
  std::string name;             // "demandForecast", "pue", "pue{zone=eu-1a}", "nodeTemperature"
  std::string health;           // ok|stale|missing|error; per-node families: the worst one
  std::optional<double> value;  // ok scalar signals only
  std::optional<double> age_seconds;
  std::string source;
  // Per-node families: how many nodes per health.
  std::int64_t ok = 0, stale = 0, missing = 0, error = 0;
  bool per_node = false;
  std::string message;                              // scalar signals: why it is not ok
  std::map<std::string, NodeSignalReport> by_node;  // per-node families: each node's reading
};

struct PassContext {
  std::string time_zone;
  std::string local_time;  // "2026-12-03T12:30:00+01:00"
  std::string abbreviation;
  std::string window;                // "" outside every window
  std::vector<std::string> reasons;  // plan-wide (demand, forecast, window, zone minimums)
  std::vector<SignalReport> signals;
};

struct PassResult {
  std::string policy;  // configuration name: static_partition, ...
  bool dry_run = false;
  bool pods_known = false;
  std::int64_t managed = 0;
  std::int64_t performance = 0;
  std::vector<NodeOutcome> nodes;
  std::vector<std::string> released;  // nodes cleaned up after leaving management
  std::size_t write_requests = 0;     // sent (dry run: planned)
  std::size_t failed_nodes = 0;
  std::size_t yielded_nodes = 0;  // downgrades left for the next pass (a re-plan was waiting)
  // Downgrades not started: a performance-sensitive pod reached the node after the snapshot.
  std::size_t raced_nodes = 0;
  double seconds = 0;
  PassContext context;
};

// The policy's view of a snapshot: the adapter from the informer Snapshot to policy::Context, in
// one place so the context sources can extend it. `local` comes from the time zone; each node's
// last transition from its memory annotations (policy::last_transition).
policy::Context make_policy_context(const Snapshot& snapshot, const policy::TimeZone& zone);

// "2026-12-03T12:30:00+01:00".
std::string format_local(const policy::LocalTime& local);

using EventSink = std::function<void(const kube::NodeRef& node, kube::EventType type,
                                     std::string reason, std::string message)>;

class Reconciler {
 public:
  // `metrics` and `events` may be null (tests, --dry-run without events).
  Reconciler(ReconcilerOptions options, ActuationAdapter& actuation, OperatorMetrics* metrics,
             EventSink events, const Clock& clock);

  PassResult run_pass(const Snapshot& snapshot, PassKind kind);

  // Earliest time a node in backoff may be retried, or a node's second phase is due; nullopt
  // when none is waiting.
  std::optional<SteadyTime> next_retry() const;

  // Whether an upgrade waits for an agent's report (any thread): a NodePowerProfile status change
  // should then start a re-guard pass.
  bool awaiting_agent() const { return awaiting_agents_.load() > 0; }

  // Marks the leader gauge; kept here so a pass and the gauge agree.
  void set_leader(bool leading);

  // The informer saw the profile `name` deleted or its spec edited: the cache is past any write
  // of ours, so the expectation of that write must not hide the change. Call between passes.
  void forget_profile_expectation(const std::string& name) { expected_profile_.erase(name); }

  // A reloaded policy file: the next pass re-plans with it. Call between passes.
  void set_policy(policy::PolicyConfig policy, policy::TimeZone zone,
                  policy::SignalsConfig signals);
  const policy::PolicyConfig& policy() const { return options_.policy; }
  const policy::TimeZone& time_zone() const { return options_.time_zone; }

 private:
  template <typename T>
  struct Expectation {
    T value;
    SteadyTime expires{};
  };
  using Text = std::optional<std::string>;

  struct Retry {
    int failures = 0;
    SteadyTime next{};
  };

  const policy::PolicyPlan& plan_for(const Snapshot& snapshot, PassKind kind);
  // One Warning Event per pod that fits no node (rate-limited, docs/policies.md).
  void announce_unschedulable(const policy::PolicyPlan& plan, std::string_view profile_key);
  api::Profile desired_of(const std::string& node) const;
  // Fills `order` with the managed nodes' indices, upgrades first; returns how many upgrade.
  std::size_t upgrades_first(const Snapshot& snapshot, SteadyTime now,
                             std::vector<std::size_t>& order);
  void forget_departed(const Snapshot& snapshot, const std::unordered_set<std::string>& managed);
  Text resolve(std::unordered_map<std::string, Expectation<Text>>& map, const std::string& key,
               const Text& cached, SteadyTime now);
  // The node's performance and eco caps: its hardware class's, else the plan's.
  std::pair<double, double> node_caps(const std::string& node) const;
  // The profile as the pass should read it (nullptr: none); valid until the expectations change.
  // `in_cache` (optional) receives the informer cache's own copy (nullptr: none).
  const NppInfo* resolve_profile(const std::string& name, const Snapshot& snapshot, SteadyTime now,
                                 const NppInfo** in_cache = nullptr);
  void remember(const std::vector<Write>& writes, SteadyTime now);
  bool in_backoff(const std::string& key, SteadyTime now) const;
  void failed(const std::string& key, const Error& error, SteadyTime now);
  // The pass's two clocks, read once: the planner works in wall time (its memory is kept in
  // annotations), the controller's wake-ups in monotonic time.
  struct Now {
    SteadyTime steady{};
    SystemTime wall{};
    SteadyTime to_steady(SystemTime t) const { return steady + (t - wall); }
  };
  // One node's pass, in three steps: plan (pass thread), execute its writes (any worker),
  // record the outcome (pass thread, in a fixed order).
  struct NodeWork {
    const ManagedNode* node = nullptr;
    NodeOutcome out;
    policy::WritePlan plan;
    Text label;
    std::vector<Write> writes;
    bool send = false;                  // writes go out this pass (not dry run, not in backoff)
    bool yielded = false;               // not started: a re-plan was waiting (yield_downgrades)
    std::optional<std::int64_t> raced;  // not started: pods arrived since the snapshot
    Now done_at;                        // when a first phase's writes completed (worker thread)
    ExecuteOutcome done;
  };
  policy::WritePlanInput planner_input(const ManagedNode& node, api::Profile desired,
                                       const Snapshot& snapshot, const Now& now);
  policy::WriteSettings write_settings(const std::string& node) const;
  NodeWork prepare_node(const ManagedNode& node, api::Profile desired, const Snapshot& snapshot,
                        const Now& now);
  void record_writes(NodeWork& work, const Now& now, PassResult& result);
  void record_transition(const NodeWork& work);
  void remember_first_phase(const NodeWork& work, const Now& now);
  // Sends the writes of work[begin, end) and calls `record(i)` for each i in order, on the
  // calling thread, as soon as node i and every node before it are done.
  void execute_all(std::vector<NodeWork>& work, std::size_t begin, std::size_t end,
                   const std::function<bool()>& yield,
                   const std::function<void(std::size_t)>& record);
  // Records the node's outcome into `recorded` (its slot in result.nodes).
  void record_node(NodeWork& work, const Now& now, PassResult& result, NodeOutcome& recorded);
  void release_nodes(const Snapshot& snapshot, const std::unordered_set<std::string>& managed,
                     SteadyTime now, PassResult& result);
  void publish(const PassResult& result, const std::unordered_set<std::string>& managed);
  // What publish() last wrote to a node's state and label gauges.
  struct Published {
    policy::NodeState state = policy::NodeState::active_performance;
    std::string label;
  };
  std::unordered_map<std::string, Published> published_;
  void log_summary(const PassResult& result) const;

  ReconcilerOptions options_;
  ActuationAdapter& actuation_;
  OperatorMetrics* metrics_;
  EventSink events_;
  const Clock& clock_;

  PassContext explain(const policy::Context& context, const policy::PolicyPlan& plan) const;

  std::optional<policy::PolicyPlan> plan_;
  // Reused from pass to pass, capacity kept (page faults, not instructions, bounded the pass).
  policy::Context context_;
  std::vector<NodeWork> work_;
  UnschedulableNotifier unschedulable_;
  PassContext plan_context_;
  std::vector<std::string> plan_nodes_;
  std::unordered_map<std::string, std::size_t> desired_;  // node → index in plan_->nodes

  std::unordered_map<std::string, Expectation<Text>> expected_label_;
  std::unordered_map<std::string, Expectation<Text>> expected_annotation_;
  std::unordered_map<std::string, Expectation<Text>> expected_state_since_;
  std::unordered_map<std::string, Expectation<std::optional<NppInfo>>> expected_profile_;
  std::unordered_map<std::string, Retry> retries_;
  std::unordered_set<std::string> previously_managed_;
  // The per-node memory lives in annotations, stamped when the write is sent. A first phase's
  // settle or deadline counts from when its write completed: this process remembers that time
  // for the annotation value it wrote (a successor reads the annotation's own, slightly earlier,
  // time -- docs/decisions.md).
  struct Completed {
    std::string state_since;       // the joulie.io/state-since value written ("" none)
    std::string apply_wait_until;  // the joulie.io/apply-wait-until value written ("" none)
    SystemTime at{};
  };
  std::unordered_map<std::string, Completed> completed_;
  void refine_memory(const std::string& node, const Text& state_since, const Text& apply_wait_until,
                     policy::NodeMemory& memory);
  std::optional<SteadyTime> wake_;  // the earliest second phase due (this pass's plans)
  void wake_at(SteadyTime when);
  std::atomic<std::size_t> awaiting_agents_{0};
};

}  // namespace joulie::operator_mode
