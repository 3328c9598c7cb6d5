#pragma once
// The DVFS controller (docs/design.md#dvfs-backend-and-controller): a pure hysteresis loop that
// turns power samples into a throttle level. No I/O and no clock reads: time is a parameter.
//
// EMA of power (the first sample sets it); upper = cap + high margin, lower = cap − low margin.
// `trip_count` consecutive samples above upper → throttle += step (≤ 100); `trip_count` below
// lower → throttle −= step (≥ 0); a sample in the band resets both counters. No action within
// the cooldown after an action, none at the bound (no 0→0 or 100→100 writes). A stale (older
// than the TTL) or missing sample holds everything as it is.

#include <chrono>
#include <cstdint>
#include <optional>

#include "joulie/common/clock.hpp"

namespace joulie::agent {

struct DvfsSettings {
  double ema_alpha = 0.3;  // (0,1]
  double high_margin_w = 10;
  double low_margin_w = 15;
  int step_pct = 10;  // 1..100
  std::chrono::nanoseconds cooldown = std::chrono::seconds(20);
  int trip_count = 2;  // ≥ 1
  std::chrono::nanoseconds telemetry_ttl = std::chrono::seconds(60);
};

struct PowerSample {
  double watts = 0;
  SystemTime at{};
};

enum class DvfsStep {
  hold_missing,  // no sample
  hold_stale,    // sample older than the TTL
  in_band,       // counters reset
  counting,      // above/below, trip not reached yet
  cooling_down,  // trip reached but within the cooldown
  at_bound,      // trip reached but already at 0 % / 100 %
  raise,         // throttle up proposed
  lower,         // throttle down proposed
};

const char* dvfs_step_name(DvfsStep step);

struct DvfsDecision {
  DvfsStep step = DvfsStep::hold_missing;
  int throttle_pct = 0;  // the level to be in force (== current unless raise/lower)
  bool change() const { return step == DvfsStep::raise || step == DvfsStep::lower; }
};

class DvfsController {
 public:
  explicit DvfsController(DvfsSettings settings) : settings_(settings) {}

  // Feeds one sample. A proposed change (raise/lower) takes effect only when commit() confirms
  // that it was written; otherwise the next sample proposes it again.
  DvfsDecision observe(double cap_watts, std::optional<PowerSample> sample, SystemTime now);
  void commit(const DvfsDecision& decision, SystemTime now);

  // Back to p = 0 with fresh counters and EMA (after the throttle was restored).
  void reset();
  // Takes over a throttle already in force (an earlier agent's), as if just written at `now`.
  void resume(int throttle_pct, SystemTime now);

  int throttle_pct() const { return throttle_pct_; }
  std::optional<double> ema_watts() const { return ema_; }
  std::optional<double> last_watts() const { return last_watts_; }
  int above_count() const { return above_; }
  int below_count() const { return below_; }
  uint64_t raises() const { return raises_; }
  uint64_t lowers() const { return lowers_; }
  const DvfsSettings& settings() const { return settings_; }

 private:
  DvfsSettings settings_;
  int throttle_pct_ = 0;
  std::optional<double> ema_;
  std::optional<double> last_watts_;
  int above_ = 0;
  int below_ = 0;
  std::optional<SystemTime> last_action_;
  uint64_t raises_ = 0;
  uint64_t lowers_ = 0;
};

}  // namespace joulie::agent
