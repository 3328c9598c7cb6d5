#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "joulie/config/cli.hpp"

using namespace std::chrono_literals;
using joulie::config::AgentConfig;
using joulie::config::AgentMode;
using joulie::config::Command;

namespace {

using Env = std::map<std::string, std::string>;

AgentConfig agent(std::vector<std::string> flags, const Env& env = {}) {
  flags.insert(flags.begin(), "agent");
  auto r = joulie::config::parse_command_line(
      flags, [env](std::string_view name) -> std::optional<std::string> {
        auto it = env.find(std::string(name));
        return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
      });
  INFO((r.ok() ? std::string("ok") : r.error().message));
  REQUIRE(r.ok());
  REQUIRE(r->command == Command::agent_mode);
  return r->agent_config;
}

}  // namespace

TEST_CASE("agent defaults follow docs/configuration.md") {
  auto c = agent({"--node=n1"});
  CHECK(c.mode == AgentMode::daemonset);
  CHECK(c.node == "n1");
  CHECK(c.interval == 20s);
  CHECK(c.sysfs_root == "/host-sys");
  CHECK(c.state_dir == "/var/lib/joulie");
  CHECK_FALSE(c.simulate_only);
  CHECK(c.pool_node_selector == "joulie.io/managed=true");
  CHECK(c.pool_shards == 1);
  CHECK(c.pool_shard_id == 0);
  CHECK(c.dvfs_ema_alpha == 0.3);
  CHECK(c.dvfs_high_margin_w == 10);
  CHECK(c.dvfs_low_margin_w == 15);
  CHECK(c.dvfs_step_pct == 10);
  CHECK(c.dvfs_min_freq_khz == 1500000);
  CHECK(c.dvfs_cooldown == 20s);
  CHECK(c.dvfs_trip_count == 2);
  CHECK(c.telemetry_ttl == 60s);
  CHECK_FALSE(c.once);
  CHECK_FALSE(c.restore);
  CHECK(c.global.metrics_addr == ":8080");
  CHECK(c.global.kube_list_page_size == 500);  // the operator's is 1000 (cli_test.cpp)
  CHECK(c.global.kube_qps == 20);              // the operator's are 100/200 (cli_test.cpp)
  CHECK(c.global.kube_burst == 40);
}

TEST_CASE("agent settings come from flags over env over defaults") {
  Env env = {
      {"NODE_NAME", "env-node"},       {"RECONCILE_INTERVAL", "5s"},   {"SYSFS_ROOT", "/sys"},
      {"STATE_DIR", "/tmp/s"},         {"SIMULATE_ONLY", "true"},      {"DVFS_EMA_ALPHA", "1"},
      {"DVFS_HIGH_MARGIN_W", "0"},     {"DVFS_LOW_MARGIN_W", "2.5"},   {"DVFS_STEP_PCT", "100"},
      {"DVFS_MIN_FREQ_KHZ", "800000"}, {"DVFS_COOLDOWN", "0"},         {"DVFS_TRIP_COUNT", "1"},
      {"TELEMETRY_TTL", "90s"},        {"METRICS_ADDR", "127.0.0.1:0"}};
  auto from_env = agent({}, env);
  CHECK(from_env.node == "env-node");
  CHECK(from_env.interval == 5s);
  CHECK(from_env.sysfs_root == "/sys");
  CHECK(from_env.state_dir == "/tmp/s");
  CHECK(from_env.simulate_only);
  CHECK(from_env.dvfs_ema_alpha == 1);
  CHECK(from_env.dvfs_high_margin_w == 0);
  CHECK(from_env.dvfs_low_margin_w == 2.5);
  CHECK(from_env.dvfs_step_pct == 100);
  CHECK(from_env.dvfs_min_freq_khz == 800000);
  CHECK(from_env.dvfs_cooldown == 0s);
  CHECK(from_env.dvfs_trip_count == 1);
  CHECK(from_env.telemetry_ttl == 90s);
  CHECK(from_env.global.metrics_addr == "127.0.0.1:0");

  auto from_flags = agent({"--node", "flag-node", "--interval=1m", "--simulate-only=false",
                           "--dvfs-step-pct", "5", "--telemetry-ttl=2m"},
                          env);
  CHECK(from_flags.node == "flag-node");
  CHECK(from_flags.interval == 1min);
  CHECK_FALSE(from_flags.simulate_only);
  CHECK(from_flags.dvfs_step_pct == 5);
  CHECK(from_flags.telemetry_ttl == 2min);
  CHECK(from_flags.sysfs_root == "/sys");  // untouched settings still come from env
}

TEST_CASE("pool mode does not need a node; the shard defaults from POD_NAME") {
  auto plain = agent({"--mode=pool"});
  CHECK(plain.mode == AgentMode::pool);
  CHECK(plain.node.empty());
  CHECK(plain.pool_shard_id == 0);

  auto named = agent({"--mode=pool", "--pool-shards=5"}, {{"POD_NAME", "joulie-agent-pool-3"}});
  CHECK(named.pool_shards == 5);
  CHECK(named.pool_shard_id == 3);

  auto no_suffix = agent({"--mode=pool", "--pool-shards=5"}, {{"POD_NAME", "joulie-agent-abc"}});
  CHECK(no_suffix.pool_shard_id == 0);

  // An explicit shard id wins over the pod name.
  auto explicit_id = agent({"--mode=pool", "--pool-shards=5"},
                           {{"POD_NAME", "joulie-agent-pool-3"}, {"POOL_SHARD_ID", "1"}});
  CHECK(explicit_id.pool_shard_id == 1);
  CHECK(agent({"--mode=pool", "--pool-shards=5", "--pool-shard-id=4"}, {{"POOL_SHARD_ID", "1"}})
            .pool_shard_id == 4);
}

TEST_CASE("daemonset pods whose random suffix looks like a shard are not sharded") {
  auto c = agent({}, {{"NODE_NAME", "n1"}, {"POD_NAME", "joulie-agent-24567"}});
  CHECK(c.mode == AgentMode::daemonset);
  CHECK(c.pool_shard_id == 0);
}

TEST_CASE("shard from the pod name") {
  using joulie::config::shard_from_pod_name;
  CHECK(shard_from_pod_name("joulie-agent-pool-3") == 3);
  CHECK(shard_from_pod_name("pool-12") == 12);
  CHECK_FALSE(shard_from_pod_name("joulie-agent-pool-"));
  CHECK_FALSE(shard_from_pod_name("joulie-agent-pool-x3"));
  CHECK_FALSE(shard_from_pod_name("noshard"));
  CHECK_FALSE(shard_from_pod_name("pool-99999999999999999999"));
  CHECK_FALSE(shard_from_pod_name(""));
}
