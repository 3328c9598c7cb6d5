#include "joulie/config/operator.hpp"

#include <chrono>

#include <fmt/format.h>

#include "joulie/api/names.hpp"
#include "joulie/policy/selector.hpp"
#include "modes.hpp"

namespace joulie::config {

namespace detail {

std::optional<std::string> label_selector(const std::string& selector) {
  auto parsed = policy::parse_selector(selector);
  if (!parsed.ok()) {
    return parsed.error().message;
  }
  return std::nullopt;
}

constexpr policy::PolicyKind kPolicyKinds[] = {
    policy::PolicyKind::static_partition, policy::PolicyKind::queue_aware_v1,
    policy::PolicyKind::rule_swap_v1, policy::PolicyKind::context_aware_v1};

// A default as --help shows it, taken from the one place it is defined.
std::string shown(double v) { return fmt::format("{}", v); }

std::vector<FlagSpec> operator_flag_specs() {
  const policy::PolicyConfig d;  // the policy settings' defaults
  std::string kinds;
  for (std::size_t i = 0; i < std::size(kPolicyKinds); ++i) {
    kinds += (i == 0 ? "" : i + 1 == std::size(kPolicyKinds) ? " or " : ", ");
    kinds += policy::config_name(kPolicyKinds[i]);
  }
  return {
      {"policy", "POLICY_TYPE", std::string(policy::config_name(d.kind)), kinds, "NAME"},
      {"policy-config", "POLICY_CONFIG", "none",
       "policy file (YAML, docs/policies.md); its keys override the flags, re-read on change",
       "PATH"},
      {"policy-config-poll", "POLICY_CONFIG_POLL", "5s",
       "how often the policy file is checked for changes", "DURATION"},
      {"context-interval", "CONTEXT_INTERVAL", "15s",
       "how often the policy file's signals are queried (Prometheus, models)", "DURATION"},
      {"interval", "RECONCILE_INTERVAL", "1m", "reconcile interval", "DURATION"},
      {"node-selector", "NODE_SELECTOR", std::string(api::kDefaultNodeSelector),
       "label selector of the managed nodes", "SELECTOR"},
      {"reserved-label", "RESERVED_LABEL_KEY", std::string(api::kReservedLabel),
       "label key that excludes a node from management", "KEY"},
      {"profile-label", "POWER_PROFILE_LABEL", std::string(api::kPowerProfileLabel),
       "node label publishing the power profile", "KEY"},
      {"performance-cap-watts", "PERFORMANCE_CAP_WATTS", shown(d.performance_cap_watts),
       "CPU package cap of performance nodes", "WATTS"},
      {"eco-cap-watts", "ECO_CAP_WATTS", shown(d.eco_cap_watts), "CPU package cap of eco nodes",
       "WATTS"},
      {"static-hp-frac", "STATIC_HP_FRAC",
       shown(policy::default_base_fraction(policy::PolicyKind::static_partition)),
       "static_partition: fraction of nodes in performance (policy file: "
       "performance.baseFraction)",
       "FRACTION"},
      {"queue-hp-base-frac", "QUEUE_HP_BASE_FRAC",
       shown(policy::default_base_fraction(policy::PolicyKind::queue_aware_v1)),
       "queue_aware_v1: base fraction of nodes in performance (policy file: "
       "performance.baseFraction)",
       "FRACTION"},
      {"queue-hp-min", "QUEUE_HP_MIN", std::to_string(d.min),
       "queue_aware_v1: minimum performance nodes (policy file: performance.min)", "N"},
      {"queue-hp-max", "QUEUE_HP_MAX", std::to_string(d.max),
       "queue_aware_v1: maximum performance nodes (policy file: performance.max)", "N"},
      {"queue-perf-per-hp-node", "QUEUE_PERF_PER_HP_NODE", std::to_string(d.perf_pods_per_node),
       "queue_aware_v1: performance pods one performance node absorbs (policy file: "
       "performance.perfPodsPerNode)",
       "N"},
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

namespace {

// The settings given on the command line or in the environment that `file` overrides (its keys
// win, docs/policies.md). Each is named as the user wrote it, with the key that wins.
std::vector<std::string> settings_the_file_overrides(const Resolver& r,
                                                     const policy::PolicyFile& file) {
  const policy::PerformanceSettings& p = file.performance;
  struct Row {
    const char* flag;
    const char* key;
    bool in_file;
  };
  const Row rows[] = {
      {"policy", "policy", file.policy.has_value()},
      {"static-hp-frac", "performance.baseFraction", p.base_fraction.has_value()},
      {"queue-hp-base-frac", "performance.baseFraction", p.base_fraction.has_value()},
      {"queue-hp-min", "performance.min", p.min.has_value()},
      {"queue-hp-max", "performance.max", p.max.has_value()},
      {"queue-perf-per-hp-node", "performance.perfPodsPerNode", p.perf_pods_per_node.has_value()},
      {"performance-cap-watts", "performance.performanceCapWatts",
       p.performance_cap_watts.has_value()},
      {"eco-cap-watts", "performance.ecoCapWatts", p.eco_cap_watts.has_value()},
  };
  std::vector<std::string> out;
  for (const Row& row : rows) {
    if (const auto set = r.setting(row.flag); set && row.in_file) {
      out.push_back(fmt::format("{} (policy file key {})", set->origin, row.key));
    }
  }
  return out;
}

}  // namespace

Result<OperatorConfig> read_operator(const FlagSet& flags, const EnvLookup& env) {
  Resolver r(flags, env);
  OperatorConfig c;
  c.global = read_global(r, kOperatorGlobals);
  policy::PolicyConfig& p = c.policy;
  using K = policy::PolicyKind;
  p.kind = r.choice("policy", p.kind,
                    {{policy::config_name(K::static_partition), K::static_partition},
                     {policy::config_name(K::queue_aware_v1), K::queue_aware_v1},
                     {policy::config_name(K::rule_swap_v1), K::rule_swap_v1},
                     {policy::config_name(K::context_aware_v1), K::context_aware_v1}});
  c.interval = r.duration("interval", c.interval, positive_duration);
  p.interval = c.interval;
  c.node_selector = r.text("node-selector", c.node_selector, label_selector);
  c.reserved_label = r.text("reserved-label", c.reserved_label, label_key);
  c.profile_label = r.text("profile-label", c.profile_label, label_key);
  p.performance_cap_watts =
      r.number("performance-cap-watts", p.performance_cap_watts, package_cap_watts);
  p.eco_cap_watts = r.number("eco-cap-watts", p.eco_cap_watts, package_cap_watts);
  auto given_fraction = [&r](std::string_view name) -> std::optional<double> {
    if (!r.setting(name)) {
      return std::nullopt;
    }
    return r.number(name, 0, fraction);
  };
  c.static_hp_frac = given_fraction("static-hp-frac");
  c.queue_hp_base_frac = given_fraction("queue-hp-base-frac");
  p.base_fraction =
      p.kind == policy::PolicyKind::static_partition ? c.static_hp_frac : c.queue_hp_base_frac;
  // Not validated against each other: the queue policy clamps them.
  p.min = r.integer("queue-hp-min", p.min);
  p.max = r.integer("queue-hp-max", p.max);
  p.perf_pods_per_node = r.integer("queue-perf-per-hp-node", p.perf_pods_per_node);
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
    // Exit 2 at start-up naming the file, the line and the key (docs/design.md#policy-file).
    auto loaded = load_policy_file(c.policy_config, c.zoneinfo_root);
    if (!loaded.ok()) {
      r.fail(r.setting("policy-config")->origin + ": " + loaded.error().message);
    } else {
      c.policy_file = std::move(*loaded);
      c.overridden_by_file = settings_the_file_overrides(r, c.policy_file->file);
    }
  }

  // rule_swap_v1 divides wall-clock seconds by the interval (the reference crashed below 1 s).
  if (p.kind == policy::PolicyKind::rule_swap_v1 && c.interval < std::chrono::seconds(1)) {
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
policy::PolicyConfig policy_settings(const OperatorConfig& config, const policy::PolicyFile* file) {
  policy::PolicyConfig p = config.policy;
  if (file == nullptr) {
    return p;
  }
  // The file may choose another policy: the base fraction flag is that policy's.
  const policy::PolicyKind kind = file->policy.value_or(p.kind);
  p.base_fraction = kind == policy::PolicyKind::static_partition ? config.static_hp_frac
                                                                 : config.queue_hp_base_frac;
  return policy::apply_file(std::move(p), *file);
}

}  // namespace joulie::config
