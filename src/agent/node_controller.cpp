#include "joulie/agent/node_controller.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "joulie/agent/route_choice.hpp"
#include "joulie/api/names.hpp"
#include "joulie/common/log.hpp"

namespace joulie::agent {

namespace {

std::string join_names(const std::vector<std::string>& names) {
  return fmt::format("{}", fmt::join(names, ", "));
}

// Time between two host energy samples: at most 30 s, and a divisor of the interval so that
// re-application stays on the interval.
std::chrono::nanoseconds sample_period(std::chrono::nanoseconds interval) {
  if (interval <= kMaxSamplePeriod) {
    return interval;
  }
  auto parts = (interval + kMaxSamplePeriod - std::chrono::nanoseconds(1)) / kMaxSamplePeriod;
  return interval / parts;
}

}  // namespace

NodeController::NodeController(std::string node, NodeControllerContext context)
    : node_(std::move(node)), context_(context), actuator_(node_, context.actuator) {}

void NodeController::report_foreign(const NodeInputs& inputs) {
  const std::string canonical = api::canonical_profile_name(node_);
  std::set<std::string> now;
  for (const api::NodePowerProfile& foreign : inputs.foreign) {
    now.insert(foreign.metadata.name);
    if (context_.status == nullptr) {
      continue;
    }
    Report report;
    report.result = api::ApplyResult::blocked;
    report.generation = foreign.metadata.generation;
    report.message =
        fmt::format("not applied: only the NodePowerProfile named {} controls node {}{}", canonical,
                    node_, inputs.profile ? "" : "; the node keeps its original settings");
    context_.status->report_node_power_profile(foreign.metadata.name, foreign.metadata.uid,
                                               foreign.status, report);
  }
  for (const std::string& gone : foreign_reported_) {
    if (!now.contains(gone) && context_.status != nullptr) {
      context_.status->forget_node_power_profile(gone);
    }
  }
  if (now != foreign_reported_ && !now.empty()) {
    log::warn("agent", "NodePowerProfiles for this node not applied: not named node-<node>",
              {{"node", node_},
               {"ignored", join_names({now.begin(), now.end()})},
               {"owner", canonical},
               {"owner_present", inputs.profile.has_value()}});
  }
  foreign_reported_ = std::move(now);
}

StepResult NodeController::step(const NodeInputs& inputs, bool force, SteadyTime now) {
  report_foreign(inputs);
  if (!inputs.profile) {
    StepResult result;
    if (!reported_profile_.empty()) {
      if (context_.status != nullptr) {
        context_.status->forget_node_power_profile(reported_profile_);
      }
      reported_profile_.clear();
      last_profile_.reset();
      if (context_.metrics != nullptr) {
        context_.metrics->remove_node(node_);
      }
      last_outcome_.reset();
      next_apply_.reset();
      next_sample_.reset();
    }
    if (holds_settings_) {
      result.outcome = release();
      result.kind = StepKind::released;
      if (!holds_settings_) {
        log::info("agent", "NodePowerProfile gone: original settings restored", {{"node", node_}});
      }
    }
    return result;
  }
  last_profile_ = inputs.profile;

  // Slack of a quarter interval: a pass that reaches this node a little before the interval is
  // up still applies, instead of waiting a whole extra tick.
  bool due = force || !next_apply_ || now + context_.interval / 4 >= *next_apply_;
  if (!due) {
    if (context_.simulate_only || !next_sample_ || now < *next_sample_) {
      return {};
    }
    next_sample_ = now + sample_period(context_.interval);
    if (RaplEnergyTelemetry* energy = actuator_.host_energy()) {
      (void)energy->sample();
      if (context_.metrics != nullptr) {
        context_.metrics->record_host(node_, actuator_);
      }
    }
    return {StepKind::sampled, std::nullopt};
  }

  ControlOutcome outcome = apply(inputs);
  next_apply_ = now + context_.interval;
  next_sample_ = now + sample_period(context_.interval);
  report(inputs, outcome);
  if (context_.metrics != nullptr) {
    const auto& spec = inputs.profile->spec;
    context_.metrics->record_policy_cap(node_, spec.policy_name.value_or(""),
                                        spec.package_power_cap_watts);
    context_.metrics->record_apply(node_, outcome, context_.simulate_only ? nullptr : &actuator_);
    if (!context_.simulate_only) {
      RaplEnergyTelemetry* energy = actuator_.host_energy();
      if (energy != nullptr && !actuator_.dvfs_active()) {
        (void)energy->sample();  // the DVFS path sampled already when it ran
      }
      context_.metrics->record_host(node_, actuator_);
    }
  }
  if (!context_.simulate_only) {
    sample_thermal();
  }
  log_outcome(outcome);
  return {StepKind::applied, outcome};
}

ControlOutcome NodeController::apply(const NodeInputs& inputs) {
  const api::NodePowerProfile& profile = *inputs.profile;
  if (!inputs.profile_invalid.empty()) {
    // Hold whatever is applied: an unusable object is not a request to uncap.
    return {Backend::none, ApplyResult::error,
            "invalid NodePowerProfile: " + inputs.profile_invalid, std::nullopt};
  }
  std::optional<double> cap = profile.spec.package_power_cap_watts;
  RouteConfig route = route_from_profile(inputs.telemetry ? &*inputs.telemetry : nullptr);
  if (context_.simulate_only) {
    std::string would =
        fmt::format("cap={} {}", cap ? fmt::format("{:g}W", *cap) : "none", describe_route(route));
    if (would != last_simulated_) {
      log::info("agent", "simulate-only: would apply",
                {{"node", node_}, {"profile", profile.metadata.name}, {"plan", would}});
      last_simulated_ = would;
    }
    return {Backend::none, ApplyResult::applied, "simulate-only", std::nullopt};
  }
  if (route != actuator_.route()) {
    log::info("agent", "control route", {{"node", node_}, {"route", describe_route(route)}});
  }
  actuator_.set_route(route);
  holds_settings_ = true;
  return actuator_.reconcile(cap);
}

void NodeController::report(const NodeInputs& inputs, const ControlOutcome& outcome) {
  const api::NodePowerProfile& profile = *inputs.profile;
  if (!reported_profile_.empty() && reported_profile_ != profile.metadata.name &&
      context_.status != nullptr) {
    context_.status->forget_node_power_profile(reported_profile_);
  }
  reported_profile_ = profile.metadata.name;
  if (context_.status == nullptr) {
    return;
  }
  Report report = report_from_outcome(outcome, profile.metadata.generation);
  if (!inputs.conflicting.empty()) {
    report.message += fmt::format("; conflicting NodePowerProfiles for this node: {} (using {})",
                                  join_names(inputs.conflicting), profile.metadata.name);
  }
  if (!inputs.duplicate_telemetry.empty() && inputs.telemetry) {
    report.message +=
        fmt::format("; duplicate TelemetryProfiles for this node: {} (using {})",
                    join_names(inputs.duplicate_telemetry), inputs.telemetry->metadata.name);
  }
  context_.status->report_node_power_profile(profile.metadata.name, profile.metadata.uid,
                                             profile.status, report);
  if (inputs.telemetry && inputs.telemetry->spec.scope == api::TargetScope::node &&
      inputs.telemetry->spec.node_name == node_) {
    const api::TelemetryProfile& tp = *inputs.telemetry;
    std::string observed = fmt::format("nodepowerprofile/{} generation {}", profile.metadata.name,
                                       profile.metadata.generation);
    context_.status->report_telemetry_profile(
        tp.metadata.name, tp.metadata.uid, tp.status.cpu,
        control_status_for(report, std::move(observed), context_.actuator.clock->now()));
  }
}

void NodeController::sample_thermal() {
  PrometheusThermal* thermal = actuator_.thermal();
  if (thermal == nullptr) {
    return;
  }
  PromReading reading = thermal->sample();
  if (context_.metrics != nullptr) {
    context_.metrics->record_temperature(node_, reading.value);
  }
  // One line when the reading starts or stops failing, not one per interval.
  if (reading.missing_reason != last_thermal_problem_) {
    if (!reading.missing_reason.empty()) {
      log::warn("agent", "thermal input missing",
                {{"node", node_}, {"reason", reading.missing_reason}});
    } else {
      log::info("agent", "thermal input available", {{"node", node_}});
    }
    last_thermal_problem_ = reading.missing_reason;
  }
}

void NodeController::log_outcome(const ControlOutcome& outcome) {
  bool changed = !last_outcome_ || last_outcome_->backend != outcome.backend ||
                 last_outcome_->result != outcome.result ||
                 last_outcome_->message != outcome.message;
  last_outcome_ = outcome;
  if (!changed) {
    return;
  }
  std::initializer_list<log::Field> fields = {{"node", node_},
                                              {"backend", backend_name(outcome.backend)},
                                              {"result", result_name(outcome.result)},
                                              {"message", outcome.message}};
  if (outcome.result == ApplyResult::blocked || outcome.result == ApplyResult::error) {
    log::warn("agent", "control not applied", fields);
  } else {
    log::info("agent", "control applied", fields);
  }
}

std::optional<ControlOutcome> NodeController::release() {
  if (!holds_settings_) {
    return std::nullopt;
  }
  ControlOutcome outcome = actuator_.release();
  std::vector<std::string> pending = actuator_.recorded_settings();
  const bool failed = outcome.result == ApplyResult::error;
  if (failed) {
    log::warn("agent", "restoring the node failed; will retry",
              {{"node", node_}, {"error", outcome.message}, {"not_restored", join_names(pending)}});
  } else {
    holds_settings_ = false;
  }
  if (context_.metrics != nullptr) {
    // At least 1 on a failure that names no file (unusable record, unreachable route).
    std::size_t count = failed ? std::max<std::size_t>(1, pending.size()) : 0;
    context_.metrics->record_restore_pending(node_, static_cast<double>(count));
  }
  if (failed && last_profile_ && context_.status != nullptr) {
    Report report;
    report.backend = api::Backend::none;
    report.result = api::ApplyResult::error;
    report.generation = last_profile_->metadata.generation;
    report.message = fmt::format(
        "original settings NOT restored ({}): {}; the node may be left capped (retrying)",
        pending.empty() ? std::string("settings unknown") : join_names(pending), outcome.message);
    context_.status->report_node_power_profile(
        last_profile_->metadata.name, last_profile_->metadata.uid, last_profile_->status, report);
  }
  return outcome;
}

}  // namespace joulie::agent
