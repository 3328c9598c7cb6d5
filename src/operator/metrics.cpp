#include "joulie/operator/metrics.hpp"

namespace joulie::operator_mode {

OperatorMetrics::OperatorMetrics(metrics::Registry& registry)
    : node_state(registry.gauge("joulie_operator_node_state",
                                "1 for the node's current state, 0 for the other two",
                                {"node", "state"})),
      node_profile_label(registry.gauge("joulie_operator_node_profile_label",
                                        "1 for the node's current power-profile label value",
                                        {"node", "profile"})),
      transitions(registry.counter("joulie_operator_state_transitions_total",
                                   "State machine transitions by result",
                                   {"node", "from_state", "to_state", "result"})),
      reconcile_duration(registry.histogram("joulie_operator_reconcile_duration_seconds",
                                            "Duration of one reconcile pass")),
      reconcile_errors(registry.counter("joulie_operator_reconcile_errors_total",
                                        "Failed node writes during reconcile passes")),
      planned_nodes(registry.gauge("joulie_operator_planned_nodes",
                                   "Managed nodes the policy wants in each profile", {"profile"})),
      unschedulable_perf_pods(registry.gauge(
          "joulie_operator_unschedulable_perf_pods",
          "Pending performance-sensitive pods that fit no managed node even at performance")),
      unschedulable_events(registry.counter(
          "joulie_operator_unschedulable_events_total",
          "NoPerformanceNodeFits Events on pods that fit no managed node, by result: sent, held "
          "(rate limit: the pod is told on a later pass) or failed",
          {"result"})),
      is_leader(registry.gauge("joulie_operator_is_leader",
                               "1 while this process holds the leader lease (or runs without "
                               "leader election)")),
      config_reloads(registry.counter("joulie_operator_config_reloads_total",
                                      "Changed policy-file versions put in force")),
      config_reload_failures(registry.counter(
          "joulie_operator_config_reload_failures_total",
          "Changed policy-file versions refused (the last good one stays in force)")) {
  // Present from the start so that dashboards and promtool see every family.
  reconcile_errors.with({});
  is_leader.with({});
  planned_nodes.with({"performance"});
  planned_nodes.with({"eco"});
  unschedulable_perf_pods.with({});
  for (const char* result : {"sent", "held", "failed"}) {
    unschedulable_events.with({result});
  }
  config_reloads.with({});
  config_reload_failures.with({});
}

void OperatorMetrics::remove_node(const std::string& node) {
  node_state.remove_matching("node", node);
  node_profile_label.remove_matching("node", node);
  transitions.remove_matching("node", node);
}

}  // namespace joulie::operator_mode
