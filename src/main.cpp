// Subcommand dispatch only: parse the command line, configure logging, hand over to a mode.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "joulie/agent/run.hpp"
#include "joulie/cli/plugin.hpp"
#include "joulie/common/log.hpp"
#include "joulie/config/cli.hpp"
#include "joulie/operator/run.hpp"
#include "joulie_build_version.hpp"

namespace {

// {"args": [...], "env": {...}}: what `kubectl joulie plan` needs to re-run this configuration.
std::string invocation_json(const std::vector<std::string>& args) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("args");
  w.StartArray();
  for (std::size_t i = 1; i < args.size(); ++i) {
    w.String(args[i].c_str());
  }
  w.EndArray();
  w.Key("env");
  w.StartObject();
  for (const auto& [k, v] : joulie::config::operator_environment(joulie::config::process_env())) {
    w.Key(k.c_str());
    w.String(v.c_str());
  }
  w.EndObject();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

int main(int argc, char** argv) {
  using joulie::config::Command;
  // A peer closing a socket mid-write (API server, simulator, a metrics scraper) must surface as
  // a write error on that connection, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  // `kubectl joulie ...` (installed or linked as kubectl-joulie) and `joulie ctl ...`.
  if (argc > 0 && joulie::cli::is_plugin_program(argv[0])) {
    return joulie::cli::run_plugin(args);
  }
  if (!args.empty() && args.front() == "ctl") {
    return joulie::cli::run_plugin(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  // `joulie help` lists ctl among the commands, so `joulie help ctl` must answer like the others.
  if (args.size() == 2 && args[1] == "ctl" &&
      (args[0] == "help" || args[0] == "--help" || args[0] == "-h")) {
    return joulie::cli::run_plugin({"--help"});
  }
  auto invocation = joulie::config::parse_command_line(args, joulie::config::process_env());
  if (!invocation) {
    std::fprintf(stderr, "joulie: %s\n", invocation.error().message.c_str());
    return joulie::config::kExitUsage;
  }
  switch (invocation->command) {
    case Command::help:
      std::fputs(invocation->help_text.c_str(), stdout);
      return joulie::config::kExitOk;
    case Command::version:
      std::fputs(joulie::config::version_text(JOULIE_VERSION, JOULIE_GIT_COMMIT, invocation->output)
                     .c_str(),
                 stdout);
      return joulie::config::kExitOk;
    case Command::operator_mode: {
      const auto& config = invocation->operator_config;
      joulie::log::configure(config.global.log_format, config.global.log_level);
      joulie::operator_mode::RunHooks hooks;
      hooks.invocation = invocation_json(args);
      return joulie::operator_mode::run_operator(config, hooks);
    }
    case Command::agent_mode: {
      const auto& config = invocation->agent_config;
      joulie::log::configure(config.global.log_format, config.global.log_level);
      return joulie::agent::run_agent(config);
    }
  }
  return joulie::config::kExitRuntimeError;
}
