#include "joulie/agent/reporting.hpp"

#include <algorithm>
#include <cmath>

#include "joulie/api/codec.hpp"
#include "joulie/common/log.hpp"
#include "joulie/common/metrics.hpp"

namespace joulie::agent {

namespace {

api::Backend api_backend(Backend backend) {
  switch (backend) {
    case Backend::none:
      return api::Backend::none;
    case Backend::rapl:
      return api::Backend::rapl;
    case Backend::dvfs:
      return api::Backend::dvfs;
  }
  return api::Backend::none;
}

api::ApplyResult api_result(ApplyResult result) {
  switch (result) {
    case ApplyResult::none:
      return api::ApplyResult::none;
    case ApplyResult::applied:
      return api::ApplyResult::applied;
    case ApplyResult::blocked:
      return api::ApplyResult::blocked;
    case ApplyResult::error:
      return api::ApplyResult::error;
  }
  return api::ApplyResult::none;
}

bool same_cap(const std::optional<double>& a, const std::optional<double>& b) {
  if (a.has_value() != b.has_value()) {
    return false;
  }
  // Caps travel through JSON; a difference below a microwatt is not a change.
  return !a || std::fabs(*a - *b) < 1e-6;
}

const char* condition_reason(api::ApplyResult result) {
  switch (result) {
    case api::ApplyResult::applied:
      return "Applied";
    case api::ApplyResult::blocked:
      return "Blocked";
    case api::ApplyResult::error:
      return "Error";
    case api::ApplyResult::none:
      return "NotApplied";
  }
  return "NotApplied";
}

}  // namespace

Report report_from_outcome(const ControlOutcome& outcome, std::int64_t generation) {
  Report report;
  report.backend = api_backend(outcome.backend);
  report.result = api_result(outcome.result);
  report.message = outcome.message;
  report.applied_cap_watts = outcome.applied_cap_watts;
  report.package_max_watts = outcome.package_max_watts;
  report.generation = generation;
  return report;
}

bool same_report(const api::NodePowerProfileStatus& status, const Report& report) {
  return status.backend == report.backend && status.result == report.result &&
         status.message == report.message &&
         same_cap(status.applied_cap_watts, report.applied_cap_watts) &&
         same_cap(status.package_max_power_watts, report.package_max_watts) &&
         status.observed_generation == report.generation;
}

api::NodePowerProfileStatus status_for(const Report& report,
                                       const api::NodePowerProfileStatus& previous,
                                       SystemTime now) {
  api::NodePowerProfileStatus status;
  status.observed_generation = report.generation;
  status.backend = report.backend;
  status.result = report.result;
  status.message = report.message;
  status.applied_cap_watts = report.applied_cap_watts;
  status.package_max_power_watts = report.package_max_watts;
  status.updated_at = now;

  api::Condition applied;
  applied.type = std::string(api::kConditionApplied);
  applied.status = report.result == api::ApplyResult::applied ? "True" : "False";
  applied.reason = condition_reason(report.result);
  applied.message = report.message;
  applied.observed_generation = report.generation;
  const api::Condition* before = previous.applied_condition();
  if (before != nullptr && before->status == applied.status && before->last_transition_time) {
    applied.last_transition_time = before->last_transition_time;
  } else {
    applied.last_transition_time = now;
  }
  status.conditions.push_back(std::move(applied));
  return status;
}

api::ControlStatus control_status_for(const Report& report, std::string observed, SystemTime now) {
  api::ControlStatus status;
  status.backend = std::string(api::to_string(report.backend));
  status.result = std::string(api::to_string(report.result));
  status.message = report.message;
  status.observed = std::move(observed);
  status.updated_at = now;
  return status;
}

bool same_control_status(const api::ControlStatus& a, const api::ControlStatus& b) {
  return a.backend == b.backend && a.result == b.result && a.message == b.message &&
         a.observed == b.observed;
}

// ---- StatusWriter ----------------------------------------------------------------------------

StatusWriter::StatusWriter(kube::Api& api, Options options)
    : api_(api),
      options_(options),
      clock_(options.clock != nullptr ? options.clock : &RealClock::instance()) {
  if (options_.metrics != nullptr) {
    auto& family = options_.metrics->counter(
        "joulie_agent_status_writes_total",
        "Status writes by the agent, by object kind and result (ok or error).", {"kind", "result"});
    written_npp_ = &family.with({"nodepowerprofile", "ok"});
    written_tp_ = &family.with({"telemetryprofile", "ok"});
    failed_npp_ = &family.with({"nodepowerprofile", "error"});
    failed_tp_ = &family.with({"telemetryprofile", "error"});
  }
}

StatusWriter::~StatusWriter() { stop(); }

void StatusWriter::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) {
    return;
  }
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void StatusWriter::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  idle_.notify_all();
}

std::string StatusWriter::key(Kind kind, const std::string& name) {
  return (kind == Kind::npp ? "npp/" : "tp/") + name;
}

void StatusWriter::queue_locked(Kind kind, const std::string& name, std::string body) {
  Pending& entry = pending_[key(kind, name)];
  entry.kind = kind;
  entry.name = name;
  entry.body = std::move(body);
  entry.sequence = ++sequence_;
  // A newer status is written at once, even when an older one was waiting for a retry.
  entry.retry_at = SteadyTime{};
  wake_.notify_all();
}

bool StatusWriter::report_node_power_profile(const std::string& name, const std::string& uid,
                                             const api::NodePowerProfileStatus& server_status,
                                             const Report& report) {
  std::lock_guard lock(mutex_);
  auto it = known_.find(key(Kind::npp, name));
  const api::NodePowerProfileStatus* baseline = &server_status;
  if (it != known_.end() && it->second.uid == uid) {
    baseline = &it->second.npp;
  }
  if (same_report(*baseline, report)) {
    if (it == known_.end() || it->second.uid != uid) {
      known_[key(Kind::npp, name)] = Known{uid, server_status, {}};
    }
    return false;
  }
  api::NodePowerProfileStatus next = status_for(report, *baseline, clock_->now());
  queue_locked(Kind::npp, name, api::encode_status_patch(next));
  known_[key(Kind::npp, name)] = Known{uid, std::move(next), {}};
  return true;
}

bool StatusWriter::report_telemetry_profile(const std::string& name, const std::string& uid,
                                            const std::optional<api::ControlStatus>& server_cpu,
                                            const api::ControlStatus& wanted) {
  std::lock_guard lock(mutex_);
  auto it = known_.find(key(Kind::tp, name));
  std::optional<api::ControlStatus> baseline = server_cpu;
  if (it != known_.end() && it->second.uid == uid) {
    baseline = it->second.tp;
  }
  if (baseline && same_control_status(*baseline, wanted)) {
    return false;
  }
  api::TelemetryProfileStatus status;
  status.cpu = wanted;
  queue_locked(Kind::tp, name, api::encode_control_status_patch(status));
  known_[key(Kind::tp, name)] = Known{uid, {}, wanted};
  return true;
}

void StatusWriter::forget_node_power_profile(const std::string& name) {
  std::lock_guard lock(mutex_);
  known_.erase(key(Kind::npp, name));
  pending_.erase(key(Kind::npp, name));
  if (pending_.empty() && !in_flight_) {
    idle_.notify_all();
  }
}

bool StatusWriter::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return idle_.wait_for(lock, timeout, [this] {
    return (pending_.empty() && !in_flight_) || stopping_;
  }) && pending_.empty();
}

std::size_t StatusWriter::pending() const {
  std::lock_guard lock(mutex_);
  return pending_.size();
}

std::uint64_t StatusWriter::writes() const {
  std::lock_guard lock(mutex_);
  return writes_;
}

std::uint64_t StatusWriter::failures() const {
  std::lock_guard lock(mutex_);
  return failures_;
}

void StatusWriter::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    auto next = pending_.end();
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (next == pending_.end() || it->second.retry_at < next->second.retry_at) {
        next = it;
      }
    }
    if (next == pending_.end()) {
      idle_.notify_all();
      wake_.wait(lock);
      continue;
    }
    if (next->second.retry_at > now) {
      wake_.wait_until(lock, next->second.retry_at);
      continue;
    }
    const std::string entry_key = next->first;
    const Pending entry = next->second;
    in_flight_ = true;
    lock.unlock();

    const kube::Resource& resource = entry.kind == Kind::npp ? kube::resources::node_power_profiles
                                                             : kube::resources::telemetry_profiles;
    auto result = api_.merge_patch(resource, "", entry.name, entry.body, "status");

    lock.lock();
    in_flight_ = false;
    auto it = pending_.find(entry_key);
    bool current = it != pending_.end() && it->second.sequence == entry.sequence;
    if (result.ok()) {
      ++writes_;
      if (auto* c = entry.kind == Kind::npp ? written_npp_ : written_tp_) {
        c->inc();
      }
      if (current) {
        pending_.erase(it);
      }
    } else if (result.code() == Errc::invalid) {
      // The server rejects the object as it stands (a spec stored before the schema existed is
      // validated again on every write): retrying cannot help until the object changes.
      ++failures_;
      if (auto* c = entry.kind == Kind::npp ? failed_npp_ : failed_tp_) {
        c->inc();
      }
      if (current) {
        pending_.erase(it);
      }
      log::error("agent", "status rejected by the API server; not retried until it changes",
                 {{"object", entry_key}, {"error", result.error()}});
    } else if (result.code() == Errc::not_found) {
      // Deleted meanwhile: nothing to report on any more.
      if (current) {
        pending_.erase(it);
      }
      known_.erase(entry_key);
    } else {
      ++failures_;
      if (auto* c = entry.kind == Kind::npp ? failed_npp_ : failed_tp_) {
        c->inc();
      }
      if (current) {
        Pending& p = it->second;
        ++p.failures;
        std::chrono::milliseconds delay = std::min<std::chrono::milliseconds>(
            options_.retry_initial * (1 << std::min(p.failures - 1, 10)), options_.retry_max);
        p.retry_at = std::chrono::steady_clock::now() + delay;
        if (p.failures == 1 || p.failures % 10 == 0) {
          log::warn("agent", "status write failed; will retry",
                    {{"object", entry_key}, {"attempts", p.failures}, {"error", result.error()}});
        }
      }
    }
    if (pending_.empty()) {
      idle_.notify_all();
    }
  }
}

}  // namespace joulie::agent
