#pragma once
// Reporting what the agent applied (docs/design.md#agent-reporting-and-metrics): the
// NodePowerProfile status and, when a node-scoped TelemetryProfile is in use, its
// status.control.cpu.
//
// Status is written only when backend / result / message / applied cap / observedGeneration
// change (no timestamp churn): the pure functions below decide, the StatusWriter queues and
// writes. Writes happen on the writer's own thread so that a slow or rate-limited API server
// never delays the control loop; a newer status for the same object replaces one not yet
// written, and failed writes are retried with backoff (the object deleted → dropped).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "joulie/agent/control.hpp"
#include "joulie/api/types.hpp"
#include "joulie/common/clock.hpp"
#include "joulie/kube/api.hpp"

namespace joulie::metrics {
class Registry;
class Counter;
}  // namespace joulie::metrics

namespace joulie::agent {

// What one reconcile wants the NodePowerProfile status to say.
struct Report {
  api::Backend backend = api::Backend::none;
  api::ApplyResult result = api::ApplyResult::none;
  std::string message;
  std::optional<double> applied_cap_watts;
  std::int64_t generation = 0;
  std::optional<double> package_max_watts = std::nullopt;  // status.packageMaxPowerWatts

  bool operator==(const Report&) const = default;
};

Report report_from_outcome(const ControlOutcome& outcome, std::int64_t generation);

// True when `status` already says what `report` says (the fields that trigger a write).
bool same_report(const api::NodePowerProfileStatus& status, const Report& report);

// The status to write for `report`. The Applied condition's lastTransitionTime is kept from
// `previous` unless the condition status flips (or there was none).
api::NodePowerProfileStatus status_for(const Report& report,
                                       const api::NodePowerProfileStatus& previous, SystemTime now);

// status.control.cpu of a node-scoped TelemetryProfile.
api::ControlStatus control_status_for(const Report& report, std::string observed, SystemTime now);
bool same_control_status(const api::ControlStatus& a, const api::ControlStatus& b);

class StatusWriter {
 public:
  struct Options {
    std::chrono::milliseconds retry_initial{1000};
    std::chrono::milliseconds retry_max{30000};
    metrics::Registry* metrics = nullptr;  // joulie_agent_status_writes_total{kind,result}
    const Clock* clock = nullptr;          // RealClock when null
  };

  StatusWriter(kube::Api& api, Options options);
  ~StatusWriter();
  StatusWriter(const StatusWriter&) = delete;
  StatusWriter& operator=(const StatusWriter&) = delete;

  void start();
  void stop();  // abandons what is still pending

  // Queues a status write for the NodePowerProfile `name` unless it already says `report`
  // (compared with what this writer last queued for the object, else with `server_status`, the
  // status in the informer's cache). Returns whether a write was queued.
  bool report_node_power_profile(const std::string& name, const std::string& uid,
                                 const api::NodePowerProfileStatus& server_status,
                                 const Report& report);

  // Same for status.control.cpu of the TelemetryProfile `name`.
  bool report_telemetry_profile(const std::string& name, const std::string& uid,
                                const std::optional<api::ControlStatus>& server_cpu,
                                const api::ControlStatus& wanted);

  // Forgets what was written for the object (it was deleted); a pending write is dropped.
  void forget_node_power_profile(const std::string& name);

  // Waits until nothing is pending (true) or `timeout` passes (false).
  bool flush(std::chrono::milliseconds timeout);

  std::size_t pending() const;
  std::uint64_t writes() const;    // successful writes so far
  std::uint64_t failures() const;  // failed attempts so far

 private:
  enum class Kind { npp, tp };
  struct Known {
    std::string uid;
    api::NodePowerProfileStatus npp;
    api::ControlStatus tp;
  };
  struct Pending {
    Kind kind = Kind::npp;
    std::string name;
    std::string body;
    std::uint64_t sequence = 0;
    SteadyTime retry_at{};
    int failures = 0;
  };

  void loop();
  void queue_locked(Kind kind, const std::string& name, std::string body);
  static std::string key(Kind kind, const std::string& name);

  kube::Api& api_;
  Options options_;
  const Clock* clock_;
  metrics::Counter* written_npp_ = nullptr;
  metrics::Counter* written_tp_ = nullptr;
  metrics::Counter* failed_npp_ = nullptr;
  metrics::Counter* failed_tp_ = nullptr;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::map<std::string, Known> known_;      // by key(kind, name)
  std::map<std::string, Pending> pending_;  // by key(kind, name)
  std::uint64_t sequence_ = 0;
  bool in_flight_ = false;
  bool stopping_ = false;
  std::uint64_t writes_ = 0;
  std::uint64_t failures_ = 0;
  std::thread thread_;
};

}  // namespace joulie::agent
