#include "joulie/kube/backoff.hpp"

#include <algorithm>
#include <memory>
#include <random>

namespace joulie::kube {

RandomSource default_random() {
  struct State {
    std::mutex mutex;
    std::mt19937_64 engine{std::random_device{}()};
    std::uniform_real_distribution<double> dist{0.0, 1.0};
  };
  auto state = std::make_shared<State>();
  return [state] {
    std::lock_guard lock(state->mutex);
    return state->dist(state->engine);
  };
}

Backoff::Backoff(Options options, RandomSource random)
    : options_(options),
      random_(random ? std::move(random) : default_random()),
      base_(options.initial) {
  if (options_.initial.count() <= 0) {
    options_.initial = std::chrono::milliseconds(1);
  }
  options_.max = std::max(options_.max, options_.initial);
  options_.factor = std::max(options_.factor, 1.0);
  options_.jitter = std::clamp(options_.jitter, 0.0, 1.0);
  base_ = options_.initial;
}

std::chrono::milliseconds Backoff::next() {
  double r = std::clamp(random_(), 0.0, 1.0);
  double scale = 1.0 - options_.jitter + 2.0 * options_.jitter * r;
  auto delay =
      std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(base_.count()) * scale));
  delay = std::clamp(delay, std::chrono::milliseconds(1), options_.max);

  double grown = static_cast<double>(base_.count()) * options_.factor;
  base_ = grown >= static_cast<double>(options_.max.count())
              ? options_.max
              : std::chrono::milliseconds(static_cast<int64_t>(grown));
  return delay;
}

void Backoff::reset() { base_ = options_.initial; }

void StopSignal::request_stop() {
  {
    std::lock_guard lock(mutex_);
    stopped_.store(true);
  }
  cv_.notify_all();
}

void StopSignal::reset() {
  std::lock_guard lock(mutex_);
  stopped_.store(false);
}

bool StopSignal::wait_for(std::chrono::milliseconds delay) {
  if (hook_) {
    hook_(delay);
    return !stopped();
  }
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, delay, [this] { return stopped_.load(); });
  return !stopped_.load();
}

}  // namespace joulie::kube
