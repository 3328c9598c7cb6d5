#pragma once
// `joulie agent` configuration (docs/design.md#agent-configuration).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "joulie/api/names.hpp"
#include "joulie/common/duration.hpp"
#include "joulie/config/global.hpp"

namespace joulie::config {

enum class AgentMode { daemonset, pool };

std::string_view agent_mode_name(AgentMode mode);

struct AgentConfig {
  GlobalConfig global;
  AgentMode mode = AgentMode::daemonset;
  std::string node;  // required in daemonset mode
  Duration interval = std::chrono::seconds(20);
  std::string sysfs_root = "/host-sys";
  std::string state_dir = "/var/lib/joulie";
  bool simulate_only = false;
  std::string pool_node_selector = std::string(api::kDefaultNodeSelector);
  int pool_shards = 1;
  int pool_shard_id = 0;
  double dvfs_ema_alpha = 0.3;
  double dvfs_high_margin_w = 10;
  double dvfs_low_margin_w = 15;
  int dvfs_step_pct = 10;
  int64_t dvfs_min_freq_khz = 1500000;
  Duration dvfs_cooldown = std::chrono::seconds(20);
  int dvfs_trip_count = 2;
  Duration telemetry_ttl = std::chrono::seconds(60);
  Duration restore_timeout = std::chrono::seconds(25);
  bool once = false;
  bool restore = false;
};

// The pool shard a StatefulSet pod owns by default: "joulie-agent-pool-3" → 3; names without
// a numeric "-<n>" suffix → nullopt (the caller uses 0).
std::optional<int> shard_from_pod_name(std::string_view pod_name);

}  // namespace joulie::config
