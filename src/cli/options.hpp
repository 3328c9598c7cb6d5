#pragma once
// The plugin's command line (private to src/cli).

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "joulie/common/result.hpp"

namespace joulie::cli {

enum class Output { table, wide, json, yaml };

struct Options {
  std::string command;  // status, explain, plan, pause, resume, help
  std::vector<std::string> positional;
  std::vector<std::string> kubeconfig;  // --kubeconfig (else KUBECONFIG, else ~/.kube/config)
  std::string context;                  // --context
  std::string ns = "joulie-system";     // -n/--namespace: the operator's namespace
  std::string lease = "joulie-operator";
  Output output = Output::table;
  std::string policy_config;  // plan: a candidate policy file
  std::string reason;         // pause: why (stored on joulie-control)
  bool wait = true;           // pause/resume: wait for the operator to act
  std::chrono::milliseconds timeout{30000};
  // status: measured package power per node from this Prometheus (the agents' and the
  // simulator's power gauges); empty: the POWER column shows "-".
  std::string prometheus;
  std::string prometheus_ca_file;
  std::string prometheus_token_file;
  bool help = false;
};

// Usage errors are Errc::invalid_argument (exit 2).
Result<Options> parse_options(const std::vector<std::string>& args);
std::string usage();

}  // namespace joulie::cli
