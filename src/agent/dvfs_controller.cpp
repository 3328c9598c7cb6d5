#include "joulie/agent/dvfs_controller.hpp"

#include <algorithm>
#include <cmath>

namespace joulie::agent {

const char* dvfs_step_name(DvfsStep step) {
  switch (step) {
    case DvfsStep::hold_missing:
      return "hold_missing";
    case DvfsStep::hold_stale:
      return "hold_stale";
    case DvfsStep::in_band:
      return "in_band";
    case DvfsStep::counting:
      return "counting";
    case DvfsStep::cooling_down:
      return "cooling_down";
    case DvfsStep::at_bound:
      return "at_bound";
    case DvfsStep::raise:
      return "raise";
    case DvfsStep::lower:
      return "lower";
  }
  return "hold_missing";
}

DvfsDecision DvfsController::observe(double cap_watts, std::optional<PowerSample> sample,
                                     SystemTime now) {
  DvfsDecision decision;
  decision.throttle_pct = throttle_pct_;
  if (!sample || !std::isfinite(sample->watts)) {
    decision.step = DvfsStep::hold_missing;
    return decision;
  }
  if (now - sample->at > settings_.telemetry_ttl) {
    decision.step = DvfsStep::hold_stale;
    return decision;
  }
  last_watts_ = sample->watts;
  ema_ = ema_ ? settings_.ema_alpha * sample->watts + (1.0 - settings_.ema_alpha) * *ema_
              : sample->watts;

  double upper = cap_watts + settings_.high_margin_w;
  double lower = cap_watts - settings_.low_margin_w;
  if (*ema_ > upper) {
    ++above_;
    below_ = 0;
  } else if (*ema_ < lower) {
    ++below_;
    above_ = 0;
  } else {
    above_ = 0;
    below_ = 0;
    decision.step = DvfsStep::in_band;
    return decision;
  }

  bool raising = above_ > 0;
  int count = raising ? above_ : below_;
  if (count < settings_.trip_count) {
    decision.step = DvfsStep::counting;
    return decision;
  }
  if ((raising && throttle_pct_ >= 100) || (!raising && throttle_pct_ <= 0)) {
    decision.step = DvfsStep::at_bound;
    return decision;
  }
  if (last_action_ && now - *last_action_ < settings_.cooldown) {
    decision.step = DvfsStep::cooling_down;
    return decision;
  }
  int step = std::clamp(settings_.step_pct, 1, 100);
  decision.step = raising ? DvfsStep::raise : DvfsStep::lower;
  decision.throttle_pct = std::clamp(throttle_pct_ + (raising ? step : -step), 0, 100);
  return decision;
}

void DvfsController::commit(const DvfsDecision& decision, SystemTime now) {
  if (!decision.change()) {
    return;
  }
  throttle_pct_ = decision.throttle_pct;
  last_action_ = now;
  above_ = 0;
  below_ = 0;
  if (decision.step == DvfsStep::raise) {
    ++raises_;
  } else {
    ++lowers_;
  }
}

void DvfsController::resume(int throttle_pct, SystemTime now) {
  throttle_pct_ = std::clamp(throttle_pct, 0, 100);
  last_action_ = now;
  above_ = 0;
  below_ = 0;
}

void DvfsController::reset() {
  throttle_pct_ = 0;
  ema_.reset();
  last_watts_.reset();
  above_ = 0;
  below_ = 0;
  last_action_.reset();
}

}  // namespace joulie::agent
