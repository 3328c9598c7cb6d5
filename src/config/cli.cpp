#include "joulie/config/cli.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "flag_set.hpp"
#include "modes.hpp"

namespace joulie::config {
namespace {

using detail::FlagSet;
using detail::FlagSpec;

constexpr const char* kCommandsHelp =
    "joulie: energy-aware power profiles for Kubernetes nodes\n"
    "\n"
    "Usage:\n"
    "  joulie operator [flags]              run the cluster operator\n"
    "  joulie agent [flags]                 run the node agent\n"
    "  joulie version [--output text|json]  print the version\n"
    "  joulie ctl <command> [flags]         kubectl joulie: status, explain, plan, pause,\n"
    "                                       resume (also run as kubectl-joulie)\n"
    "  joulie help [command]                print this help, or one command's\n"
    "\n"
    "Every flag can also be set through its environment variable; a flag wins over the\n"
    "environment, which wins over the default. Durations use Go syntax: 500ms, 20s, 1m, 1h30m.\n"
    "Exit codes: 0 success, 1 runtime failure, 2 usage error.\n";

std::vector<FlagSpec> concat(std::vector<FlagSpec> a, const std::vector<FlagSpec>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The global flags with each mode's defaults (metrics address, list page size, rate limit).
std::vector<FlagSpec> operator_globals() {
  return detail::global_flag_specs(detail::kOperatorGlobals);
}

std::vector<FlagSpec> agent_globals() { return detail::global_flag_specs(detail::kAgentGlobals); }

std::vector<FlagSpec> version_flag_specs() {
  return {{"output", "", "text", "text or json", "FORMAT"}};
}

std::string operator_usage() {
  return fmt::format(
      "Usage: joulie operator [flags]\n\n"
      "Runs the cluster operator: policy, per-node state machine, NodePowerProfiles and node\n"
      "labels.\n\nGlobal flags:\n{}\nOperator flags:\n{}",
      detail::flag_usage(operator_globals()), detail::flag_usage(detail::operator_flag_specs()));
}

std::string agent_usage() {
  return fmt::format(
      "Usage: joulie agent [flags]\n\n"
      "Runs the node agent: applies the node's NodePowerProfile through RAPL, DVFS or an HTTP\n"
      "simulator and reports what it applied.\n\nGlobal flags:\n{}\nAgent flags:\n{}",
      detail::flag_usage(agent_globals()), detail::flag_usage(detail::agent_flag_specs()));
}

std::string version_usage() {
  return fmt::format("Usage: joulie version [flags]\n\nFlags:\n{}",
                     detail::flag_usage(version_flag_specs()));
}

std::string full_usage() {
  return fmt::format(
      "{}\nGlobal flags (operator and agent; --metrics-addr defaults to {} for the operator, "
      "{} for the agent, --kube-list-page-size to {} and {}, --kube-qps/--kube-burst to {}/{} "
      "and {}/{}):\n{}\nOperator flags:\n{}\nAgent flags:\n{}\nVersion flags:\n{}",
      kCommandsHelp, detail::kOperatorMetricsAddr, detail::kAgentMetricsAddr,
      detail::kOperatorListPageSize, detail::kAgentListPageSize, detail::kOperatorKubeQps,
      detail::kOperatorKubeBurst, detail::kAgentKubeQps, detail::kAgentKubeBurst,
      detail::flag_usage(operator_globals()), detail::flag_usage(detail::operator_flag_specs()),
      detail::flag_usage(detail::agent_flag_specs()), detail::flag_usage(version_flag_specs()));
}

Invocation help(std::string text) {
  Invocation inv;
  inv.command = Command::help;
  inv.help_text = std::move(text);
  return inv;
}

Error usage_error(std::string message) { return Error(Errc::invalid_argument, std::move(message)); }

}  // namespace

Result<Invocation> parse_command_line(const std::vector<std::string>& args, const EnvLookup& env) {
  if (args.empty()) {
    return usage_error(
        "missing command (operator, agent, version, ctl or help); run \"joulie help\" for "
        "usage");
  }
  const std::string& command = args.front();
  std::vector<std::string> rest(args.begin() + 1, args.end());

  if (command == "help" || command == "--help" || command == "-h") {
    if (rest.empty()) {
      return help(full_usage());
    }
    if (rest.size() > 1) {
      return usage_error(fmt::format("unexpected argument \"{}\" for \"joulie help\"", rest[1]));
    }
    if (rest[0] == "operator") {
      return help(operator_usage());
    }
    if (rest[0] == "agent") {
      return help(agent_usage());
    }
    if (rest[0] == "version") {
      return help(version_usage());
    }
    if (rest[0] == "help") {
      return help(full_usage());
    }
    return usage_error(fmt::format(
        "unknown command \"{}\" (want operator, agent, version, ctl or help)", rest[0]));
  }

  if (command == "version") {
    FlagSet flags("version", version_flag_specs());
    if (auto status = flags.parse(rest); !status) {
      return status.error();
    }
    if (flags.help_requested()) {
      return help(version_usage());
    }
    detail::Resolver r(flags, env);
    Invocation inv;
    inv.command = Command::version;
    inv.output = r.choice("output", OutputFormat::text,
                          {{"text", OutputFormat::text}, {"json", OutputFormat::json}});
    if (r.error()) {
      return *r.error();
    }
    return inv;
  }

  if (command == "operator") {
    FlagSet flags("operator", concat(operator_globals(), detail::operator_flag_specs()));
    if (auto status = flags.parse(rest); !status) {
      return status.error();
    }
    if (flags.help_requested()) {
      return help(operator_usage());
    }
    auto config = detail::read_operator(flags, env);
    if (!config) {
      return config.error();
    }
    Invocation inv;
    inv.command = Command::operator_mode;
    inv.operator_config = std::move(config).value();
    return inv;
  }

  if (command == "agent") {
    FlagSet flags("agent", concat(agent_globals(), detail::agent_flag_specs()));
    if (auto status = flags.parse(rest); !status) {
      return status.error();
    }
    if (flags.help_requested()) {
      return help(agent_usage());
    }
    auto config = detail::read_agent(flags, env);
    if (!config) {
      return config.error();
    }
    Invocation inv;
    inv.command = Command::agent_mode;
    inv.agent_config = std::move(config).value();
    return inv;
  }

  return usage_error(
      fmt::format("unknown command \"{}\" (want operator, agent, version, ctl or help)", command));
}

std::string version_text(std::string_view version, std::string_view commit, OutputFormat output) {
  if (output == OutputFormat::text) {
    return fmt::format("joulie {} ({})\n", version, commit);
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("version");
  writer.String(version.data(), static_cast<rapidjson::SizeType>(version.size()));
  writer.Key("commit");
  writer.String(commit.data(), static_cast<rapidjson::SizeType>(commit.size()));
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

namespace {

bool replayed(const FlagSpec& spec) {
  static const char* const kLocal[] = {"kubeconfig",   "context",      "metrics-addr", "log-format",
                                       "log-level",    "once",         "dry-run",      "output",
                                       "leader-elect", "policy-config"};
  for (const char* name : kLocal) {
    if (spec.name == name) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::map<std::string, std::string> operator_environment(const EnvLookup& env) {
  std::map<std::string, std::string> out;
  for (const auto& spec : concat(operator_globals(), detail::operator_flag_specs())) {
    if (!spec.env.empty()) {
      if (auto v = env(spec.env); v && !v->empty()) {
        out[spec.env] = *v;
      }
    }
  }
  if (auto ns = env("POD_NAMESPACE"); ns && !ns->empty()) {
    out["POD_NAMESPACE"] = *ns;
  }
  return out;
}

Result<OperatorReplay> operator_replay(const std::vector<std::string>& args,
                                       const std::map<std::string, std::string>& env) {
  FlagSet flags("operator", concat(operator_globals(), detail::operator_flag_specs()));
  if (auto status = flags.parse(args); !status) {
    return status.error();
  }
  OperatorReplay out;
  for (const auto& spec : flags.specs()) {
    if (!replayed(spec)) {
      continue;
    }
    if (auto v = flags.given(spec.name)) {
      out.args.push_back("--" + spec.name + "=" + *v);
    }
    if (auto it = env.find(spec.env); !spec.env.empty() && it != env.end()) {
      out.env[spec.env] = it->second;
    }
  }
  if (auto it = env.find("POD_NAMESPACE"); it != env.end()) {
    out.env["POD_NAMESPACE"] = it->second;
  }
  return out;
}

}  // namespace joulie::config
