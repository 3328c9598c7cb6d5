#pragma once
// One node's actuator: turns "this node should be capped at W per package" into writes through
// the node's route (docs/design.md#choosing-the-route).
//
//   RAPL first (host powercap or the simulator's rapl action). When RAPL is unavailable (no
//   zones, write refused, firmware lock, simulator blocked/error) and the mode allows it, the
//   DVFS controller takes over, fed by the route's power source. RAPL is probed again when the
//   cap changes and otherwise after `rapl_retry` (no retry-spin); once it applies again, the DVFS
//   throttle is put back to 0 through the route that applied it.
//
//   A RAPL apply that got no verdict (ControlOutcome::transient: the HTTP control endpoint
//   unreachable, timed out, 5xx, 408 or 429) is not a refusal: what is in force stays, the error is
//   reported, and RAPL is retried after `rapl_transient_retry`, doubling per consecutive such
//   failure up to `rapl_retry`. Only after `rapl_transient_limit` of them in a row does `auto`
//   fall back to DVFS (still retrying RAPL on the same backoff). Any success resets all this.
//
// Not thread-safe: one caller (the node's reconcile loop) at a time.

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "joulie/agent/control.hpp"
#include "joulie/agent/cpufreq.hpp"
#include "joulie/agent/dvfs_controller.hpp"
#include "joulie/agent/host_files.hpp"
#include "joulie/agent/http_route.hpp"
#include "joulie/agent/prometheus_source.hpp"
#include "joulie/agent/rapl.hpp"
#include "joulie/common/clock.hpp"
#include "joulie/kube/backoff.hpp"

namespace joulie::agent {

enum class ControlRoute { none, host, http };
enum class ControlMode { automatic, rapl, dvfs };  // TelemetryProfile mode auto|rapl|dvfs
enum class SourceType { none, host, http, prometheus };

// What a resolved TelemetryProfile (or the host defaults) says about one node's CPU.
struct RouteConfig {
  ControlRoute control = ControlRoute::host;
  ControlMode mode = ControlMode::automatic;
  std::string control_endpoint;  // may contain {node}
  std::chrono::nanoseconds control_timeout = kDefaultHttpTimeout;
  SourceType source = SourceType::host;
  std::string telemetry_endpoint;  // may contain {node}; the Prometheus base URL for prometheus
  std::chrono::nanoseconds telemetry_timeout = kDefaultHttpTimeout;
  std::string telemetry_query;       // prometheus: PromQL, may contain {node}
  std::string telemetry_ca_file;     // prometheus over https: CA bundle ("" = system)
  std::string telemetry_token_file;  // prometheus: bearer token file ("" = none)
  // The thermal family (docs/design.md#prometheus): none, or prometheus (read and exported as a
  // metric).
  SourceType thermal = SourceType::none;
  std::string thermal_endpoint;
  std::string thermal_query;
  std::string thermal_ca_file;
  std::string thermal_token_file;

  bool operator==(const RouteConfig&) const = default;
};

struct ActuatorContext {
  std::filesystem::path sysfs_root = "/host-sys";
  std::filesystem::path state_dir = "/var/lib/joulie";
  uint64_t dvfs_min_freq_khz = 1500000;
  bool host_allowed = true;  // false in pool mode: there is no host to write
  DvfsSettings dvfs;
  std::chrono::nanoseconds rapl_retry = std::chrono::minutes(5);
  // Backoff after a transient RAPL failure: first delay, doubled per failure, ≤ rapl_retry.
  std::chrono::nanoseconds rapl_transient_retry = std::chrono::seconds(5);
  // Consecutive transient failures before `auto` falls back to DVFS.
  int rapl_transient_limit = 3;
  HttpClientPool* pool = nullptr;  // required for http routes
  const Clock* clock = &RealClock::instance();
};

// The providers one route gives a node. For HTTP, `rapl` and `dvfs` are the same object.
struct RouteProviders {
  std::vector<std::unique_ptr<ControlProvider>> owned;
  ControlProvider* rapl = nullptr;
  ControlProvider* dvfs = nullptr;
  std::unique_ptr<TelemetryProvider> telemetry;
  std::string no_telemetry_reason;             // why `telemetry` is null
  std::unique_ptr<PrometheusThermal> thermal;  // the thermal family, when it is prometheus
  std::string setup_error;          // the route cannot be used at all (bad endpoint, bad record)
  bool restore_impossible = false;  // the fail-safe record is unusable and could not be replaced
  std::shared_ptr<HostFiles> host_files;
  RaplEnergyTelemetry* host_energy = nullptr;
  DvfsControl* host_dvfs = nullptr;
};

RouteProviders make_route_providers(const std::string& node, const RouteConfig& route,
                                    const ActuatorContext& context);

class NodeActuator {
 public:
  NodeActuator(std::string node, ActuatorContext context);
  ~NodeActuator() = default;
  NodeActuator(const NodeActuator&) = delete;
  NodeActuator& operator=(const NodeActuator&) = delete;

  // Switches to `route`. A different route first undoes what the old one applied (DVFS back to
  // p = 0 through the old route; host originals restored).
  void set_route(const RouteConfig& route);
  // Test seam: use these providers for `route` instead of building them.
  void set_route(const RouteConfig& route, RouteProviders providers);

  // One pass: applies `cap_watts` (per package); nullopt = no cap wanted, which releases
  // whatever was applied. Returns what to report.
  ControlOutcome reconcile(std::optional<double> cap_watts);

  // Restores the node (SIGTERM, NodePowerProfile deleted, route change).
  ControlOutcome release();
  // Host settings recorded and not yet restored (relative paths; empty on other routes).
  std::vector<std::string> recorded_settings() const;
  // The record's values are the hardware maximum, the originals having been lost.
  bool originals_unknown() const;

  const RouteConfig& route() const { return route_; }
  const DvfsController& dvfs_controller() const { return controller_; }
  bool dvfs_active() const { return dvfs_active_; }
  const std::optional<TelemetrySample>& last_sample() const { return last_sample_; }
  // Host-route objects for metrics (null on other routes).
  RaplEnergyTelemetry* host_energy() const { return providers_.host_energy; }
  DvfsControl* host_dvfs() const { return providers_.host_dvfs; }
  // The route's thermal reading (null when the thermal family is not prometheus).
  PrometheusThermal* thermal() const { return providers_.thermal.get(); }

 private:
  ControlOutcome run_dvfs(double cap_watts, SystemTime now);
  void note_rapl_failure(ControlOutcome rapl, double cap, SystemTime now);
  void clear_rapl_failure();
  void restore_throttle();
  void resume_throttle(SystemTime now);

  std::string node_;
  ActuatorContext context_;
  RouteConfig route_;
  RouteProviders providers_;
  bool has_route_ = false;
  DvfsController controller_;
  bool dvfs_active_ = false;
  bool throttle_written_ = false;  // a non-zero throttle may be in force on the DVFS route
  bool resume_checked_ = false;    // looked for a throttle an earlier agent left in force
  std::optional<ControlOutcome> rapl_failure_;
  std::optional<double> rapl_failure_cap_;
  SystemTime rapl_retry_at_{};
  int rapl_transient_failures_ = 0;       // consecutive transient RAPL failures
  kube::Backoff rapl_transient_backoff_;  // rapl_transient_retry doubling up to rapl_retry
  bool rapl_fallback_ = false;            // auto mode has handed the cap to DVFS
  std::optional<TelemetrySample> last_sample_;
};

}  // namespace joulie::agent
