#include "joulie/operator/controller.hpp"

#include <algorithm>
#include <utility>

namespace joulie::operator_mode {

namespace {
using Steady = std::chrono::steady_clock;
}

Controller::Controller(ControllerOptions options, PassFn pass, Gate may_run)
    : options_(options), pass_(std::move(pass)), may_run_(std::move(may_run)) {}

void Controller::request_replan() {
  std::lock_guard lock(mutex_);
  if (!replan_due_) {
    // The first event of a burst sets the deadline; later ones ride along.
    replan_due_ = Steady::now() + options_.debounce;
    cv_.notify_all();
  }
}

void Controller::request_replan_at(SteadyTime when) {
  std::lock_guard lock(mutex_);
  if (!wake_due_ || when < *wake_due_) {
    wake_due_ = when;
    cv_.notify_all();
  }
}

void Controller::request_reguard() {
  std::lock_guard lock(mutex_);
  reguard_ = true;
  cv_.notify_all();
}

void Controller::notify() {
  std::lock_guard lock(mutex_);
  tick_now_ = true;
  cv_.notify_all();
}

void Controller::stop() {
  std::lock_guard lock(mutex_);
  stopping_ = true;
  cv_.notify_all();
}

bool Controller::replan_pending() const {
  std::lock_guard lock(mutex_);
  const auto now = Steady::now();
  return tick_now_ || (next_tick_ && now >= *next_tick_) || (replan_due_ && now >= *replan_due_) ||
         (wake_due_ && now >= *wake_due_);
}

std::uint64_t Controller::passes() const {
  std::lock_guard lock(mutex_);
  return passes_;
}

void Controller::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (may_run_ && !may_run_()) {
      // Not leading: wait for notify() (leadership) or stop. The periodic re-check only guards
      // against a gate that opened without a notify.
      cv_.wait_for(lock, std::chrono::seconds(1));
      continue;
    }
    const auto now = Steady::now();
    const bool tick = tick_now_ || (next_tick_ && now >= *next_tick_);
    const bool replan =
        tick || (replan_due_ && now >= *replan_due_) || (wake_due_ && now >= *wake_due_);
    const bool reguard = reguard_ || (retry_due_ && now >= *retry_due_);
    if (!replan && !reguard) {
      std::optional<Steady::time_point> wake = next_tick_;
      for (const auto& t : {replan_due_, retry_due_, wake_due_}) {
        if (t && (!wake || *t < *wake)) {
          wake = t;
        }
      }
      if (wake) {
        cv_.wait_until(lock, *wake);
      } else {
        cv_.wait(lock);
      }
      continue;
    }
    const PassKind kind = replan ? PassKind::replan : PassKind::reguard;
    if (replan) {
      replan_due_.reset();
      wake_due_.reset();
      tick_now_ = false;
      if (tick || !next_tick_) {
        next_tick_ = now + std::chrono::duration_cast<Steady::duration>(options_.interval);
      }
    }
    reguard_ = false;
    retry_due_.reset();
    lock.unlock();
    std::optional<SteadyTime> retry = pass_(kind);
    lock.lock();
    ++passes_;
    if (retry && (!retry_due_ || *retry < *retry_due_)) {
      retry_due_ = retry;
    }
  }
}

}  // namespace joulie::operator_mode
