#pragma once
// Where the client's connection settings come from (docs/design.md#kubernetes-access): --kubeconfig
// / KUBECONFIG (several files separated by ':', merged like kubectl), then in-cluster
// service-account files, then ~/.kube/config. The result is one ClusterConfig: plain data,
// credentials already loaded into memory (files are read here; token files are re-read later by the
// client).

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "joulie/common/result.hpp"

namespace joulie::kube {

// A client.authentication.k8s.io exec credential plugin (kubeconfig users[].user.exec).
struct ExecConfig {
  std::string api_version;  // client.authentication.k8s.io/v1 or /v1beta1
  std::string command;      // relative paths with a '/' resolve against the kubeconfig's dir
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  bool provide_cluster_info = false;
  std::string interactive_mode;  // Never | IfAvailable | Always (we never have a terminal)
};

struct ClusterConfig {
  std::string server;  // https://host:port or http://host:port, no trailing slash
  // TLS: PEM text loaded from certificate-authority(-data); empty means the system default store.
  std::string ca_pem;
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;  // SNI and the name the server certificate must carry
  std::string client_cert_pem;
  std::string client_key_pem;
  // Authentication (at most one is used: exec, else token_file (re-read), else token).
  std::string token;
  std::string token_file;
  std::optional<ExecConfig> exec;
  std::string default_namespace = "default";
  std::string source;  // for logs: "kubeconfig /x/config (context kind-joulie)" or "in-cluster"
};

struct ConfigSources {
  std::string kubeconfig;  // --kubeconfig, else $KUBECONFIG; ':'-separated list
  std::string context;     // --context; empty: current-context
  // In-cluster: $KUBERNETES_SERVICE_HOST / _PORT and the service-account directory.
  std::string service_host;
  std::string service_port;
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  std::string home;  // $HOME, for ~/.kube/config

  // Fills kubeconfig (when flag_kubeconfig is empty), service host/port and home from the
  // process environment. Flags win over environment variables.
  static ConfigSources from_environment(std::string flag_kubeconfig, std::string flag_context);
};

// Errors: Errc::io (unreadable file, naming it), Errc::parse (broken YAML with file:line, bad
// base64 naming the field), Errc::invalid_argument (missing context/cluster/user, no server, no
// configuration source at all).
Result<ClusterConfig> load_config(const ConfigSources& sources);

// Only the kubeconfig files (':'-separated), merged: map entries (clusters, users, contexts by
// name) from the first file that defines them, current-context from the first file that sets it.
// A listed file that does not exist is skipped like kubectl does, unless none exists.
Result<ClusterConfig> load_kubeconfig(const std::string& paths, const std::string& context);

// In-cluster service-account configuration.
Result<ClusterConfig> load_in_cluster(const ConfigSources& sources);

}  // namespace joulie::kube
