#pragma once
// The flag tables and readers of each command (private to the config area).

#include <optional>
#include <string>
#include <vector>

#include "config/flag_set.hpp"
#include "joulie/common/result.hpp"
#include "joulie/config/agent.hpp"
#include "joulie/config/operator.hpp"

namespace joulie::config::detail {

// Kubernetes label selector syntax, checked with the policy area's parser (shared by both modes).
std::optional<std::string> label_selector(const std::string& selector);

inline constexpr const char* kOperatorMetricsAddr = ":8081";
inline constexpr const char* kAgentMetricsAddr = ":8080";

std::vector<FlagSpec> operator_flag_specs();  // mode flags only (globals come separately)
std::vector<FlagSpec> agent_flag_specs();

Result<OperatorConfig> read_operator(const FlagSet& flags, const EnvLookup& env);
Result<AgentConfig> read_agent(const FlagSet& flags, const EnvLookup& env);

}  // namespace joulie::config::detail
