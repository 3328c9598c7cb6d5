// Temporary: agent mode lands in a following commit.
#include "joulie/agent/run.hpp"
#include "joulie/common/log.hpp"

namespace joulie::agent {
int run_agent(const config::AgentConfig& /*config*/) {
  log::error("agent", "agent mode not built yet");
  return 1;
}
}  // namespace joulie::agent
