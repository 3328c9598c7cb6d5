#pragma once
// Triggers of reconcile passes (docs/design.md#policies, #state-machine-and-downgrade-guard), a
// small work queue on one thread:
//  - the interval tick re-plans;
//  - a managed-set change re-plans at once, debounced (a burst of node events is one pass);
//  - a draining node whose last performance-sensitive pod left is re-guarded at once (the last
//    plan is reused: a pod event alone never re-plans, so profiles do not flap with pods);
//  - failed nodes are retried when their backoff expires.
// Waits are condition-variable waits with deadlines; nothing sleeps.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>

#include "joulie/common/clock.hpp"
#include "joulie/common/duration.hpp"
#include "joulie/operator/reconciler.hpp"

namespace joulie::operator_mode {

struct ControllerOptions {
  Duration interval = std::chrono::minutes(1);
  std::chrono::milliseconds debounce{100};
};

class Controller {
 public:
  // Runs one pass; returns when the next retry is due (nullopt: none waiting).
  using PassFn = std::function<std::optional<SteadyTime>(PassKind kind)>;
  // Whether passes may run now (leading, caches synced); re-asked after notify().
  using Gate = std::function<bool()>;

  Controller(ControllerOptions options, PassFn pass, Gate may_run = {});

  void request_replan();  // debounced re-plan
  // Re-plan at `when` (a time window's boundary); the earliest request wins, any re-plan
  // clears it.
  void request_replan_at(SteadyTime when);
  void request_reguard();  // immediate pass with the last plan
  // The gate may have opened (leadership acquired): re-plan now if it has.
  void notify();

  // Runs passes on the calling thread until stop().
  void run();
  void stop();

  // Whether a re-plan is due (a tick, a managed-set change, a window boundary) while a pass is
  // running: the pass may then leave its remaining downgrades to it. Any thread.
  bool replan_pending() const;

  // Passes run so far (tests).
  std::uint64_t passes() const;

 private:
  ControllerOptions options_;
  PassFn pass_;
  Gate may_run_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool tick_now_ = true;  // the first pass runs at once
  std::optional<SteadyTime> next_tick_;
  std::optional<SteadyTime> replan_due_;
  std::optional<SteadyTime> wake_due_;
  bool reguard_ = false;
  std::optional<SteadyTime> retry_due_;
  std::uint64_t passes_ = 0;
};

}  // namespace joulie::operator_mode
