#include "joulie/agent/actuator.hpp"

#include <fmt/format.h>
#include <algorithm>

#include "joulie/api/resolution.hpp"
#include "joulie/common/duration.hpp"
#include "joulie/common/log.hpp"

namespace joulie::agent {

namespace {

std::string watts_text(double watts) { return fmt::format("{:g} W", watts); }

}  // namespace

RouteProviders make_route_providers(const std::string& node, const RouteConfig& route,
                                    const ActuatorContext& context) {
  RouteProviders providers;
  const Clock& clock = *context.clock;
  bool need_host_files = route.control == ControlRoute::host;
  if (need_host_files && !context.host_allowed) {
    providers.setup_error = "host control is not available in pool mode (no HTTP control route)";
  } else if (need_host_files) {
    auto record = std::make_shared<FailSafeRecord>(context.sysfs_root, context.state_dir, node);
    Status loaded = record->load();
    if (!loaded.ok() && loaded.code() == Errc::parse) {
      // Originals unknown: the hardware's maximum stands in for them, so that a restore lifts
      // the dead agent's cap instead of keeping it (docs/operations.md, "Restoring a node").
      auto adopted = adopt_hardware_maximum(*record);
      log::error(
          "agent",
          "fail-safe record unusable: originals unknown; the hardware maximum will be "
          "restored instead",
          {{"node", node},
           {"record", record->file().string()},
           {"error", loaded.error()},
           {"without_maximum", adopted.ok() ? fmt::format("{}", fmt::join(adopted->unknown, ","))
                                            : adopted.error().message}});
      loaded = adopted.ok() ? Status::success() : Status(adopted.error());
    }
    if (!loaded.ok()) {
      // Never write over settings we could not put back; and never claim they are back.
      providers.setup_error = "fail-safe record unusable: " + loaded.error().message;
      providers.restore_impossible = true;
    } else {
      providers.host_files = std::make_shared<HostFiles>(context.sysfs_root, std::move(record));
      auto rapl = std::make_unique<RaplControl>(*providers.host_files);
      auto dvfs = std::make_unique<DvfsControl>(*providers.host_files, context.dvfs_min_freq_khz);
      providers.rapl = rapl.get();
      providers.dvfs = dvfs.get();
      providers.host_dvfs = dvfs.get();
      providers.owned.push_back(std::move(rapl));
      providers.owned.push_back(std::move(dvfs));
    }
  } else if (route.control == ControlRoute::http) {
    std::string url = api::expand_endpoint(route.control_endpoint, node);
    if (auto parsed = parse_http_url(url); !parsed.ok()) {
      providers.setup_error = "control endpoint unusable: " + parsed.error().message;
    } else if (context.pool == nullptr) {
      providers.setup_error = "no HTTP client pool configured";
    } else {
      auto http =
          std::make_unique<HttpControl>(*context.pool, node, url, route.control_timeout, clock);
      providers.rapl = http.get();
      providers.dvfs = http.get();
      providers.owned.push_back(std::move(http));
    }
  }

  switch (route.source) {
    case SourceType::none:
      providers.no_telemetry_reason = "the TelemetryProfile sets no CPU power source";
      break;
    case SourceType::prometheus:
      if (auto parsed = parse_http_url(route.telemetry_endpoint); !parsed.ok()) {
        providers.no_telemetry_reason = "prometheus endpoint unusable: " + parsed.error().message;
      } else if (route.telemetry_query.empty()) {
        providers.no_telemetry_reason = "the prometheus source has no query";
      } else if (context.pool == nullptr) {
        providers.no_telemetry_reason = "no HTTP client pool configured";
      } else {
        providers.telemetry = std::make_unique<PrometheusTelemetry>(
            *context.pool, route.telemetry_endpoint, route.telemetry_query, node,
            route.telemetry_timeout, clock,
            PromAuth{route.telemetry_ca_file, route.telemetry_token_file});
      }
      break;
    case SourceType::host:
      if (!context.host_allowed) {
        providers.no_telemetry_reason = "host power source is not available in pool mode";
      } else {
        auto energy = std::make_unique<RaplEnergyTelemetry>(context.sysfs_root, clock);
        providers.host_energy = energy.get();
        providers.telemetry = std::move(energy);
      }
      break;
    case SourceType::http: {
      std::string url = api::expand_endpoint(route.telemetry_endpoint, node);
      if (auto parsed = parse_http_url(url); !parsed.ok()) {
        providers.no_telemetry_reason = "telemetry endpoint unusable: " + parsed.error().message;
      } else if (context.pool == nullptr) {
        providers.no_telemetry_reason = "no HTTP client pool configured";
      } else {
        providers.telemetry =
            std::make_unique<HttpTelemetry>(*context.pool, url, route.telemetry_timeout, clock);
      }
      break;
    }
  }
  if (route.thermal == SourceType::prometheus && context.pool != nullptr &&
      !route.thermal_query.empty() && parse_http_url(route.thermal_endpoint).ok()) {
    providers.thermal = std::make_unique<PrometheusThermal>(
        *context.pool, route.thermal_endpoint, route.thermal_query, node, kDefaultHttpTimeout,
        clock, PromAuth{route.thermal_ca_file, route.thermal_token_file});
  }
  return providers;
}

namespace {

// The transient-failure backoff: no jitter (a fixed source, so no random_device per node), in
// whole milliseconds as kube::Backoff counts them.
kube::Backoff transient_backoff(const ActuatorContext& context) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  kube::Backoff::Options o;
  o.initial = duration_cast<milliseconds>(context.rapl_transient_retry);
  o.max = duration_cast<milliseconds>(context.rapl_retry);
  o.factor = 2.0;
  o.jitter = 0.0;
  return kube::Backoff(o, [] { return 0.0; });
}

}  // namespace

NodeActuator::NodeActuator(std::string node, ActuatorContext context)
    : node_(std::move(node)),
      context_(context),
      controller_(context.dvfs),
      rapl_transient_backoff_(transient_backoff(context_)) {}

void NodeActuator::set_route(const RouteConfig& route) {
  if (has_route_ && route == route_) {
    return;
  }
  set_route(route, make_route_providers(node_, route, context_));
}

void NodeActuator::set_route(const RouteConfig& route, RouteProviders providers) {
  if (has_route_) {
    ControlOutcome released = release();
    if (released.result == ApplyResult::error) {
      log::warn("agent", "could not undo the previous route's settings",
                {{"node", node_}, {"error", released.message}});
    }
  }
  route_ = route;
  providers_ = std::move(providers);
  has_route_ = true;
  clear_rapl_failure();
  dvfs_active_ = false;
  last_sample_.reset();
  controller_.reset();
  throttle_written_ = false;
  resume_checked_ = false;
}

void NodeActuator::restore_throttle() {
  if (!throttle_written_ || providers_.dvfs == nullptr) {
    controller_.reset();
    dvfs_active_ = false;
    return;
  }
  ControlOutcome reset = providers_.dvfs->apply_throttle(0, std::nullopt);
  if (reset.ok()) {
    throttle_written_ = false;
    controller_.reset();
    dvfs_active_ = false;
    log::info("agent", "DVFS throttle restored to 0 after RAPL became available",
              {{"node", node_}});
  } else {
    // Tried again on the next pass; the RAPL cap is in force meanwhile.
    log::warn("agent", "restoring the DVFS throttle failed",
              {{"node", node_}, {"error", reset.message}});
  }
}

ControlOutcome NodeActuator::reconcile(std::optional<double> cap_watts) {
  if (!has_route_) {
    set_route(RouteConfig{});
  }
  if (route_.control == ControlRoute::none) {
    return {Backend::none, ApplyResult::none,
            "CPU control is disabled by the TelemetryProfile (controls.cpu none)", std::nullopt};
  }
  if (!providers_.setup_error.empty()) {
    bool pool_mode = route_.control == ControlRoute::host && !context_.host_allowed;
    return {Backend::none, pool_mode ? ApplyResult::blocked : ApplyResult::error,
            providers_.setup_error, std::nullopt};
  }
  if (!cap_watts) {
    ControlOutcome released = release();
    if (released.result == ApplyResult::error) {
      return released;
    }
    return {Backend::none, ApplyResult::none, "no CPU cap requested", std::nullopt};
  }
  double cap = *cap_watts;
  if (!(cap >= api::kMinPackageCapWatts && cap <= api::kMaxPackageCapWatts)) {
    // The decoder refuses such objects already; this keeps any other caller from writing one.
    ControlOutcome refused{
        Backend::none, ApplyResult::blocked,
        fmt::format("cap {} refused: outside {:g}–{:g} W per package; nothing "
                    "written",
                    watts_text(cap), api::kMinPackageCapWatts, api::kMaxPackageCapWatts),
        std::nullopt};
    refused.refused = true;
    return refused;
  }
  SystemTime now = context_.clock->now();

  if (route_.mode != ControlMode::dvfs && providers_.rapl != nullptr) {
    bool retry = !rapl_failure_ || rapl_failure_cap_ != cap || now >= rapl_retry_at_;
    if (retry) {
      ControlOutcome rapl = providers_.rapl->apply_cap(cap);
      if (rapl.refused) {
        // Not a failure of RAPL: the cap is wrong, so DVFS must not enforce it either. What is
        // in force stays.
        return rapl;
      }
      if (rapl.ok()) {
        if (rapl_failure_) {
          log::info("agent", "RAPL available again", {{"node", node_}});
        }
        clear_rapl_failure();
        if (dvfs_active_ || throttle_written_) {
          restore_throttle();
        }
        return rapl;
      }
      note_rapl_failure(std::move(rapl), cap, now);
    }
    if (route_.mode == ControlMode::rapl) {
      return *rapl_failure_;
    }
    // No verdict yet: whatever was applied stays in force until the failures repeat (or DVFS
    // already holds the cap after an earlier fallback).
    if (rapl_failure_->transient && !rapl_fallback_ &&
        rapl_transient_failures_ < context_.rapl_transient_limit) {
      return *rapl_failure_;
    }
    if (!rapl_fallback_) {
      rapl_fallback_ = true;
      log::info("agent", "RAPL not usable, DVFS takes over the cap",
                {{"node", node_}, {"reason", rapl_failure_->message}});
    }
  }
  return run_dvfs(cap, now);
}

void NodeActuator::resume_throttle(SystemTime now) {
  if (resume_checked_ || throttle_written_ || controller_.throttle_pct() != 0) {
    resume_checked_ = true;
    return;
  }
  resume_checked_ = true;
  // A throttle an earlier (crashed) agent left in force is where control resumes: starting
  // from 0 % would loosen it and let power run over the cap for several cycles.
  std::optional<int> in_force = providers_.dvfs->throttle_in_force();
  if (!in_force || *in_force <= 0) {
    return;
  }
  controller_.resume(*in_force, now);
  throttle_written_ = true;
  log::info("agent", "DVFS throttle left by an earlier agent resumed",
            {{"node", node_}, {"throttle_pct", *in_force}});
}

void NodeActuator::clear_rapl_failure() {
  rapl_failure_.reset();
  rapl_failure_cap_.reset();
  rapl_transient_failures_ = 0;
  rapl_transient_backoff_.reset();
  rapl_fallback_ = false;
}

void NodeActuator::note_rapl_failure(ControlOutcome rapl, double cap, SystemTime now) {
  std::chrono::nanoseconds wait = context_.rapl_retry;
  if (rapl.transient) {
    ++rapl_transient_failures_;
    wait = rapl_transient_backoff_.next();
    // Stable text (no attempt count or delay) so that status is not rewritten on every retry.
    rapl.message = "RAPL control endpoint unreachable, will be retried: " + rapl.message;
    log::warn("agent", "RAPL cap not applied: no answer from the control endpoint",
              {{"node", node_},
               {"reason", rapl.message},
               {"consecutive", rapl_transient_failures_},
               {"retry_in", format_duration(wait)}});
  } else {
    rapl_transient_failures_ = 0;
    rapl_transient_backoff_.reset();
    if (!rapl_failure_ || rapl_failure_->message != rapl.message) {
      log::warn("agent", "RAPL cap not applied",
                {{"node", node_}, {"result", result_name(rapl.result)}, {"reason", rapl.message}});
    }
  }
  rapl_failure_ = std::move(rapl);
  rapl_failure_cap_ = cap;
  rapl_retry_at_ = now + std::chrono::duration_cast<SystemTime::duration>(wait);
}

ControlOutcome NodeActuator::run_dvfs(double cap, SystemTime now) {
  std::string why_not_rapl;
  if (route_.mode == ControlMode::automatic && rapl_failure_) {
    why_not_rapl = rapl_failure_->message;
    if (!rapl_failure_->transient && why_not_rapl.rfind("RAPL unavailable", 0) != 0) {
      why_not_rapl = "RAPL unavailable: " + why_not_rapl;
    }
  }
  auto with_rapl_reason = [&](std::string message) {
    return why_not_rapl.empty() ? message : why_not_rapl + "; " + message;
  };
  if (providers_.dvfs == nullptr) {
    return {Backend::none, ApplyResult::blocked, with_rapl_reason("no DVFS route"), std::nullopt};
  }
  if (Status usable = providers_.dvfs->available(); !usable.ok()) {
    return {Backend::none, ApplyResult::blocked,
            with_rapl_reason("DVFS unavailable: " + usable.error().message), std::nullopt};
  }
  if (!providers_.telemetry) {
    return {Backend::dvfs, ApplyResult::blocked,
            with_rapl_reason("DVFS has no power input: " + providers_.no_telemetry_reason),
            std::nullopt};
  }
  dvfs_active_ = true;
  resume_throttle(now);
  TelemetrySample sample = providers_.telemetry->sample();
  last_sample_ = sample;
  std::optional<PowerSample> power;
  if (sample.watts) {
    power = PowerSample{*sample.watts, sample.timestamp};
  }
  // The cap is per package and the sample sums the packages.
  double node_cap = cap * std::max(1, sample.packages);
  DvfsDecision decision = controller_.observe(node_cap, power, now);
  if (decision.change()) {
    ControlOutcome written = providers_.dvfs->apply_throttle(decision.throttle_pct, cap);
    if (!written.ok()) {
      written.backend = Backend::dvfs;
      written.message = with_rapl_reason(written.message);
      return written;
    }
    controller_.commit(decision, now);
    throttle_written_ = true;
    log::info("agent", "DVFS throttle changed",
              {{"node", node_},
               {"throttle_pct", controller_.throttle_pct()},
               {"step", dvfs_step_name(decision.step)}});
  }
  std::string message = fmt::format("DVFS throttle {}% holding the {} cap",
                                    controller_.throttle_pct(), watts_text(cap));
  if (decision.step == DvfsStep::hold_missing) {
    message += "; power input missing: " + sample.missing_reason;
  } else if (decision.step == DvfsStep::hold_stale) {
    message += "; power input stale";
  }
  return {Backend::dvfs, ApplyResult::applied, with_rapl_reason(message), cap};
}

std::vector<std::string> NodeActuator::recorded_settings() const {
  std::vector<std::string> out;
  if (providers_.host_files && providers_.host_files->record() != nullptr) {
    for (const auto& [rel, original] : providers_.host_files->record()->entries()) {
      out.push_back(rel);
    }
  }
  return out;
}

bool NodeActuator::originals_unknown() const {
  return providers_.host_files && providers_.host_files->record() != nullptr &&
         providers_.host_files->record()->originals_unknown();
}

ControlOutcome NodeActuator::release() {
  if (providers_.restore_impossible) {
    // The record could not be read or set aside: whatever an earlier agent left is unknown.
    return {Backend::none, ApplyResult::error,
            "cannot restore: " + providers_.setup_error + " (the node may be left capped)",
            std::nullopt};
  }
  std::vector<ControlProvider*> targets;
  for (ControlProvider* provider : {providers_.rapl, providers_.dvfs}) {
    if (provider != nullptr && (targets.empty() || targets.front() != provider)) {
      targets.push_back(provider);
    }
  }
  ControlOutcome result{Backend::none, ApplyResult::none, "original settings restored",
                        std::nullopt};
  for (ControlProvider* provider : targets) {
    ControlOutcome restored = provider->restore();
    if (restored.result == ApplyResult::error && result.result != ApplyResult::error) {
      result = restored;
    }
  }
  if (result.result != ApplyResult::error) {
    controller_.reset();
    dvfs_active_ = false;
    throttle_written_ = false;
  }
  clear_rapl_failure();
  return result;
}

}  // namespace joulie::agent
