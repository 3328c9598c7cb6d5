// Configuration source order (docs/design.md#kubernetes-access): kubeconfig flag/env, in-cluster,
// ~/.kube/config.
#include <fmt/format.h>

#include <cstdlib>

#include "joulie/kube/config.hpp"
#include "joulie/kube/file_util.hpp"

namespace joulie::kube {

namespace {

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

std::string trim(std::string s) {
  const size_t end = s.find_last_not_of(" \t\r\n");
  s.erase(end == std::string::npos ? 0 : end + 1);
  const size_t begin = s.find_first_not_of(" \t\r\n");
  return begin == std::string::npos ? std::string() : s.substr(begin);
}

}  // namespace

ConfigSources ConfigSources::from_environment(std::string flag_kubeconfig,
                                              std::string flag_context) {
  ConfigSources s;
  s.kubeconfig = flag_kubeconfig.empty() ? env_or_empty("KUBECONFIG") : std::move(flag_kubeconfig);
  s.context = std::move(flag_context);
  s.service_host = env_or_empty("KUBERNETES_SERVICE_HOST");
  s.service_port = env_or_empty("KUBERNETES_SERVICE_PORT");
  s.home = env_or_empty("HOME");
  return s;
}

Result<ClusterConfig> load_in_cluster(const ConfigSources& sources) {
  if (sources.service_host.empty() || sources.service_port.empty()) {
    return Error(Errc::invalid_argument,
                 "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  }
  ClusterConfig out;
  out.source = "in-cluster";
  const bool ipv6 = sources.service_host.find(':') != std::string::npos;
  out.server = fmt::format("https://{}{}{}:{}", ipv6 ? "[" : "", sources.service_host,
                           ipv6 ? "]" : "", sources.service_port);
  const std::string dir = sources.service_account_dir;
  out.token_file = dir + "/token";
  // Read once now so a missing service account fails at start-up, not at the first request.
  auto token = read_small_file(out.token_file, 1u << 20);
  if (!token.ok()) {
    return Error(Errc::io, "in-cluster: " + token.error().message);
  }
  out.token = trim(std::move(token.value()));
  auto ca = read_small_file(dir + "/ca.crt");
  if (!ca.ok()) {
    return Error(Errc::io, "in-cluster: " + ca.error().message);
  }
  out.ca_pem = std::move(ca.value());
  if (auto ns = read_small_file(dir + "/namespace", 4096); ns.ok()) {
    if (std::string n = trim(std::move(ns.value())); !n.empty()) {
      out.default_namespace = n;
    }
  }
  return out;
}

Result<ClusterConfig> load_config(const ConfigSources& sources) {
  if (!sources.kubeconfig.empty()) {
    return load_kubeconfig(sources.kubeconfig, sources.context);
  }
  if (!sources.service_host.empty()) {
    return load_in_cluster(sources);
  }
  if (!sources.home.empty()) {
    const std::string home_config = sources.home + "/.kube/config";
    if (file_exists(home_config)) {
      return load_kubeconfig(home_config, sources.context);
    }
  }
  return Error(Errc::invalid_argument,
               "no Kubernetes configuration: set --kubeconfig or KUBECONFIG, run in a pod "
               "(KUBERNETES_SERVICE_HOST), or create ~/.kube/config");
}

}  // namespace joulie::kube
