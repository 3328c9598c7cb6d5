#pragma once
// The PolicyModule (docs/design.md#policies): sorted managed nodes + cluster facts + time → the
// desired profile of each node. Pure: time is a parameter, nothing is read or written.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "joulie/api/types.hpp"
#include "joulie/common/clock.hpp"
#include "joulie/common/duration.hpp"
#include "joulie/common/result.hpp"
#include "joulie/policy/context.hpp"
#include "joulie/policy/fit.hpp"
#include "joulie/policy/hardware_class.hpp"
#include "joulie/policy/windows.hpp"

namespace joulie::policy {

enum class PolicyKind { static_partition, queue_aware_v1, rule_swap_v1, context_aware_v1 };

// Configuration names (--policy / POLICY_TYPE): static_partition, queue_aware_v1, rule_swap_v1,
// context_aware_v1.
std::string_view config_name(PolicyKind kind);
// Name written to spec.policy.name: static-partition-v1, queue-aware-v1, rule-swap-v1,
// context-aware-v1.
std::string_view spec_name(PolicyKind kind);
// Errc::invalid_argument naming the value and the accepted names.
Result<PolicyKind> parse_policy_kind(std::string_view name);

// context_aware_v1's parts (docs/design.md#context-aware-policy), each of which can be switched off
// (tests, docs). With the policy file they are on; a part without data (no signal, no zone label,
// no block) is a no-op by itself.
struct ContextAwareParts {
  bool forecast = true;             // raise the count to cover signals.demandForecast
  bool keep_perf_pod_hosts = true;  // nodes hosting performance-sensitive pods stay performance
  bool zone_minimum = true;         // topology.minPerformancePerZone
  bool temperature = true;          // coolest nodes performance, hottest eco
  bool pue = true;                  // lowest-PUE zones performance
  bool stability = true;            // stability.minDwell and stability.changeBudget
  bool fit = true;                  // pending pods' requirements choose the upgrades (packing)
  bool hardware_classes = true;     // per-class caps, class minimums
};

// The policy's settings. The fields are named after the policy file's keys (docs/policies.md,
// block `performance`); the flag that sets each is named beside it (docs/configuration.md).
struct PolicyConfig {
  PolicyKind kind = PolicyKind::static_partition;  // policy, --policy
  // baseFraction: nullopt reads as default_base_fraction(kind). The flags have one per policy
  // (--static-hp-frac, --queue-hp-base-frac); config::policy_settings gives the one in force.
  std::optional<double> base_fraction;
  std::int64_t min = 1;                         // min, --queue-hp-min (below 0 reads as 0)
  std::int64_t max = 1000000;                   // max, --queue-hp-max (0 or below reads as N)
  std::int64_t perf_pods_per_node = 10;         // perfPodsPerNode, --queue-perf-per-hp-node
  Duration interval = std::chrono::minutes(1);  // rule_swap_v1's swap period, --interval
  double performance_cap_watts = 5000;          // performanceCapWatts, --performance-cap-watts
  double eco_cap_watts = 120;                   // ecoCapWatts, --eco-cap-watts

  // From the policy file (docs/design.md#policy-file); empty/defaults without one. Windows apply to
  // every policy (baseFraction/min/max/ecoCapWatts while in force); the rest only to
  // context_aware_v1.
  std::vector<TimeWindow> windows;
  TopologySettings topology;
  StabilitySettings stability;
  double forecast_headroom = 1.0;
  // hardwareClasses: per-class caps (and minimums) by node labels; empty: one cap for all.
  std::vector<HardwareClass> hardware_classes;
  ContextAwareParts parts;
};

// baseFraction when neither a flag nor the file sets it: static_partition 0.5, the others 0.6.
double default_base_fraction(PolicyKind kind);
// The base fraction in force: `config.base_fraction`, else the policy's default.
double base_fraction(const PolicyConfig& config);

// The configuration in force inside `window` (nullptr: `config` itself): its baseFraction sets
// the base fraction, min/max the bounds, ecoCapWatts the eco cap.
PolicyConfig in_window(const PolicyConfig& config, const TimeWindow* window);

// What a usage error is at start-up: fractions outside [0,1] or not finite, caps not finite or
// below 1, and for rule_swap_v1 an interval under 1 s. Errc::invalid_argument naming the field.
// (Queue bounds and perPerHP are not errors: docs/design.md#policies defines how odd values are
// read.)
Status validate(const PolicyConfig& config);

// perfPodsPerNode as the policies read it: values below 1 count as 1 (the one clamp).
std::int64_t pods_per_performance_node(const PolicyConfig& config);

// The cap a profile carries (performance or eco cap flag).
double cap_watts(const PolicyConfig& config, api::Profile profile);

struct PolicyInput {
  // The one source of what a policy reads: the managed nodes (context.nodes, sorted byte-wise),
  // the performance-sensitive pods (context.workloads, unknown while !context.pods_known), now
  // (rule_swap_v1) and the local time (windows).
  const Context& context;
  bool explain = true;  // per-node reasons (the plan itself does not depend on it)
};

struct NodeDesire {
  std::string node;
  api::Profile profile = api::Profile::performance;
  std::vector<std::string> reasons;  // why (explain; context_aware_v1 and windows)
  // The node's own caps when a hardware class gives them (context_aware_v1); nullopt: the
  // plan's caps.
  std::optional<double> performance_cap_watts = std::nullopt;
  std::optional<double> eco_cap_watts = std::nullopt;
  // stability.minDwell holds the node in performance until then (context_aware_v1); nullopt: not
  // held.
  std::optional<SystemTime> held_until = std::nullopt;
};

// A pending performance-sensitive pod that fits no managed node even at performance.
struct UnschedulablePod {
  std::string pod;     // "namespace/name"
  std::string reason;  // the scheduler-style summary ("0/5 nodes are available: …")
  std::string uid = {};
  Resources request = {};  // what it asks for (the Event says it)
  std::shared_ptr<const PodRequirement> requirement = nullptr;  // null: no constraint
  std::size_t matching_nodes = 0;  // nodes its labels/taints accept (packing.hpp)
  Resources most_free = {};        // the most free capacity among them
};

struct PolicyPlan {
  std::string_view policy_name;  // spec.policy.name
  std::int64_t performance_nodes = 0;
  std::vector<NodeDesire> nodes;  // same order as the input
  std::string window;             // the time window in force, "" outside every window
  double eco_cap_watts = 0;       // the eco cap in force (window or configuration)
  double performance_cap_watts = 0;
  std::vector<std::string> reasons;  // plan-wide (demand, forecast, window, zone minimums)
  std::vector<UnschedulablePod> unschedulable;  // context_aware_v1 with fit-aware demand
};

// Errc::invalid_argument only for a configuration validate() rejects where the policy cannot
// give a meaning to it (rule_swap_v1 interval < 1 s). Unknown pod counts plan with P = 0: the
// state guard then refuses downgrades for lack of pod data.
Result<PolicyPlan> plan(const PolicyConfig& config, const PolicyInput& input);

// "window night: baseFraction 0.1 max 20": what a window changes for a policy (explain).
std::string window_reason(const TimeWindow& window, PolicyKind kind);

// context_aware_v1 (docs/design.md#context-aware-policy) with the configuration already in force
// for the window.
// Deterministic: the same inputs give the same plan, reasons included.
// `explain`: fill NodeDesire::reasons (costly at thousands of nodes; the choice is the same).
PolicyPlan plan_context_aware(const PolicyConfig& effective, const TimeWindow* window,
                              std::span<const std::string> managed_nodes, const Context& context,
                              bool explain = true);

// The individual rules, exposed for tests and for the pass summary.
std::int64_t round_half_away(double x);
std::int64_t static_partition_count(std::int64_t nodes, double hp_frac);
std::int64_t queue_aware_count(std::int64_t nodes, std::int64_t perf_sensitive_pods,
                               const PolicyConfig& config);
// 0 or 1: floor(unix seconds / interval seconds) mod 2. Interval must be ≥ 1 s.
int rule_swap_phase(SystemTime now, Duration interval);

}  // namespace joulie::policy
