#include "joulie/agent/agent_metrics.hpp"

#include "joulie/agent/cpufreq.hpp"
#include "joulie/agent/rapl.hpp"

namespace joulie::agent {

AgentMetrics::AgentMetrics(metrics::Registry& r)
    : backend_mode_(r.gauge("joulie_backend_mode",
                            "1 for the control backend in force on the node (none, rapl, dvfs).",
                            {"node", "mode"})),
      policy_cap_(r.gauge("joulie_policy_cap_watts",
                          "Package power cap requested by the node's NodePowerProfile.",
                          {"node", "policy"})),
      rapl_energy_(r.gauge("joulie_rapl_energy_uj",
                           "Last energy_uj reading of a RAPL package zone.", {"node", "zone"})),
      rapl_zone_power_(r.gauge("joulie_rapl_estimated_power_watts",
                               "Power of a RAPL package zone from energy counter deltas.",
                               {"node", "zone"})),
      rapl_total_power_(r.gauge("joulie_rapl_package_total_power_watts",
                                "Power summed over the node's RAPL package zones.", {"node"})),
      dvfs_observed_(r.gauge("joulie_dvfs_observed_power_watts",
                             "Last power sample fed to the DVFS controller.", {"node"})),
      temperature_(r.gauge("joulie_node_temperature_celsius",
                           "The node's temperature from the TelemetryProfile's thermal source.",
                           {"node"})),
      dvfs_ema_(
          r.gauge("joulie_dvfs_ema_power_watts", "EMA of power in the DVFS controller.", {"node"})),
      dvfs_throttle_(
          r.gauge("joulie_dvfs_throttle_pct", "DVFS throttle level in percent.", {"node"})),
      dvfs_above_(r.gauge("joulie_dvfs_above_trip_count",
                          "Consecutive samples above the DVFS upper threshold.", {"node"})),
      dvfs_below_(r.gauge("joulie_dvfs_below_trip_count",
                          "Consecutive samples below the DVFS lower threshold.", {"node"})),
      dvfs_cur_freq_(
          r.gauge("joulie_dvfs_cpu_cur_freq_khz", "scaling_cur_freq of a CPU.", {"node", "cpu"})),
      dvfs_max_freq_(r.gauge("joulie_dvfs_cpu_max_freq_khz",
                             "scaling_max_freq of a CPU (the frequency cap in force).",
                             {"node", "cpu"})),
      dvfs_actions_(r.counter("joulie_dvfs_actions_total",
                              "DVFS throttle changes written, by action (raise, lower).",
                              {"node", "action"})),
      reconcile_errors_(r.counter("joulie_reconcile_errors_total",
                                  "Reconciles that ended in an error.", {"node"})),
      apply_total_(r.counter("joulie_agent_apply_total", "Reconciles by backend and result.",
                             {"node", "backend", "result"})),
      restore_pending_(r.gauge("joulie_agent_restore_pending",
                               "Host settings the agent could not restore yet (> 0: the node may "
                               "be left capped).",
                               {"node"})),
      owned_nodes_(
          &r.gauge("joulie_agent_owned_nodes", "Nodes this agent process controls.").with({})),
      pass_seconds_(&r.histogram("joulie_agent_pass_duration_seconds",
                                 "Time of one reconcile pass over every owned node.")
                         .with({})),
      last_pass_seconds_(&r.gauge("joulie_agent_last_pass_duration_seconds",
                                  "Time of the last reconcile pass over every owned node.")
                              .with({})),
      field_selector_fallback_(
          &r.gauge("joulie_agent_field_selector_fallback",
                   "1 when the API server refused the spec.nodeName field selector and the agent "
                   "watches every NodePowerProfile instead (degraded).")
               .with({})) {}

void AgentMetrics::record_apply(const std::string& node, const ControlOutcome& outcome,
                                const NodeActuator* actuator) {
  for (Backend b : {Backend::none, Backend::rapl, Backend::dvfs}) {
    backend_mode_.with({node, backend_name(b)}).set(b == outcome.backend ? 1 : 0);
  }
  apply_total_.with({node, backend_name(outcome.backend), result_name(outcome.result)}).inc();
  if (outcome.result == ApplyResult::error) {
    reconcile_errors_.with({node}).inc();
  }
  if (actuator == nullptr) {
    return;
  }
  const DvfsController& dvfs = actuator->dvfs_controller();
  dvfs_throttle_.with({node}).set(dvfs.throttle_pct());
  dvfs_above_.with({node}).set(dvfs.above_count());
  dvfs_below_.with({node}).set(dvfs.below_count());
  if (dvfs.last_watts()) {
    dvfs_observed_.with({node}).set(*dvfs.last_watts());
  }
  if (dvfs.ema_watts()) {
    dvfs_ema_.with({node}).set(*dvfs.ema_watts());
  }
  std::lock_guard lock(mutex_);
  Seen& seen = seen_[node];
  if (dvfs.raises() < seen.raises || dvfs.lowers() < seen.lowers) {
    seen.raises = 0;  // a new controller for the node counts from zero again
    seen.lowers = 0;
  }
  if (dvfs.raises() > seen.raises) {
    dvfs_actions_.with({node, "raise"}).inc(static_cast<double>(dvfs.raises() - seen.raises));
  }
  if (dvfs.lowers() > seen.lowers) {
    dvfs_actions_.with({node, "lower"}).inc(static_cast<double>(dvfs.lowers() - seen.lowers));
  }
  seen.raises = dvfs.raises();
  seen.lowers = dvfs.lowers();
}

void AgentMetrics::record_policy_cap(const std::string& node, const std::string& policy,
                                     std::optional<double> cap_watts) {
  std::lock_guard lock(mutex_);
  Seen& seen = seen_[node];
  if (seen.policy_set && (seen.policy != policy || !cap_watts)) {
    policy_cap_.remove({node, seen.policy});
    seen.policy_set = false;
  }
  if (cap_watts) {
    policy_cap_.with({node, policy}).set(*cap_watts);
    seen.policy = policy;
    seen.policy_set = true;
  }
}

void AgentMetrics::record_host(const std::string& node, const NodeActuator& actuator) {
  if (RaplEnergyTelemetry* energy = actuator.host_energy()) {
    double total = 0;
    bool complete = !energy->zones().empty();
    for (const auto& zone : energy->zones()) {
      rapl_energy_.with({node, zone.name}).set(static_cast<double>(zone.energy_uj));
      if (zone.watts) {
        rapl_zone_power_.with({node, zone.name}).set(*zone.watts);
        total += *zone.watts;
      } else {
        complete = false;
      }
    }
    if (complete) {
      rapl_total_power_.with({node}).set(total);
    }
  }
  if (DvfsControl* dvfs = actuator.host_dvfs()) {
    for (const auto& cpu : dvfs->frequencies()) {
      if (cpu.cur_khz) {
        dvfs_cur_freq_.with({node, cpu.cpu}).set(static_cast<double>(*cpu.cur_khz));
      }
      if (cpu.max_khz) {
        dvfs_max_freq_.with({node, cpu.cpu}).set(static_cast<double>(*cpu.max_khz));
      }
    }
  }
}

void AgentMetrics::record_error(const std::string& node) { reconcile_errors_.with({node}).inc(); }

void AgentMetrics::record_temperature(const std::string& node, std::optional<double> celsius) {
  if (celsius) {
    temperature_.with({node}).set(*celsius);
  } else {
    temperature_.remove({node});
  }
}

void AgentMetrics::remove_node(const std::string& node) {
  for (auto* family :
       {&backend_mode_, &policy_cap_, &rapl_energy_, &rapl_zone_power_, &rapl_total_power_,
        &dvfs_observed_, &temperature_, &dvfs_ema_, &dvfs_throttle_, &dvfs_above_, &dvfs_below_,
        &dvfs_cur_freq_, &dvfs_max_freq_, &restore_pending_}) {
    family->remove_matching("node", node);
  }
  for (auto* family : {&dvfs_actions_, &reconcile_errors_, &apply_total_}) {
    family->remove_matching("node", node);
  }
  std::lock_guard lock(mutex_);
  seen_.erase(node);
}

void AgentMetrics::record_restore_pending(const std::string& node, double settings) {
  restore_pending_.with({node}).set(settings);
}

}  // namespace joulie::agent
