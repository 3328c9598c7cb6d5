#pragma once
// The flag tables and readers of each command (private to the config area).

#include <optional>
#include <string>
#include <vector>

#include "flag_set.hpp"
#include "joulie/common/result.hpp"
#include "joulie/config/agent.hpp"
#include "joulie/config/operator.hpp"

namespace joulie::config::detail {

// Kubernetes label selector syntax, checked with the policy area's parser (shared by both modes).
std::optional<std::string> label_selector(const std::string& selector);

inline constexpr const char* kOperatorMetricsAddr = ":8081";
inline constexpr const char* kAgentMetricsAddr = ":8080";
// --kube-list-page-size defaults (docs/decisions.md, "List page size"). Every list page is one
// rate-limited request, and its JSON is held about four times over while it is parsed. Operator:
// 150 000 pods at 1 000 per page are 150 requests (~6 s at 20 QPS; the quality bar is a sync within
// 10 s, docs/design.md#quality-bars); 2 000 per page, with real-size objects, took the operator
// over its 150 MiB bar. Agent: its lists (a pool's nodes and NodePowerProfiles) fit in the request
// burst, so it keeps client-go's 500 for its 64 MiB bar.
inline constexpr int64_t kOperatorListPageSize = 1000;
inline constexpr int64_t kAgentListPageSize = 500;
// --kube-qps / --kube-burst defaults (docs/decisions.md, "Client rate limit and upgrades
// first"). The operator writes two objects per node when a cluster first converges or demand
// jumps: at 100 QPS a 5 000-node cluster converges in under 2 minutes (20 QPS took ~10). Its
// Events go through a client of their own with the same budget, so they never delay a node
// write. The agent sends a few requests per node and keeps client-go/controller-runtime's 20/40.
inline constexpr double kOperatorKubeQps = 100;
inline constexpr int64_t kOperatorKubeBurst = 200;
inline constexpr double kAgentKubeQps = 20;
inline constexpr int64_t kAgentKubeBurst = 40;

inline constexpr GlobalDefaults kOperatorGlobals{kOperatorMetricsAddr, kOperatorListPageSize,
                                                 kOperatorKubeQps, kOperatorKubeBurst};
inline constexpr GlobalDefaults kAgentGlobals{kAgentMetricsAddr, kAgentListPageSize, kAgentKubeQps,
                                              kAgentKubeBurst};

std::vector<FlagSpec> operator_flag_specs();  // mode flags only (globals come separately)
std::vector<FlagSpec> agent_flag_specs();

Result<OperatorConfig> read_operator(const FlagSet& flags, const EnvLookup& env);
Result<AgentConfig> read_agent(const FlagSet& flags, const EnvLookup& env);

}  // namespace joulie::config::detail
