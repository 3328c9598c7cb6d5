#pragma once
// The operator's metric families (docs/design.md#operator-observability), registered once on a
// Registry.

#include <string>

#include "joulie/common/metrics.hpp"

namespace joulie::operator_mode {

struct OperatorMetrics {
  explicit OperatorMetrics(metrics::Registry& registry);

  metrics::Family<metrics::Gauge>& node_state;          // {node,state}
  metrics::Family<metrics::Gauge>& node_profile_label;  // {node,profile}
  metrics::Family<metrics::Counter>& transitions;       // {node,from_state,to_state,result}
  metrics::Family<metrics::Histogram>& reconcile_duration;
  metrics::Family<metrics::Counter>& reconcile_errors;
  metrics::Family<metrics::Gauge>& planned_nodes;  // {profile}
  // Pending performance pods that fit no managed node even at performance (fit-aware demand).
  metrics::Family<metrics::Gauge>& unschedulable_perf_pods;
  // Their NoPerformanceNodeFits Events {result}: sent (handed to the Event recorder), held (owed
  // but held back by the per-pass cap or the memory bound, told on a later pass), failed (the
  // recorder refused it).
  metrics::Family<metrics::Counter>& unschedulable_events;
  metrics::Family<metrics::Gauge>& is_leader;
  metrics::Family<metrics::Counter>& config_reloads;          // policy file
  metrics::Family<metrics::Counter>& config_reload_failures;  // policy file refused

  // Drops every per-node series of a node that left management.
  void remove_node(const std::string& node);
};

}  // namespace joulie::operator_mode
