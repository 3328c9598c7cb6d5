#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "joulie/config/cli.hpp"
#include "joulie/policy/policy_file.hpp"

using namespace std::chrono_literals;
using joulie::config::Command;
using joulie::config::EnvLookup;
using joulie::config::Invocation;
using joulie::config::OperatorConfig;
using joulie::config::OutputFormat;
using joulie::policy::PolicyKind;

namespace {

using Env = std::map<std::string, std::string>;

EnvLookup lookup(const Env& env) {
  return [env](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(std::string(name));
    if (it == env.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

joulie::Result<Invocation> parse(std::vector<std::string> args, const Env& env = {}) {
  return joulie::config::parse_command_line(args, lookup(env));
}

OperatorConfig op(std::vector<std::string> flags, const Env& env = {}) {
  flags.insert(flags.begin(), "operator");
  auto r = parse(flags, env);
  INFO((r.ok() ? std::string("ok") : r.error().message));
  REQUIRE(r.ok());
  REQUIRE(r->command == Command::operator_mode);
  return r->operator_config;
}

bool contains(const std::string& s, const std::string& needle) {
  return s.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("operator defaults follow docs/configuration.md") {
  auto c = op({});
  CHECK(c.policy.kind == PolicyKind::static_partition);
  CHECK(c.interval == 1min);
  CHECK(c.node_selector == "joulie.io/managed=true");
  CHECK(c.reserved_label == "joulie.io/reserved");
  CHECK(c.profile_label == "joulie.io/power-profile");
  CHECK(c.policy.performance_cap_watts == 5000);
  CHECK(c.policy.eco_cap_watts == 120);
  CHECK_FALSE(c.static_hp_frac);
  CHECK_FALSE(c.queue_hp_base_frac);
  CHECK(joulie::policy::base_fraction(c.policy) == 0.5);  // static_partition's
  CHECK(joulie::policy::default_base_fraction(PolicyKind::queue_aware_v1) == 0.6);
  CHECK(c.policy.min == 1);
  CHECK(c.policy.max == 1000000);
  CHECK(c.policy.perf_pods_per_node == 10);
  CHECK(c.drain_timeout == 0s);
  CHECK_FALSE(c.leader_elect);
  CHECK(c.leader_election_id == "joulie-operator");
  CHECK_FALSE(c.once);
  CHECK_FALSE(c.dry_run);
  CHECK(c.output == OutputFormat::text);
  CHECK(c.global.metrics_addr == ":8081");
  CHECK(c.global.kubeconfig.empty());
  CHECK(c.global.log_format == joulie::log::Format::text);
  CHECK(c.global.log_level == joulie::log::Level::info);
  CHECK(c.global.kube_qps == 100);  // operator: upgrades of a large pass in time (decisions.md)
  CHECK(c.global.kube_burst == 200);
  CHECK(c.global.kube_list_page_size == 1000);
}

TEST_CASE("precedence: flag beats env beats default, for every operator setting") {
  struct Row {
    std::string flag;
    std::string env;
    std::string flag_value;
    std::string env_value;
    std::function<std::string(const OperatorConfig&)> read;
    std::string default_seen;
    bool boolean = false;  // booleans take "--flag=value" only, like Go's flag package
  };
  auto dur = [](joulie::Duration d) { return std::to_string(d.count()); };
  auto num = [](double v) { return std::to_string(v); };
  std::vector<Row> rows = {
      {"policy", "POLICY_TYPE", "rule_swap_v1", "queue_aware_v1",
       [](const OperatorConfig& c) {
         return std::string(joulie::policy::config_name(c.policy.kind));
       },
       "static_partition"},
      {"interval", "RECONCILE_INTERVAL", "30s", "2m",
       [&](const OperatorConfig& c) { return dur(c.interval); }, dur(1min)},
      {"node-selector", "NODE_SELECTOR", "a=b", "c=d",
       [](const OperatorConfig& c) { return c.node_selector; }, "joulie.io/managed=true"},
      {"reserved-label", "RESERVED_LABEL_KEY", "x.io/r", "y.io/r",
       [](const OperatorConfig& c) { return c.reserved_label; }, "joulie.io/reserved"},
      {"profile-label", "POWER_PROFILE_LABEL", "x.io/p", "y.io/p",
       [](const OperatorConfig& c) { return c.profile_label; }, "joulie.io/power-profile"},
      {"performance-cap-watts", "PERFORMANCE_CAP_WATTS", "400", "350.5",
       [&](const OperatorConfig& c) { return num(c.policy.performance_cap_watts); }, num(5000)},
      {"eco-cap-watts", "ECO_CAP_WATTS", "90", "80",
       [&](const OperatorConfig& c) { return num(c.policy.eco_cap_watts); }, num(120)},
      {"static-hp-frac", "STATIC_HP_FRAC", "0.25", "1",
       [&](const OperatorConfig& c) { return num(c.static_hp_frac.value_or(0.5)); }, num(0.5)},
      {"queue-hp-base-frac", "QUEUE_HP_BASE_FRAC", "0", "0.34",
       [&](const OperatorConfig& c) { return num(c.queue_hp_base_frac.value_or(0.6)); }, num(0.6)},
      {"queue-hp-min", "QUEUE_HP_MIN", "-3", "2",
       [](const OperatorConfig& c) { return std::to_string(c.policy.min); }, "1"},
      {"queue-hp-max", "QUEUE_HP_MAX", "0", "7",
       [](const OperatorConfig& c) { return std::to_string(c.policy.max); }, "1000000"},
      {"queue-perf-per-hp-node", "QUEUE_PERF_PER_HP_NODE", "3", "0",
       [](const OperatorConfig& c) { return std::to_string(c.policy.perf_pods_per_node); }, "10"},
      {"drain-timeout", "DRAIN_TIMEOUT", "5m", "1h30m",
       [&](const OperatorConfig& c) { return dur(c.drain_timeout); }, dur(0s)},
      {"leader-elect", "LEADER_ELECT", "false", "true",
       [](const OperatorConfig& c) { return std::string(c.leader_elect ? "1" : "0"); }, "0", true},
      {"dry-run", "DRY_RUN", "false", "true",
       [](const OperatorConfig& c) { return std::string(c.dry_run ? "1" : "0"); }, "0", true},
      {"metrics-addr", "METRICS_ADDR", "127.0.0.1:0", "[::1]:9000",
       [](const OperatorConfig& c) { return c.global.metrics_addr; }, ":8081"},
      {"kube-qps", "KUBE_QPS", "5", "50",
       [&](const OperatorConfig& c) { return num(c.global.kube_qps); }, num(100)},
      {"kube-burst", "KUBE_BURST", "7", "70",
       [](const OperatorConfig& c) { return std::to_string(c.global.kube_burst); }, "200"},
      {"kube-list-page-size", "KUBE_LIST_PAGE_SIZE", "100", "0",
       [](const OperatorConfig& c) { return std::to_string(c.global.kube_list_page_size); },
       "1000"},
      {"context", "KUBE_CONTEXT", "kind-a", "kind-b",
       [](const OperatorConfig& c) { return c.global.context; }, ""},
      {"log-level", "LOG_LEVEL", "debug", "error",
       [](const OperatorConfig& c) { return std::to_string(static_cast<int>(c.global.log_level)); },
       "1"},
      {"log-format", "LOG_FORMAT", "text", "json",
       [](const OperatorConfig& c) {
         return std::to_string(static_cast<int>(c.global.log_format));
       },
       "0"},
  };
  for (const auto& row : rows) {
    INFO("--" << row.flag << " / " << row.env);
    auto defaults = op({});
    auto from_env = op({}, {{row.env, row.env_value}});
    auto from_flag = op({"--" + row.flag + "=" + row.flag_value}, {{row.env, row.env_value}});
    auto empty_env = op({}, {{row.env, ""}});  // an empty variable counts as unset
    CHECK(row.read(defaults) == row.default_seen);
    CHECK(row.read(empty_env) == row.default_seen);
    CHECK(row.read(from_env) != row.default_seen);
    CHECK(row.read(from_flag) != row.read(from_env));
    if (!row.boolean) {
      auto spaced = op({"--" + row.flag, row.flag_value}, {{row.env, row.env_value}});
      CHECK(row.read(spaced) == row.read(from_flag));
    }
  }
}

TEST_CASE("boolean flags: bare, =value, Go spellings in the environment") {
  CHECK(op({"--once"}).once);
  CHECK(op({"--dry-run"}).dry_run);
  CHECK_FALSE(op({"--dry-run=false"}, {{"DRY_RUN", "true"}}).dry_run);
  CHECK(op({}, {{"LEADER_ELECT", "1"}}).leader_elect);
  CHECK(op({}, {{"LEADER_ELECT", "True"}}).leader_elect);
  CHECK_FALSE(op({}, {{"LEADER_ELECT", "F"}}).leader_elect);
  CHECK(op({"-once"}).once);  // Go's single-dash spelling
  CHECK(op({"--once", "--output", "json"}).output == OutputFormat::json);
  auto spaced = parse({"operator", "--dry-run", "false"});
  REQUIRE_FALSE(spaced.ok());  // "false" is a stray argument, not the flag's value
  CHECK(contains(spaced.error().message, "unexpected argument \"false\""));
}

TEST_CASE("kubeconfig lists several files separated by ':'") {
  auto c = op({}, {{"KUBECONFIG", "/a/config:/b/config::/c/config:"}});
  CHECK(c.global.kubeconfig == std::vector<std::string>{"/a/config", "/b/config", "/c/config"});
  auto flag = op({"--kubeconfig", "/only"}, {{"KUBECONFIG", "/a:/b"}});
  CHECK(flag.global.kubeconfig == std::vector<std::string>{"/only"});
}

TEST_CASE("POD_NAMESPACE names the leader election namespace") {
  CHECK(op({"--leader-elect"}, {{"POD_NAMESPACE", "joulie-system"}}).leader_election_namespace ==
        "joulie-system");
  CHECK(op({}).leader_election_namespace.empty());
}

TEST_CASE("usage errors name the flag, the env var when it came from there, and the value") {
  struct Row {
    std::vector<std::string> args;
    Env env;
    std::string message;
  };
  std::vector<Row> rows = {
      {{"operator", "--interval", "abc"},
       {},
       "invalid value \"abc\" for --interval: invalid duration \"abc\""},
      {{"operator"},
       {{"RECONCILE_INTERVAL", "abc"}},
       "invalid value \"abc\" for --interval (RECONCILE_INTERVAL): invalid duration \"abc\""},
      {{"operator", "--interval=0s"}, {}, "invalid value \"0s\" for --interval: must be greater"},
      {{"operator", "--interval=-5s"}, {}, "invalid value \"-5s\" for --interval: must be greater"},
      {{"operator", "--static-hp-frac=1.5"},
       {},
       "invalid value \"1.5\" for --static-hp-frac: must be a fraction between 0 and 1"},
      {{"operator"},
       {{"QUEUE_HP_BASE_FRAC", "-0.1"}},
       "invalid value \"-0.1\" for --queue-hp-base-frac (QUEUE_HP_BASE_FRAC): must be a fraction"},
      {{"operator", "--static-hp-frac=nan"}, {}, "invalid value \"nan\" for --static-hp-frac"},
      {{"operator", "--policy=greedy"},
       {},
       "invalid value \"greedy\" for --policy: must be one of static_partition, queue_aware_v1, "
       "rule_swap_v1"},
      {{"operator"}, {{"POLICY_TYPE", "static-partition"}}, "for --policy (POLICY_TYPE)"},
      {{"operator", "--eco-cap-watts=-5"},
       {},
       "invalid value \"-5\" for --eco-cap-watts: must be a package power cap in watts between "
       "10 and 100000"},
      {{"operator", "--eco-cap-watts=9.5"}, {}, "for --eco-cap-watts: must be a package power cap"},
      {{"operator", "--performance-cap-watts=100001"},
       {},
       "for --performance-cap-watts: must be a package power cap"},
      {{"operator", "--performance-cap-watts=0"}, {}, "for --performance-cap-watts: must be"},
      {{"operator", "--performance-cap-watts=inf"},
       {},
       "invalid value \"inf\" for --performance-cap-watts: not a finite number"},
      {{"operator", "--eco-cap-watts=120W"}, {}, "invalid value \"120W\" for --eco-cap-watts"},
      {{"operator", "--queue-hp-min=1.5"},
       {},
       "invalid value \"1.5\" for --queue-hp-min: not an integer"},
      {{"operator", "--drain-timeout=-1m"}, {}, "for --drain-timeout: must not be negative"},
      {{"operator", "--policy=rule_swap_v1", "--interval=500ms"},
       {},
       "invalid value \"500ms\" for --interval: rule_swap_v1 needs an interval of at least 1s"},
      {{"operator"},
       {{"POLICY_TYPE", "rule_swap_v1"}, {"RECONCILE_INTERVAL", "999ms"}},
       "invalid value \"999ms\" for --interval (RECONCILE_INTERVAL): rule_swap_v1 needs"},
      {{"operator", "--log-level=loud"},
       {},
       "invalid value \"loud\" for --log-level: must be one of"},
      {{"operator"},
       {{"LOG_FORMAT", "xml"}},
       "invalid value \"xml\" for --log-format (LOG_FORMAT)"},
      {{"operator", "--output=yaml"},
       {},
       "invalid value \"yaml\" for --output: must be one of text, json"},
      {{"operator", "--dry-run=maybe"}, {}, "invalid value \"maybe\" for --dry-run: not a boolean"},
      {{"operator", "--metrics-addr=8081"}, {}, "invalid value \"8081\" for --metrics-addr"},
      {{"operator", "--kube-qps=0"}, {}, "invalid value \"0\" for --kube-qps"},
      {{"operator", "--kube-burst=0"}, {}, "invalid value \"0\" for --kube-burst"},
      {{"operator", "--kube-list-page-size=-1"},
       {},
       "invalid value \"-1\" for --kube-list-page-size: must not be negative"},
      {{"operator"},
       {{"KUBE_LIST_PAGE_SIZE", "2k"}},
       "invalid value \"2k\" for --kube-list-page-size (KUBE_LIST_PAGE_SIZE): not an integer"},
      {{"agent", "--node=n1", "--kube-list-page-size", "-500"},
       {},
       "invalid value \"-500\" for --kube-list-page-size: must not be negative"},
      {{"agent", "--mode=pool"},
       {{"KUBE_LIST_PAGE_SIZE", "99999999999999999999"}},
       "for --kube-list-page-size (KUBE_LIST_PAGE_SIZE): out of range"},
      {{"operator", "--profile-label=bad key"},
       {},
       "invalid value \"bad key\" for --profile-label"},
      {{"operator", "--reserved-label=/x"}, {}, "invalid value \"/x\" for --reserved-label"},
      {{"operator", "--no-such-flag"}, {}, "unknown flag --no-such-flag for \"joulie operator\""},
      {{"operator", "--mode=pool"}, {}, "unknown flag --mode for \"joulie operator\""},
      {{"operator", "extra"}, {}, "unexpected argument \"extra\" for \"joulie operator\""},
      {{"operator", "--once", "--", "x"}, {}, "unexpected argument \"--\""},
      {{"operator", "--interval"}, {}, "flag --interval needs a value"},
      {{"version", "--output=xml"}, {}, "invalid value \"xml\" for --output"},
      {{"version", "now"}, {}, "unexpected argument \"now\" for \"joulie version\""},
      {{"frobnicate"}, {}, "unknown command \"frobnicate\""},
      {{"help", "frobnicate"}, {}, "unknown command \"frobnicate\""},
      {{}, {}, "missing command"},
      {{"agent"}, {}, "--node (NODE_NAME) is required in daemonset mode"},
      {{"agent", "--node=n1", "--mode=cluster"}, {}, "invalid value \"cluster\" for --mode"},
      {{"agent"}, {{"NODE_NAME", "n1"}, {"AGENT_MODE", "dual"}}, "for --mode (AGENT_MODE)"},
      {{"agent", "--node=n1", "--dvfs-ema-alpha=0"}, {}, "for --dvfs-ema-alpha: must be in (0, 1]"},
      {{"agent", "--node=n1", "--dvfs-ema-alpha=1.01"}, {}, "for --dvfs-ema-alpha: must be in"},
      {{"agent", "--node=n1", "--dvfs-step-pct=0"},
       {},
       "for --dvfs-step-pct: must be between 1 and 100"},
      {{"agent", "--node=n1"}, {{"DVFS_STEP_PCT", "101"}}, "for --dvfs-step-pct (DVFS_STEP_PCT)"},
      {{"agent", "--node=n1", "--dvfs-trip-count=0"},
       {},
       "invalid value \"0\" for --dvfs-trip-count"},
      {{"agent", "--node=n1", "--dvfs-high-margin-w=-1"}, {}, "for --dvfs-high-margin-w: must be"},
      {{"agent", "--node=n1", "--dvfs-cooldown=soon"}, {}, "for --dvfs-cooldown: invalid duration"},
      {{"agent", "--node=n1", "--telemetry-ttl=0"}, {}, "for --telemetry-ttl: must be greater"},
      {{"agent", "--mode=pool", "--pool-shards=0"}, {}, "invalid value \"0\" for --pool-shards"},
      {{"agent", "--mode=pool", "--pool-shards=3", "--pool-shard-id=3"},
       {},
       "invalid value \"3\" for --pool-shard-id: must be in [0, 3)"},
      {{"agent", "--mode=pool", "--pool-shard-id=-1"},
       {},
       "invalid value \"-1\" for --pool-shard-id"},
      {{"agent", "--mode=pool"},
       {{"POOL_SHARDS", "2"}, {"POD_NAME", "joulie-agent-pool-4"}},
       "invalid value \"4\" for --pool-shard-id (from POD_NAME \"joulie-agent-pool-4\"): must be "
       "in [0, 2)"},
      {{"agent", "--node=n1", "--once", "--restore"},
       {},
       "--restore cannot be combined with --once"},
  };
  for (const auto& row : rows) {
    std::string joined;
    for (const auto& a : row.args) {
      joined += a + " ";
    }
    INFO("args: " << joined);
    auto r = parse(row.args, row.env);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == joulie::Errc::invalid_argument);
    CHECK(contains(r.error().message, row.message));
    CHECK_FALSE(contains(r.error().message, "\n"));  // one line on stderr
  }
}

TEST_CASE("--kube-list-page-size: operator 1000, agent 500; 0 means one unpaginated list") {
  CHECK(op({"--kube-list-page-size=0"}).global.kube_list_page_size == 0);
  CHECK(op({"--kube-list-page-size", "1"}).global.kube_list_page_size == 1);
  CHECK(op({}, {{"KUBE_LIST_PAGE_SIZE", "+5000"}}).global.kube_list_page_size == 5000);
  auto agent = parse({"agent", "--mode=pool"}, {{"KUBE_LIST_PAGE_SIZE", "250"}});
  REQUIRE(agent.ok());
  CHECK(agent->agent_config.global.kube_list_page_size == 250);
  auto agent_default = parse({"agent", "--node=n1"});
  REQUIRE(agent_default.ok());
  CHECK(agent_default->agent_config.global.kube_list_page_size == 500);
  auto flag_over_env =
      parse({"agent", "--node=n1", "--kube-list-page-size=0"}, {{"KUBE_LIST_PAGE_SIZE", "250"}});
  REQUIRE(flag_over_env.ok());
  CHECK(flag_over_env->agent_config.global.kube_list_page_size == 0);
}

TEST_CASE("queue min/max hygiene is not a usage error (the policy clamps)") {
  auto c = op({"--queue-hp-min=-2", "--queue-hp-max=0", "--queue-perf-per-hp-node=-1"});
  CHECK(c.policy.min == -2);
  CHECK(c.policy.max == 0);
  CHECK(c.policy.perf_pods_per_node == -1);
  CHECK(op({"--queue-hp-min=9", "--queue-hp-max=3"}).policy.max == 3);
}

TEST_CASE("rule_swap_v1 accepts an interval of exactly 1s") {
  auto c = op({"--policy=rule_swap_v1", "--interval=1s"});
  CHECK(c.policy.kind == PolicyKind::rule_swap_v1);
  CHECK(c.interval == 1s);
}

TEST_CASE("help lists every flag with its env variable and default") {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"help"}, {"--help"}, {"-h"}}) {
    auto r = parse(args);
    REQUIRE(r.ok());
    CHECK(r->command == Command::help);
    const auto& text = r->help_text;
    for (const char* needle : {"--policy NAME",
                               "POLICY_TYPE",
                               "static_partition",
                               "--interval DURATION",
                               "RECONCILE_INTERVAL",
                               "--kubeconfig",
                               "KUBECONFIG",
                               "--metrics-addr",
                               ":8081",
                               ":8080",
                               "--pool-shard-id",
                               "POOL_SHARD_ID",
                               "--dvfs-trip-count",
                               "DVFS_TRIP_COUNT",
                               "--telemetry-ttl",
                               "60s",
                               "--restore",
                               "--output",
                               "QUEUE_PERF_PER_HP_NODE",
                               "KUBE_BURST",
                               "--kube-list-page-size N",
                               "KUBE_LIST_PAGE_SIZE",
                               "LOG_LEVEL",
                               "SIMULATE_ONLY",
                               "/var/lib/joulie",
                               "1500000"}) {
      INFO(needle);
      CHECK(contains(text, needle));
    }
  }
  auto op_help = parse({"operator", "--help"});
  REQUIRE(op_help.ok());
  CHECK(op_help->command == Command::help);
  CHECK(contains(op_help->help_text, "Usage: joulie operator"));
  CHECK(contains(op_help->help_text, "DRAIN_TIMEOUT"));
  CHECK(contains(op_help->help_text, "[env KUBE_LIST_PAGE_SIZE; default 1000]"));
  CHECK_FALSE(contains(op_help->help_text, "DVFS_STEP_PCT"));
  // --help wins over values that would otherwise be rejected.
  auto bad_then_help = parse({"operator", "--interval=abc", "--help"});
  REQUIRE(bad_then_help.ok());
  CHECK(bad_then_help->command == Command::help);

  auto agent_help = parse({"help", "agent"});
  REQUIRE(agent_help.ok());
  CHECK(contains(agent_help->help_text, "Usage: joulie agent"));
  CHECK(contains(agent_help->help_text, ":8080"));
  CHECK(contains(agent_help->help_text, "[env KUBE_LIST_PAGE_SIZE; default 500]"));
}

TEST_CASE("version prints text or a JSON object") {
  auto plain = parse({"version"});
  REQUIRE(plain.ok());
  CHECK(plain->command == Command::version);
  CHECK(joulie::config::version_text("0.1.0", "abc123", plain->output) ==
        "joulie 0.1.0 (abc123)\n");
  auto json = parse({"version", "--output", "json"});
  REQUIRE(json.ok());
  CHECK(joulie::config::version_text("0.1.0", "abc\"123", json->output) ==
        "{\"version\":\"0.1.0\",\"commit\":\"abc\\\"123\"}\n");
}

TEST_CASE("the base fraction flag of the policy in force sets performance.baseFraction") {
  auto stat = op({"--static-hp-frac=0.25", "--queue-hp-base-frac=0.75"});
  CHECK(joulie::policy::base_fraction(stat.policy) == 0.25);
  auto queue = op({"--policy=queue_aware_v1", "--static-hp-frac=0.25"});
  CHECK(joulie::policy::base_fraction(queue.policy) == 0.6);  // its own flag's default
  // A policy file that chooses another policy takes that policy's flag; its own key wins.
  joulie::policy::PolicyFile file;
  file.policy = PolicyKind::queue_aware_v1;
  CHECK(joulie::policy::base_fraction(joulie::config::policy_settings(stat, &file)) == 0.75);
  file.performance.base_fraction = 0.1;
  CHECK(joulie::policy::base_fraction(joulie::config::policy_settings(stat, &file)) == 0.1);
  CHECK(joulie::policy::base_fraction(joulie::config::policy_settings(stat, nullptr)) == 0.25);
}
