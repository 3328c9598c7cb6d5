#pragma once
// `joulie <command> [flags]` (docs/design.md#command-line-and-exit-codes): turns argv plus the
// environment into a typed configuration. Precedence: flag > environment variable > default; an
// empty environment variable counts as unset. Any malformed or out-of-range value is a usage error
// (exit 2) whose one-line message names the flag, the environment variable when the value came from
// there, and the value.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "joulie/common/result.hpp"
#include "joulie/config/agent.hpp"
#include "joulie/config/global.hpp"
#include "joulie/config/operator.hpp"

namespace joulie::config {

enum class Command { help, version, operator_mode, agent_mode };

struct Invocation {
  Command command = Command::help;
  std::string help_text;                     // Command::help: what to print on stdout
  OutputFormat output = OutputFormat::text;  // Command::version
  OperatorConfig operator_config;            // Command::operator_mode
  AgentConfig agent_config;                  // Command::agent_mode
};

// `args` excludes the program name. Errors are Errc::invalid_argument with the one-line
// message (without the "joulie: " prefix).
Result<Invocation> parse_command_line(const std::vector<std::string>& args, const EnvLookup& env);

// "joulie 0.1.0 (abc123)\n" or {"version":"0.1.0","commit":"abc123"}\n
std::string version_text(std::string_view version, std::string_view commit, OutputFormat output);

// `kubectl joulie plan` re-runs the operator's own configuration as a one-shot dry run elsewhere.
// The operator publishes its flags and the environment variables its flags read (plus
// POD_NAMESPACE); the plugin keeps only what decides the plan. Dropped: where it runs
// (kubeconfig, context, metrics, logging, leader election, --once/--dry-run/--output) and the
// policy file path (the plugin passes the published file's content, or a candidate).
struct OperatorReplay {
  std::vector<std::string> args;  // --name=value, in the flag table's order
  std::map<std::string, std::string> env;
};
std::map<std::string, std::string> operator_environment(const EnvLookup& env);
Result<OperatorReplay> operator_replay(const std::vector<std::string>& args,
                                       const std::map<std::string, std::string>& env);

// Exit codes (docs/design.md#command-line-and-exit-codes).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntimeError = 1;
inline constexpr int kExitUsage = 2;

}  // namespace joulie::config
