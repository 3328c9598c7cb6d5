#pragma once
// SIGTERM/SIGINT for both modes: blocked in every thread and collected by one watcher thread, so
// that no library thread is interrupted and shutdown (restoring the host, releasing the Lease)
// happens in ordinary code. Construct it before any other thread exists so every thread inherits
// the mask.

#include <signal.h>

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

namespace joulie {

class SignalWatcher {
 public:
  SignalWatcher();
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // On each signal: one info line from `component` with `message` and the signal's name, then
  // `on_signal`, on the watcher thread.
  void start(std::string_view component, std::string message, std::function<void()> on_signal);
  bool received() const { return received_.load() != 0; }

 private:
  sigset_t set_;
  std::atomic<bool> done_{false};
  std::atomic<int> received_{0};
  std::string component_;
  std::string message_;
  std::function<void()> on_signal_;
  std::thread thread_;
};

}  // namespace joulie
