#pragma once
// The agent's Prometheus series (docs/design.md#agent-reporting-and-metrics). Every per-node series
// carries a `node` label and is removed when the node is dropped (pool mode) or its
// NodePowerProfile goes away.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "joulie/agent/actuator.hpp"
#include "joulie/common/metrics.hpp"

namespace joulie::agent {

class AgentMetrics {
 public:
  explicit AgentMetrics(metrics::Registry& registry);

  // After a reconcile: backend mode, apply counter, errors, DVFS controller state.
  void record_apply(const std::string& node, const ControlOutcome& outcome,
                    const NodeActuator* actuator);
  // The desired cap from the NodePowerProfile (nullopt: no cap → series removed).
  void record_policy_cap(const std::string& node, const std::string& policy,
                         std::optional<double> cap_watts);
  // Host readings (energy counters and CPU frequencies), when the node has a host route.
  void record_host(const std::string& node, const NodeActuator& actuator);
  void record_error(const std::string& node);
  // Host settings the agent wants restored and could not put back yet (0: none).
  void record_restore_pending(const std::string& node, double settings);
  // The thermal family's reading (nullopt: missing → series removed).
  void record_temperature(const std::string& node, std::optional<double> celsius);
  // Drops every series of `node`.
  void remove_node(const std::string& node);

  metrics::Gauge& owned_nodes() { return *owned_nodes_; }
  metrics::Histogram& pass_seconds() { return *pass_seconds_; }
  metrics::Gauge& field_selector_fallback() { return *field_selector_fallback_; }
  metrics::Gauge& last_pass_seconds() { return *last_pass_seconds_; }

 private:
  metrics::Family<metrics::Gauge>& backend_mode_;
  metrics::Family<metrics::Gauge>& policy_cap_;
  metrics::Family<metrics::Gauge>& rapl_energy_;
  metrics::Family<metrics::Gauge>& rapl_zone_power_;
  metrics::Family<metrics::Gauge>& rapl_total_power_;
  metrics::Family<metrics::Gauge>& dvfs_observed_;
  metrics::Family<metrics::Gauge>& temperature_;
  metrics::Family<metrics::Gauge>& dvfs_ema_;
  metrics::Family<metrics::Gauge>& dvfs_throttle_;
  metrics::Family<metrics::Gauge>& dvfs_above_;
  metrics::Family<metrics::Gauge>& dvfs_below_;
  metrics::Family<metrics::Gauge>& dvfs_cur_freq_;
  metrics::Family<metrics::Gauge>& dvfs_max_freq_;
  metrics::Family<metrics::Counter>& dvfs_actions_;
  metrics::Family<metrics::Counter>& reconcile_errors_;
  metrics::Family<metrics::Counter>& apply_total_;
  metrics::Family<metrics::Gauge>& restore_pending_;
  metrics::Gauge* owned_nodes_;
  metrics::Histogram* pass_seconds_;
  metrics::Gauge* last_pass_seconds_;
  metrics::Gauge* field_selector_fallback_;

  // Per node: the controller's raise/lower totals already counted, and the policy label in use.
  struct Seen {
    std::uint64_t raises = 0;
    std::uint64_t lowers = 0;
    std::string policy;
    bool policy_set = false;
  };
  std::mutex mutex_;
  std::map<std::string, Seen> seen_;
};

}  // namespace joulie::agent
