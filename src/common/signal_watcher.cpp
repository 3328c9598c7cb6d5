#include "joulie/common/signal_watcher.hpp"

#include <pthread.h>

#include <ctime>
#include <utility>

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

void SignalWatcher::start(std::function<void(int)> on_signal) {
  on_signal_ = std::move(on_signal);
  thread_ = std::thread([this] {
    // A short timeout so the destructor is never kept waiting for a signal that never comes.
    const timespec timeout{0, 100 * 1000 * 1000};
    while (!done_) {
      int sig = sigtimedwait(&set_, nullptr, &timeout);
      if (sig > 0) {
        received_ = sig;
        on_signal_(sig);
      }
    }
  });
}

}  // namespace joulie
