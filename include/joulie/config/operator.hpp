#pragma once
// `joulie operator` configuration (docs/design.md#operator-configuration).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "joulie/api/names.hpp"
#include "joulie/common/duration.hpp"
#include "joulie/config/global.hpp"
#include "joulie/config/policy_file.hpp"
#include "joulie/policy/policies.hpp"

namespace joulie::config {

struct OperatorConfig {
  GlobalConfig global;
  // The policy's settings as the flags give them: the very type the policy plans with, so each
  // setting has one name (the policy file's key), one default (policy::PolicyConfig's) and one
  // range check from the command line to the plan. policy_settings() applies the policy file's
  // keys onto it, at start-up and on reload. The names (--policy spelling) are
  // policy::config_name's.
  policy::PolicyConfig policy;
  // The policy file's baseFraction has one flag per policy, each with its own default:
  // --static-hp-frac (static_partition) and --queue-hp-base-frac (the others). nullopt: not
  // given (policy::default_base_fraction). policy_settings() sets policy.base_fraction from the
  // flag of the policy in force.
  std::optional<double> static_hp_frac;
  std::optional<double> queue_hp_base_frac;
  Duration interval = std::chrono::minutes(1);  // also policy.interval (rule_swap_v1's period)
  // Label selectors are kept as text here; the policy area parses them (see cli.cpp).
  std::string node_selector = std::string(api::kDefaultNodeSelector);
  std::string reserved_label = std::string(api::kReservedLabel);
  std::string profile_label = std::string(api::kPowerProfileLabel);
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
  // --policy-config / POLICY_CONFIG (docs/design.md#policy-file): the file's path ("" = none), its
  // parsed content as read at start-up, and where time zones come from ($ZONEINFO, $TZDIR).
  std::string policy_config;
  std::optional<LoadedPolicyFile> policy_file;
  std::string zoneinfo_root = "/usr/share/zoneinfo";
  // The flags and variables the user set that the policy file's keys override at start-up, as
  // "<origin> (policy file key <key>)": the operator logs one warning for each, since a set
  // POLICY_TYPE that silently does nothing is a trap (docs/configuration.md).
  std::vector<std::string> overridden_by_file;
  Duration policy_config_poll = std::chrono::seconds(5);
  // --context-interval / CONTEXT_INTERVAL: how often the signals are queried
  // (docs/design.md#context-and-signals).
  Duration context_interval = std::chrono::seconds(15);
};

// The settings the policy plans with: the flags', with `file`'s keys (if any) applied over them
// (the policy file wins; docs/policies.md).
policy::PolicyConfig policy_settings(const OperatorConfig& config, const policy::PolicyFile* file);

}  // namespace joulie::config
