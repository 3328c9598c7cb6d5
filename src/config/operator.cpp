#include "joulie/config/operator.hpp"

#include <chrono>

#include "joulie/policy/selector.hpp"
#include "modes.hpp"

namespace joulie::config {

std::string_view policy_flag_name(PolicyType policy) {
  switch (policy) {
    case PolicyType::static_partition:
      return "static_partition";
    case PolicyType::queue_aware_v1:
      return "queue_aware_v1";
    case PolicyType::rule_swap_v1:
      return "rule_swap_v1";
    case PolicyType::context_aware_v1:
      return "context_aware_v1";
  }
  return "static_partition";
}

namespace detail {

std::optional<std::string> label_selector(const std::string& selector) {
  auto parsed = policy::parse_selector(selector);
  if (!parsed.ok()) {
    return parsed.error().message;
  }
  return std::nullopt;
}

std::vector<FlagSpec> operator_flag_specs() {
  return {
      {"policy", "POLICY_TYPE", "static_partition",
       "static_partition, queue_aware_v1, rule_swap_v1 or context_aware_v1", "NAME"},
      {"policy-config", "POLICY_CONFIG", "none",
       "policy file (YAML, docs/policies.md); its keys override the flags, re-read on change",
       "PATH"},
      {"policy-config-poll", "POLICY_CONFIG_POLL", "5s",
       "how often the policy file is checked for changes", "DURATION"},
      {"context-interval", "CONTEXT_INTERVAL", "15s",
       "how often the policy file's signals are queried (Prometheus, models)", "DURATION"},
      {"interval", "RECONCILE_INTERVAL", "1m", "reconcile interval", "DURATION"},
      {"node-selector", "NODE_SELECTOR", "joulie.io/managed=true",
       "label selector of the managed nodes", "SELECTOR"},
      {"reserved-label", "RESERVED_LABEL_KEY", "joulie.io/reserved",
       "label key that excludes a node from management", "KEY"},
      {"profile-label", "POWER_PROFILE_LABEL", "joulie.io/power-profile",
       "node label publishing the power profile", "KEY"},
      {"performance-cap-watts", "PERFORMANCE_CAP_WATTS", "5000",
       "CPU package cap of performance nodes", "WATTS"},
      {"eco-cap-watts", "ECO_CAP_WATTS", "120", "CPU package cap of eco nodes", "WATTS"},
      {"static-hp-frac", "STATIC_HP_FRAC", "0.5",
       "static_partition: fraction of nodes in performance", "FRACTION"},
      {"queue-hp-base-frac", "QUEUE_HP_BASE_FRAC", "0.6",
       "queue_aware_v1: base fraction of nodes in performance", "FRACTION"},
      {"queue-hp-min", "QUEUE_HP_MIN", "1", "queue_aware_v1: minimum performance nodes", "N"},
      {"queue-hp-max", "QUEUE_HP_MAX", "1000000", "queue_aware_v1: maximum performance nodes", "N"},
      {"queue-perf-per-hp-node", "QUEUE_PERF_PER_HP_NODE", "10",
       "queue_aware_v1: performance pods one performance node absorbs", "N"},
      {"max-concurrent-writes", "MAX_CONCURRENT_WRITES", "8",
       "nodes written at once in a pass (each node's writes in order; 1: one request at a time)",
       "N"},
      {"drain-timeout", "DRAIN_TIMEOUT", "0 (never force)",
       "force a pending downgrade after this long", "DURATION"},
      {"downgrade-settle", "DOWNGRADE_SETTLE", "2s",
       "a downgrade lowers the cap this long after the eco label, if no performance pod arrived "
       "(0: label and cap together)",
       "DURATION"},
      {"upgrade-apply-timeout", "UPGRADE_APPLY_TIMEOUT", "10s",
       "an upgrade publishes the performance label once the node's agent reports the raised cap, "
       "at most this long after (0: at once)",
       "DURATION"},
      {"leader-elect", "LEADER_ELECT", "false",
       "elect a leader (lease in POD_NAMESPACE, id joulie-operator)", ""},
      {"leader-elect-lease-duration", "LEADER_ELECT_LEASE_DURATION", "15s",
       "how long a Lease is valid without renewal", "DURATION"},
      {"leader-elect-renew-deadline", "LEADER_ELECT_RENEW_DEADLINE", "10s",
       "a leader that cannot renew within this stops writing and exits", "DURATION"},
      {"leader-elect-retry-period", "LEADER_ELECT_RETRY_PERIOD", "2s",
       "interval between acquire/renew attempts", "DURATION"},
      {"once", "", "false", "run one pass after the caches sync, then exit 0/1", ""},
      {"dry-run", "DRY_RUN", "false", "compute and report, write nothing", ""},
      {"output", "", "text", "with --once: print the pass result as text or json", "FORMAT"},
  };
}

Result<OperatorConfig> read_operator(const FlagSet& flags, const EnvLookup& env) {
  Resolver r(flags, env);
  OperatorConfig c;
  c.global = read_global(r, kOperatorGlobals);
  c.policy = r.choice("policy", PolicyType::static_partition,
                      {{"static_partition", PolicyType::static_partition},
                       {"queue_aware_v1", PolicyType::queue_aware_v1},
                       {"rule_swap_v1", PolicyType::rule_swap_v1},
                       {"context_aware_v1", PolicyType::context_aware_v1}});
  c.interval = r.duration("interval", c.interval, positive_duration);
  c.node_selector = r.text("node-selector", c.node_selector, label_selector);
  c.reserved_label = r.text("reserved-label", c.reserved_label, label_key);
  c.profile_label = r.text("profile-label", c.profile_label, label_key);
  c.performance_cap_watts =
      r.number("performance-cap-watts", c.performance_cap_watts, positive_watts);
  c.eco_cap_watts = r.number("eco-cap-watts", c.eco_cap_watts, positive_watts);
  c.static_hp_frac = r.number("static-hp-frac", c.static_hp_frac, fraction);
  c.queue_hp_base_frac = r.number("queue-hp-base-frac", c.queue_hp_base_frac, fraction);
  c.queue_hp_min = r.integer("queue-hp-min", c.queue_hp_min);
  c.queue_hp_max = r.integer("queue-hp-max", c.queue_hp_max);
  c.queue_perf_per_hp_node = r.integer("queue-perf-per-hp-node", c.queue_perf_per_hp_node);
  c.max_concurrent_writes =
      r.integer("max-concurrent-writes", c.max_concurrent_writes, [](const int64_t& v) {
        return v >= 1 && v <= 64 ? std::nullopt
                                 : std::optional<std::string>("must be between 1 and 64");
      });
  c.drain_timeout = r.duration("drain-timeout", c.drain_timeout, non_negative_duration);
  c.downgrade_settle = r.duration("downgrade-settle", c.downgrade_settle, non_negative_duration);
  c.upgrade_apply_timeout =
      r.duration("upgrade-apply-timeout", c.upgrade_apply_timeout, non_negative_duration);
  c.leader_elect = r.boolean("leader-elect", c.leader_elect);
  c.lease_duration = r.duration("leader-elect-lease-duration", c.lease_duration, positive_duration);
  c.renew_deadline = r.duration("leader-elect-renew-deadline", c.renew_deadline, positive_duration);
  c.retry_period = r.duration("leader-elect-retry-period", c.retry_period, positive_duration);
  c.once = r.boolean("once", c.once);
  c.dry_run = r.boolean("dry-run", c.dry_run);
  c.output = r.choice("output", OutputFormat::text,
                      {{"text", OutputFormat::text}, {"json", OutputFormat::json}});
  c.policy_config = r.text("policy-config", c.policy_config);
  c.policy_config_poll = r.duration("policy-config-poll", c.policy_config_poll, positive_duration);
  c.context_interval = r.duration("context-interval", c.context_interval, positive_duration);
  if (env) {
    c.leader_election_namespace = env("POD_NAMESPACE").value_or("");
  }
  c.zoneinfo_root = zoneinfo_root(env);
  if (!c.policy_config.empty() && !r.error()) {
    // Exit 2 at start-up naming the file, the line and the key (SPEC §8.4).
    auto loaded = load_policy_file(c.policy_config, c.zoneinfo_root);
    if (!loaded.ok()) {
      r.fail(r.setting("policy-config")->origin + ": " + loaded.error().message);
    } else {
      c.policy_file = std::move(*loaded);
    }
  }

  // rule_swap_v1 divides wall-clock seconds by the interval (the reference crashed below 1 s).
  if (c.policy == PolicyType::rule_swap_v1 && c.interval < std::chrono::seconds(1)) {
    if (auto s = r.setting("interval")) {
      r.fail(*s, "rule_swap_v1 needs an interval of at least 1s");
    }
  }
  // client-go's rule: the leader must give up before its lease can be taken over, and must
  // get more than one attempt to renew before that.
  if (c.renew_deadline >= c.lease_duration) {
    if (auto s = r.setting("leader-elect-renew-deadline")) {
      r.fail(*s, "the renew deadline must be shorter than the lease duration");
    } else if (auto l = r.setting("leader-elect-lease-duration")) {
      r.fail(*l, "the lease duration must be longer than the renew deadline");
    }
  }
  if (c.retry_period >= c.renew_deadline) {
    if (auto s = r.setting("leader-elect-retry-period")) {
      r.fail(*s, "the retry period must be shorter than the renew deadline");
    } else if (auto d = r.setting("leader-elect-renew-deadline")) {
      r.fail(*d, "the renew deadline must be longer than the retry period");
    }
  }
  if (r.error()) {
    return *r.error();
  }
  return c;
}

}  // namespace detail
}  // namespace joulie::config
