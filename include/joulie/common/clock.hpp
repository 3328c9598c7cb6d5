#pragma once
// Time is injected: policy and state-machine code take time as a parameter, and components with
// timers take a Clock so tests can drive them without sleeping.

#include <chrono>

namespace joulie {

using SystemTime = std::chrono::system_clock::time_point;
using SteadyTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SystemTime now() const = 0;        // wall clock (timestamps, draining-since)
  virtual SteadyTime monotonic() const = 0;  // intervals, timeouts, EMA ages
};

class RealClock final : public Clock {
 public:
  SystemTime now() const override { return std::chrono::system_clock::now(); }
  SteadyTime monotonic() const override { return std::chrono::steady_clock::now(); }
  static const RealClock& instance() {
    static const RealClock clock;
    return clock;
  }
};

// A clock tests set by hand.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(SystemTime start = SystemTime{} + std::chrono::hours(24 * 365 * 56))
      : wall_(start) {}
  SystemTime now() const override { return wall_; }
  SteadyTime monotonic() const override { return mono_; }
  void advance(std::chrono::nanoseconds d) {
    wall_ += std::chrono::duration_cast<SystemTime::duration>(d);
    mono_ += std::chrono::duration_cast<SteadyTime::duration>(d);
  }

 private:
  SystemTime wall_;
  SteadyTime mono_{};
};

}  // namespace joulie
