#pragma once
// How a long-running process (`joulie operator`, `joulie agent`) ends when its wait for the
// informer caches does (docs/design.md#command-line-and-exit-codes). Beside the exit codes so the
// two processes map the wait the same way.

#include <optional>

#include "joulie/common/process_setup.hpp"
#include "joulie/config/cli.hpp"

namespace joulie::config {

// nullopt once synced (the process goes on); kExitOk when a signal stopped the wait (nothing
// went wrong); kExitRuntimeError after a time-out (sync_or_stop has logged what did not sync).
inline std::optional<int> exit_status_after(SyncWait how) {
  switch (how) {
    case SyncWait::synced:
      return std::nullopt;
    case SyncWait::stopped:
      return kExitOk;
    case SyncWait::timed_out:
      break;
  }
  return kExitRuntimeError;
}

}  // namespace joulie::config
