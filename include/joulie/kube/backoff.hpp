#pragma once
// Retry pacing for the watch loops, leader election and the event recorder: exponential backoff
// with jitter (client-go's 0.8 s doubling to 30 s), and a stop signal whose waits end promptly.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

namespace joulie::kube {

// Uniform random numbers in [0, 1). Injected so tests can pin the jitter.
using RandomSource = std::function<double()>;

// A thread-safe default RandomSource (std::mt19937_64 seeded from std::random_device).
RandomSource default_random();

class Backoff {
 public:
  struct Options {
    std::chrono::milliseconds initial{800};
    std::chrono::milliseconds max{30000};
    double factor = 2.0;
    // Each delay is scaled by a factor drawn from [1 - jitter, 1 + jitter), then capped at max,
    // so that many clients failing together do not retry in lock step.
    double jitter = 0.2;
  };

  Backoff() : Backoff(Options{}) {}
  explicit Backoff(Options options, RandomSource random = default_random());

  // The delay to wait before the next attempt; grows the base for the following call.
  std::chrono::milliseconds next();
  // Back to the initial delay (after a period without failures).
  void reset();
  // The un-jittered delay the next call to next() is based on.
  std::chrono::milliseconds base() const { return base_; }

 private:
  Options options_;
  RandomSource random_;
  std::chrono::milliseconds base_;
};

// A stop flag plus an interruptible wait. Api::watch takes the flag itself (flag()).
class StopSignal {
 public:
  // Tests replace real waiting: the hook receives each requested delay (e.g. to record it and
  // advance a ManualClock) and the wait returns at once.
  using WaitHook = std::function<void(std::chrono::milliseconds)>;

  StopSignal() = default;
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  void request_stop();
  // Clears the flag so that a component can be started again after stop().
  void reset();
  bool stopped() const { return stopped_.load(); }
  const std::atomic<bool>& flag() const { return stopped_; }

  // Waits for `delay` or until stopped; returns false when stopped.
  bool wait_for(std::chrono::milliseconds delay);

  void wait_hook(WaitHook hook) { hook_ = std::move(hook); }

 private:
  std::atomic<bool> stopped_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  WaitHook hook_;
};

}  // namespace joulie::kube
