#pragma once
// `joulie operator` configuration (SPEC §4.1).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "joulie/common/duration.hpp"
#include "joulie/config/global.hpp"
#include "joulie/config/policy_file.hpp"

namespace joulie::config {

enum class PolicyType { static_partition, queue_aware_v1, rule_swap_v1, context_aware_v1 };

// The command-line spelling: "static_partition", "queue_aware_v1", "rule_swap_v1",
// "context_aware_v1".
std::string_view policy_flag_name(PolicyType policy);

struct OperatorConfig {
  GlobalConfig global;
  PolicyType policy = PolicyType::static_partition;
  Duration interval = std::chrono::minutes(1);
  // Label selectors are kept as text here; the policy area parses them (see cli.cpp).
  std::string node_selector = "joulie.io/managed=true";
  std::string reserved_label = "joulie.io/reserved";
  std::string profile_label = "joulie.io/power-profile";
  double performance_cap_watts = 5000;
  double eco_cap_watts = 120;
  double static_hp_frac = 0.5;
  double queue_hp_base_frac = 0.6;
  // Not validated against each other: the queue policy clamps them (SPEC §4.4 hygiene).
  int64_t queue_hp_min = 1;
  int64_t queue_hp_max = 1000000;
  int64_t queue_perf_per_hp_node = 10;
  Duration drain_timeout = Duration::zero();  // zero: never force a downgrade
  // --downgrade-settle / DOWNGRADE_SETTLE: how long the eco label stands before the eco cap
  // (zero: both in one pass). --upgrade-apply-timeout / UPGRADE_APPLY_TIMEOUT: how long the
  // performance label waits for the node's agent to report the raised cap (zero: no wait).
  Duration downgrade_settle = std::chrono::seconds(2);
  Duration upgrade_apply_timeout = std::chrono::seconds(10);
  // --max-concurrent-writes / MAX_CONCURRENT_WRITES: nodes whose write sequences run at once.
  int64_t max_concurrent_writes = 8;
  bool leader_elect = false;
  std::string leader_election_namespace;  // POD_NAMESPACE; empty = not set in the environment
  std::string leader_election_id = "joulie-operator";
  Duration lease_duration = std::chrono::seconds(15);
  Duration renew_deadline = std::chrono::seconds(10);
  Duration retry_period = std::chrono::seconds(2);
  bool once = false;
  bool dry_run = false;
  OutputFormat output = OutputFormat::text;  // with --once
  // --policy-config / POLICY_CONFIG (SPEC §8.4): the file's path ("" = none), its parsed
  // content as read at start-up, and where time zones come from ($ZONEINFO, $TZDIR).
  std::string policy_config;
  std::optional<LoadedPolicyFile> policy_file;
  std::string zoneinfo_root = "/usr/share/zoneinfo";
  Duration policy_config_poll = std::chrono::seconds(5);
  // --context-interval / CONTEXT_INTERVAL: how often the signals are queried (SPEC §8).
  Duration context_interval = std::chrono::seconds(15);
};

}  // namespace joulie::config
