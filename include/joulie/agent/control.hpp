#pragma once
// The agent's two hardware-facing roles (docs/architecture.md#roles):
//   ControlProvider   applies a cap or a throttle on one node (host RAPL, host cpufreq, HTTP);
//   TelemetryProvider reads the node's CPU package power with a freshness flag (host energy
//                     counters, HTTP).

#include <chrono>
#include <optional>
#include <string>

#include "joulie/common/clock.hpp"
#include "joulie/common/result.hpp"

namespace joulie::agent {

enum class Backend { none, rapl, dvfs };
enum class ApplyResult { none, applied, blocked, error };

const char* backend_name(Backend backend);
const char* result_name(ApplyResult result);

// What one control call did; becomes NodePowerProfile status
// (docs/design.md#agent-reporting-and-metrics). Messages carry no per-sample numbers so that status
// is written only when something really changes.
struct ControlOutcome {
  Backend backend = Backend::none;
  ApplyResult result = ApplyResult::none;
  std::string message;
  std::optional<double> applied_cap_watts;
  // The failure meant "this backend does not exist / cannot be used here" (no RAPL zones, no
  // cpufreq, refused by firmware or simulator) rather than a transient error.
  bool unavailable = false;
  // No verdict came back: the HTTP control endpoint could not be reached, did not answer in time
  // or answered 5xx, 408 or 429. Says nothing about whether the backend exists; the actuator keeps
  // what is in force and tries again with backoff (set only by the HTTP route).
  bool transient = false;
  // The cap itself was refused (outside the hardware's or the API's range): nothing was written,
  // and no other backend may take the cap over.
  bool refused = false;
  // The package's maximum power (RAPL constraint_0_max_power_uw, the smallest over the
  // packages; or what the simulator reports), when known: the operator turns a hardware class's
  // cap fraction into watts with it.
  std::optional<double> package_max_watts = std::nullopt;

  bool ok() const { return result == ApplyResult::applied; }
  bool operator==(const ControlOutcome&) const = default;
};

class ControlProvider {
 public:
  virtual ~ControlProvider() = default;
  // Package power cap, W per CPU package.
  virtual ControlOutcome apply_cap(double watts) = 0;
  // Frequency throttle in [0,100] %. `cap_watts` is the cap the throttle serves (the HTTP
  // contract sends it along; host backends ignore it).
  virtual ControlOutcome apply_throttle(int pct, std::optional<double> cap_watts) = 0;
  // Gives the node back the settings it had before this provider first wrote anything.
  virtual ControlOutcome restore() = 0;
  // Whether the backend exists here at all (cheap probe; no writes).
  virtual Status available() { return Status::success(); }
  // The throttle level an earlier agent process left in force (read from the host), if any.
  virtual std::optional<int> throttle_in_force() const { return std::nullopt; }
};

struct TelemetrySample {
  std::optional<double> watts;  // package power summed over packages; empty = missing
  SystemTime timestamp{};       // when the power was measured (simulator `ts` when given)
  std::string missing_reason;   // why `watts` is empty; stable text, no numbers
  // CPU packages summed into `watts`: the cap is per package, so the DVFS band is cap × packages.
  int packages = 1;

  bool fresh(SystemTime now, std::chrono::nanoseconds ttl) const {
    return watts.has_value() && now - timestamp <= ttl;
  }
};

class TelemetryProvider {
 public:
  virtual ~TelemetryProvider() = default;
  virtual TelemetrySample sample() = 0;
};

}  // namespace joulie::agent
