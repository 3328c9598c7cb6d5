#include "options.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "joulie/common/duration.hpp"

namespace joulie::cli {

std::string usage() {
  return "kubectl joulie: see, explain, rehearse and pause Joulie's power management\n"
         "\n"
         "Usage:\n"
         "  kubectl joulie status [-o wide|json|yaml]     managed nodes and the operator's state\n"
         "  kubectl joulie explain NODE [-o json|yaml]    why NODE is where it is\n"
         "  kubectl joulie plan [--policy-config FILE] [-o json|yaml]\n"
         "                                                what the operator would change now\n"
         "  kubectl joulie pause [--reason TEXT]          lift every cap until resumed\n"
         "  kubectl joulie resume                         hand control back to the policy\n"
         "\n"
         "Flags:\n"
         "  --kubeconfig PATH     kubeconfig file (default: $KUBECONFIG, else in-cluster, else "
         "~/.kube/config)\n"
         "  --context NAME        kubeconfig context\n"
         "  -n, --namespace NS    the operator's namespace (joulie-system)\n"
         "  -o, --output FORMAT   wide, json or yaml (default: a table)\n"
         "  --wait=false          pause/resume: do not wait for the operator to act\n"
         "  --timeout DURATION    pause/resume: how long to wait (30s)\n"
         "  --prometheus URL      status: measured power per node from this Prometheus\n"
         "  --prometheus-ca-file PATH, --prometheus-token-file PATH\n"
         "                        status: its CA bundle (HTTPS) and bearer token file\n"
         "\n"
         "Also run as `joulie ctl <command>`. Pin one node: kubectl annotate node NODE\n"
         "joulie.io/pin=performance|eco (remove with joulie.io/pin-).\n"
         "Exit codes: 0 success, 1 runtime failure, 2 usage error.\n";
}

namespace {

Error usage_error(std::string message) { return Error(Errc::invalid_argument, std::move(message)); }

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, sep)) {
    out.push_back(part);
  }
  return out;
}

}  // namespace

Result<Options> parse_options(const std::vector<std::string>& args) {
  Options o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::optional<std::string> inline_value;
    if (arg.rfind("--", 0) == 0) {
      if (auto eq = arg.find('='); eq != std::string::npos) {
        inline_value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
      }
    } else if (arg.size() > 2 && (arg.rfind("-o", 0) == 0 || arg.rfind("-n", 0) == 0)) {
      // kubectl's short forms with the value attached: -ojson, -o=json, -njoulie-system.
      inline_value = arg.substr(arg[2] == '=' ? 3 : 2);
      arg = arg.substr(0, 2);
    }
    auto value = [&](const char* flag) -> Result<std::string> {
      if (inline_value) {
        return *inline_value;
      }
      if (i + 1 >= args.size()) {
        return usage_error(fmt::format("flag needs an argument: {}", flag));
      }
      return args[++i];
    };
    if (arg == "-h" || arg == "--help") {
      o.help = true;
    } else if (arg == "--kubeconfig") {
      auto v = value("--kubeconfig");
      if (!v) return v.error();
      for (auto& part : split(*v, ':')) {
        if (!part.empty()) o.kubeconfig.push_back(part);
      }
    } else if (arg == "--context") {
      auto v = value("--context");
      if (!v) return v.error();
      o.context = *v;
    } else if (arg == "-n" || arg == "--namespace") {
      auto v = value("--namespace");
      if (!v) return v.error();
      o.ns = *v;
    } else if (arg == "-o" || arg == "--output") {
      auto v = value("--output");
      if (!v) return v.error();
      if (*v == "wide")
        o.output = Output::wide;
      else if (*v == "json")
        o.output = Output::json;
      else if (*v == "yaml")
        o.output = Output::yaml;
      else
        return usage_error(
            fmt::format("unable to match a printer suitable for the output format \"{}\", allowed "
                        "formats are: json,wide,yaml",
                        *v));
    } else if (arg == "--policy-config") {
      auto v = value("--policy-config");
      if (!v) return v.error();
      o.policy_config = *v;
    } else if (arg == "--prometheus" || arg == "--prometheus-ca-file" ||
               arg == "--prometheus-token-file") {
      auto v = value(arg.c_str());
      if (!v) return v.error();
      (arg == "--prometheus"           ? o.prometheus
       : arg == "--prometheus-ca-file" ? o.prometheus_ca_file
                                       : o.prometheus_token_file) = *v;
    } else if (arg == "--reason") {
      auto v = value("--reason");
      if (!v) return v.error();
      o.reason = *v;
    } else if (arg == "--wait") {
      std::string v = inline_value.value_or("true");
      if (v != "true" && v != "false")
        return usage_error("--wait: want true or false, got \"" + v + "\"");
      o.wait = v == "true";
    } else if (arg == "--timeout") {
      auto v = value("--timeout");
      if (!v) return v.error();
      auto d = parse_duration(*v);
      if (!d.ok()) return usage_error(fmt::format("--timeout \"{}\": {}", *v, d.error().message));
      o.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usage_error(fmt::format("unknown flag: {}", arg));
    } else if (o.command.empty()) {
      o.command = arg;
    } else {
      o.positional.push_back(arg);
    }
  }
  if (o.command.empty() || o.command == "help") {
    o.help = true;
    o.command = "help";
    return o;
  }
  static const std::vector<std::string> known = {"status", "explain", "plan", "pause", "resume"};
  if (std::find(known.begin(), known.end(), o.command) == known.end()) {
    return usage_error(fmt::format(
        "unknown command \"{}\" (want status, explain, plan, pause or resume)", o.command));
  }
  const std::size_t want = o.command == "explain" ? 1 : 0;
  if (!o.help && o.positional.size() != want) {
    return usage_error(want == 1 ? std::string("explain needs exactly one NODE")
                                 : fmt::format("{} takes no arguments, got \"{}\"", o.command,
                                               o.positional.front()));
  }
  if (!o.prometheus.empty() && o.command != "status") {
    return usage_error("--prometheus applies to status only");
  }
  if (!o.policy_config.empty() && o.command != "plan" && o.command != "explain") {
    return usage_error("--policy-config applies to plan and explain only");
  }
  return o;
}

}  // namespace joulie::cli
