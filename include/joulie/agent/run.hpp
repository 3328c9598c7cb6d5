#pragma once
// Entry point of `joulie agent`, called by main() after parsing and logging setup.

#include "joulie/config/agent.hpp"

namespace joulie::agent {

// Runs until SIGTERM/SIGINT (exit 0, host settings restored) or, with --once / --restore, for
// one pass. Returns the process exit code: 0 success, 1 runtime failure.
int run_agent(const config::AgentConfig& config);

}  // namespace joulie::agent
