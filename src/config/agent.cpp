#include "joulie/config/agent.hpp"

#include <fmt/format.h>

#include <charconv>

#include "modes.hpp"

namespace joulie::config {

std::string_view agent_mode_name(AgentMode mode) {
  return mode == AgentMode::pool ? "pool" : "daemonset";
}

std::optional<int> shard_from_pod_name(std::string_view pod_name) {
  auto dash = pod_name.rfind('-');
  if (dash == std::string_view::npos || dash + 1 >= pod_name.size()) {
    return std::nullopt;
  }
  std::string_view digits = pod_name.substr(dash + 1);
  int shard = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), shard);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || shard < 0) {
    return std::nullopt;
  }
  return shard;
}

namespace detail {
namespace {

Check<int64_t> in_range(int64_t low, int64_t high) {
  return [low, high](const int64_t& v) -> std::optional<std::string> {
    if (v < low || v > high) {
      return fmt::format("must be between {} and {}", low, high);
    }
    return std::nullopt;
  };
}

std::optional<std::string> ema_alpha(const double& v) {
  if (!(v > 0.0 && v <= 1.0)) {
    return "must be in (0, 1]";
  }
  return std::nullopt;
}

}  // namespace

std::vector<FlagSpec> agent_flag_specs() {
  return {
      {"mode", "AGENT_MODE", "daemonset", "daemonset (one node) or pool (sharded nodes)", "MODE"},
      {"node", "NODE_NAME", "none; required in daemonset mode", "the node this agent controls",
       "NAME"},
      {"interval", "RECONCILE_INTERVAL", "20s", "re-apply and telemetry interval", "DURATION"},
      {"sysfs-root", "SYSFS_ROOT", "/host-sys", "where the host's /sys is mounted", "PATH"},
      {"state-dir", "STATE_DIR", "/var/lib/joulie", "where original host settings are recorded",
       "PATH"},
      {"simulate-only", "SIMULATE_ONLY", "false", "log what would be applied, touch nothing", ""},
      {"pool-node-selector", "POOL_NODE_SELECTOR", std::string(api::kDefaultNodeSelector),
       "pool mode: label selector of the nodes to drive", "SELECTOR"},
      {"pool-shards", "POOL_SHARDS", "1", "pool mode: number of shards", "N"},
      {"pool-shard-id", "POOL_SHARD_ID", "POD_NAME's trailing -<n>, else 0",
       "pool mode: the shard this process owns, in [0, shards)", "N"},
      {"dvfs-ema-alpha", "DVFS_EMA_ALPHA", "0.3", "DVFS power smoothing factor, in (0, 1]",
       "ALPHA"},
      {"dvfs-high-margin-w", "DVFS_HIGH_MARGIN_W", "10", "DVFS: throttle above cap + this",
       "WATTS"},
      {"dvfs-low-margin-w", "DVFS_LOW_MARGIN_W", "15", "DVFS: release below cap - this", "WATTS"},
      {"dvfs-step-pct", "DVFS_STEP_PCT", "10", "DVFS throttle step, 1..100", "PCT"},
      {"dvfs-min-freq-khz", "DVFS_MIN_FREQ_KHZ", "1500000", "DVFS frequency floor", "KHZ"},
      {"dvfs-cooldown", "DVFS_COOLDOWN", "20s", "DVFS: no action this long after one", "DURATION"},
      {"dvfs-trip-count", "DVFS_TRIP_COUNT", "2", "DVFS: consecutive samples before acting, >= 1",
       "N"},
      {"telemetry-ttl", "TELEMETRY_TTL", "60s", "power samples older than this are stale",
       "DURATION"},
      {"restore-timeout", "RESTORE_TIMEOUT", "25s",
       "on SIGTERM, retry a failed restore this long, then exit 1", "DURATION"},
      {"once", "", "false", "one pass for every owned node, then exit 0/1", ""},
      {"restore", "", "false", "restore the host settings recorded in the state dir, then exit",
       ""},
  };
}

Result<AgentConfig> read_agent(const FlagSet& flags, const EnvLookup& env) {
  Resolver r(flags, env);
  AgentConfig c;
  c.global = read_global(r, kAgentGlobals);
  c.mode = r.choice("mode", AgentMode::daemonset,
                    {{"daemonset", AgentMode::daemonset}, {"pool", AgentMode::pool}});
  c.node = r.text("node", "");
  c.interval = r.duration("interval", c.interval, positive_duration);
  c.sysfs_root = r.text("sysfs-root", c.sysfs_root);
  c.state_dir = r.text("state-dir", c.state_dir);
  c.simulate_only = r.boolean("simulate-only", c.simulate_only);
  c.pool_node_selector = r.text("pool-node-selector", c.pool_node_selector, label_selector);
  c.pool_shards = static_cast<int>(r.integer("pool-shards", 1, in_range(1, 1000000)));
  c.dvfs_ema_alpha = r.number("dvfs-ema-alpha", c.dvfs_ema_alpha, ema_alpha);
  c.dvfs_high_margin_w = r.number("dvfs-high-margin-w", c.dvfs_high_margin_w, non_negative_watts);
  c.dvfs_low_margin_w = r.number("dvfs-low-margin-w", c.dvfs_low_margin_w, non_negative_watts);
  c.dvfs_step_pct = static_cast<int>(r.integer("dvfs-step-pct", c.dvfs_step_pct, in_range(1, 100)));
  c.dvfs_min_freq_khz =
      r.integer("dvfs-min-freq-khz", c.dvfs_min_freq_khz, in_range(0, 1000000000));
  c.dvfs_cooldown = r.duration("dvfs-cooldown", c.dvfs_cooldown, non_negative_duration);
  c.dvfs_trip_count =
      static_cast<int>(r.integer("dvfs-trip-count", c.dvfs_trip_count, in_range(1, 1000000)));
  c.telemetry_ttl = r.duration("telemetry-ttl", c.telemetry_ttl, positive_duration);
  c.restore_timeout = r.duration("restore-timeout", c.restore_timeout, non_negative_duration);
  c.once = r.boolean("once", c.once);
  c.restore = r.boolean("restore", c.restore);

  if (c.once && c.restore) {
    if (auto s = r.setting("restore")) {
      r.fail(*s, "--restore cannot be combined with --once");
    }
  }
  if (c.mode == AgentMode::daemonset && c.node.empty()) {
    r.fail("--node (NODE_NAME) is required in daemonset mode");
  }
  std::optional<Setting> shard_setting = r.setting("pool-shard-id");
  int64_t shard = r.integer("pool-shard-id", 0, in_range(0, 1000000));
  // Sharding only matters in pool mode; a DaemonSet pod's random suffix can be all digits.
  if (c.mode == AgentMode::pool) {
    if (!shard_setting && env) {
      if (auto pod = env("POD_NAME")) {
        if (auto from_name = shard_from_pod_name(*pod)) {
          shard = *from_name;
          shard_setting = Setting{std::to_string(shard),
                                  fmt::format("--pool-shard-id (from POD_NAME \"{}\")", *pod)};
        }
      }
    }
    if (shard_setting && shard >= c.pool_shards) {
      r.fail(*shard_setting,
             fmt::format("must be in [0, {}) for {} shard(s)", c.pool_shards, c.pool_shards));
    }
    c.pool_shard_id = static_cast<int>(shard);
  }
  if (r.error()) {
    return *r.error();
  }
  return c;
}

}  // namespace detail
}  // namespace joulie::config
