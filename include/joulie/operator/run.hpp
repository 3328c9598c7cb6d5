#pragma once
// Entry point of `joulie operator`, called by main() after parsing and logging setup.

#include <functional>
#include <string>

#include "joulie/config/operator.hpp"
#include "joulie/operator/reconciler.hpp"

namespace joulie::operator_mode {

struct RunHooks {
  // JSON {"args": [...], "env": {...}}: the operator's command line, published on its Lease
  // (joulie.io/config) so that `kubectl joulie plan` re-runs the same configuration. "": none.
  std::string invocation;
  // --once: receives the pass result instead of printing it (kubectl joulie plan, in-process).
  std::function<void(const PassResult&)> once_result;
};

// Runs until SIGTERM/SIGINT (exit 0) or, with --once, for one pass. Returns the process exit
// code: 0 success, 1 runtime failure.
int run_operator(const config::OperatorConfig& config, const RunHooks& hooks = {});

}  // namespace joulie::operator_mode
