// Subcommand dispatch only: parse the command line, configure logging, hand over to a mode.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "joulie/agent/run.hpp"
#include "joulie/common/log.hpp"
#include "joulie/config/cli.hpp"
#include "joulie/operator/run.hpp"
#include "joulie_build_version.hpp"

int main(int argc, char** argv) {
  using joulie::config::Command;
  // A peer closing a socket mid-write (API server, simulator, a metrics scraper) must surface as
  // a write error on that connection, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
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
      return joulie::operator_mode::run_operator(config);
    }
    case Command::agent_mode: {
      const auto& config = invocation->agent_config;
      joulie::log::configure(config.global.log_format, config.global.log_level);
      return joulie::agent::run_agent(config);
    }
  }
  return joulie::config::kExitRuntimeError;
}
