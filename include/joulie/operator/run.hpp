#pragma once
// Entry point of `joulie operator`, called by main() after parsing and logging setup.

#include "joulie/config/operator.hpp"

namespace joulie::operator_mode {

// Runs until SIGTERM/SIGINT (exit 0) or, with --once, for one pass. Returns the process exit
// code: 0 success, 1 runtime failure.
int run_operator(const config::OperatorConfig& config);

}  // namespace joulie::operator_mode
