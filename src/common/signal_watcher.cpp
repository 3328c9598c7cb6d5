#include "joulie/common/signal_watcher.hpp"

#include <pthread.h>

#include <ctime>
#include <utility>

#include "joulie/common/log.hpp"

namespace joulie {

SignalWatcher::SignalWatcher() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGTERM);
  sigaddset(&set_, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
}

SignalWatcher::~SignalWatcher() {
  done_ = true;
  if (thread_.joinable()) {
    thread_.join();
  }
  pthread_sigmask(SIG_UNBLOCK, &set_, nullptr);
}

void SignalWatcher::start(std::string_view component, std::string message,
                          std::function<void()> on_signal) {
  component_ = std::string(component);
  message_ = std::move(message);
  on_signal_ = std::move(on_signal);
  thread_ = std::thread([this] {
    // A short timeout so the destructor is never kept waiting for a signal that never comes.
    const timespec timeout{0, 100 * 1000 * 1000};
    while (!done_) {
      int sig = sigtimedwait(&set_, nullptr, &timeout);
      if (sig > 0) {
        received_ = sig;
        log::info(component_, message_, {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
        on_signal_();
      }
    }
  });
}

}  // namespace joulie
