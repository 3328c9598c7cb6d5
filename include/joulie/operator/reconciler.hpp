#pragma once
// One reconcile pass: Snapshot → PolicyModule (policy::plan) → StateGuard per node
// (policy::evaluate_guard) → ordered writes through the ActuationAdapter → outcome, metrics,
// events and one summary log line. Time comes from the snapshot and an injected Clock.
//
// Not thread-safe: one controller thread runs the passes.

#include <chrono>
#include <cstdint>
#include <functional>
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
#include "joulie/policy/guard.hpp"
#include "joulie/policy/policies.hpp"

namespace joulie::operator_mode {

struct ReconcilerOptions {
  policy::PolicyConfig policy;
  Duration drain_timeout{0};
  bool dry_run = false;
  // Per-node retry pacing after a failed write.
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max{60000};
  // How long a write we made is trusted over a cache that has not caught up with it (the watch
  // echo normally arrives within milliseconds; this only bounds a lost echo).
  std::chrono::milliseconds expectation_ttl{30000};
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
  std::string error;  // empty unless this node's writes failed
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
  double seconds = 0;
};

using EventSink = std::function<void(const kube::NodeRef& node, kube::EventType type,
                                     std::string reason, std::string message)>;

class Reconciler {
 public:
  // `metrics` and `events` may be null (tests, --dry-run without events).
  Reconciler(ReconcilerOptions options, ActuationAdapter& actuation, OperatorMetrics* metrics,
             EventSink events, const Clock& clock);

  PassResult run_pass(const Snapshot& snapshot, PassKind kind);

  // Earliest time a node in backoff may be retried; nullopt when none is waiting.
  std::optional<SteadyTime> next_retry() const;

  // Marks the leader gauge; kept here so a pass and the gauge agree.
  void set_leader(bool leading);

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
  Text resolve(std::unordered_map<std::string, Expectation<Text>>& map, const std::string& key,
               const Text& cached, SteadyTime now);
  std::optional<NppInfo> resolve_profile(const std::string& name, const Snapshot& snapshot,
                                         SteadyTime now);
  void remember(const std::vector<Write>& writes, SteadyTime now);
  bool in_backoff(const std::string& key, SteadyTime now) const;
  void failed(const std::string& key, const Error& error, SteadyTime now);
  void reconcile_node(const ManagedNode& node, api::Profile desired, const Snapshot& snapshot,
                      SteadyTime now, PassResult& result);
  void release_nodes(const Snapshot& snapshot, SteadyTime now, PassResult& result);
  void publish(const PassResult& result, const std::unordered_set<std::string>& managed);
  void log_summary(const PassResult& result) const;

  ReconcilerOptions options_;
  ActuationAdapter& actuation_;
  OperatorMetrics* metrics_;
  EventSink events_;
  const Clock& clock_;

  std::optional<policy::PolicyPlan> plan_;
  std::vector<std::string> plan_nodes_;
  std::unordered_map<std::string, api::Profile> desired_;

  std::unordered_map<std::string, Expectation<Text>> expected_label_;
  std::unordered_map<std::string, Expectation<Text>> expected_annotation_;
  std::unordered_map<std::string, Expectation<std::optional<NppInfo>>> expected_profile_;
  std::unordered_map<std::string, Retry> retries_;
  std::unordered_set<std::string> previously_managed_;
};

}  // namespace joulie::operator_mode
