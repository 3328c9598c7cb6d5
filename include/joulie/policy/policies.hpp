#pragma once
// The PolicyModule (SPEC.md §4.4): sorted managed nodes + cluster facts + time → the desired
// profile of each node. Pure: time is a parameter, nothing is read or written.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "joulie/api/types.hpp"
#include "joulie/common/clock.hpp"
#include "joulie/common/duration.hpp"
#include "joulie/common/result.hpp"

namespace joulie::policy {

enum class PolicyKind { static_partition, queue_aware_v1, rule_swap_v1 };

// Configuration names (--policy / POLICY_TYPE): static_partition, queue_aware_v1, rule_swap_v1.
std::string_view config_name(PolicyKind kind);
// Name written to spec.policy.name: static-partition-v1, queue-aware-v1, rule-swap-v1.
std::string_view spec_name(PolicyKind kind);
// Errc::invalid_argument naming the value and the accepted names.
Result<PolicyKind> parse_policy_kind(std::string_view name);

struct PolicyConfig {
  PolicyKind kind = PolicyKind::static_partition;
  double static_hp_frac = 0.5;
  double queue_hp_base_frac = 0.6;
  std::int64_t queue_hp_min = 1;
  std::int64_t queue_hp_max = 1000000;
  std::int64_t queue_perf_per_hp_node = 10;
  Duration interval = std::chrono::minutes(1);  // rule_swap_v1's swap period
  double performance_cap_watts = 5000;
  double eco_cap_watts = 120;
};

// What a usage error is at start-up: fractions outside [0,1] or not finite, caps not finite or
// below 1, and for rule_swap_v1 an interval under 1 s. Errc::invalid_argument naming the field.
// (Queue bounds and perPerHP are not errors: §4.4 defines how odd values are read.)
Status validate(const PolicyConfig& config);

// The cap a profile carries (performance or eco cap flag).
double cap_watts(const PolicyConfig& config, api::Profile profile);

struct PolicyInput {
  std::span<const std::string> managed_nodes;  // sorted byte-wise (eligibility.hpp)
  // Cluster-wide performance-sensitive pods, pending ones included; nullopt while the pod cache
  // is not synced. Only queue_aware_v1 reads it.
  std::optional<std::int64_t> perf_sensitive_pods;
  SystemTime now{};  // only rule_swap_v1 reads it
};

struct NodeDesire {
  std::string node;
  api::Profile profile = api::Profile::performance;
};

struct PolicyPlan {
  std::string_view policy_name;  // spec.policy.name
  std::int64_t performance_nodes = 0;
  std::vector<NodeDesire> nodes;  // same order as the input
};

// Errc::invalid_argument only for a configuration validate() rejects where the policy cannot
// give a meaning to it (rule_swap_v1 interval < 1 s). Unknown pod counts plan with P = 0: the
// state guard then refuses downgrades for lack of pod data.
Result<PolicyPlan> plan(const PolicyConfig& config, const PolicyInput& input);

// The individual rules, exposed for tests and for the pass summary.
std::int64_t round_half_away(double x);
std::int64_t static_partition_count(std::int64_t nodes, double hp_frac);
std::int64_t queue_aware_count(std::int64_t nodes, std::int64_t perf_sensitive_pods,
                               const PolicyConfig& config);
// 0 or 1: floor(unix seconds / interval seconds) mod 2. Interval must be ≥ 1 s.
int rule_swap_phase(SystemTime now, Duration interval);

}  // namespace joulie::policy
