#pragma once
// Connecting a long-running process (`joulie operator`, `joulie agent`) to the API server: the
// kubeconfig, the client, and the API-server liveness probe on a client of its own (a short
// timeout, so a silent server is noticed while the main client's requests still wait). One
// place, so the two processes cannot drift apart.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "joulie/common/http_endpoint.hpp"
#include "joulie/kube/api.hpp"
#include "joulie/kube/client.hpp"
#include "joulie/kube/liveness.hpp"

namespace joulie::config {
struct GlobalConfig;
}

namespace joulie::kube {

struct ConnectOptions {
  std::string component;                // "operator" or "agent": the log lines' component
  std::vector<std::string> kubeconfig;  // --kubeconfig paths (joined with ':'); empty = default
  std::string context;                  // --context; empty = the current context
  ClientOptions client;
  Resource liveness_resource;  // what the liveness probe lists (limit=1)
  std::chrono::milliseconds probe_timeout{5000};
};

// The options both processes take from their shared flags (--kubeconfig, --context,
// --kube-qps, --kube-burst) and their metrics registry; each then sets what is its own.
ConnectOptions connect_options(std::string component, const config::GlobalConfig& global,
                               metrics::Registry& registry);

struct ClusterConnection {
  std::string default_namespace;  // the kubeconfig's namespace
  std::unique_ptr<Client> client;
  std::unique_ptr<Client> probe_client;
  std::unique_ptr<ApiLiveness> liveness;  // not started
};

// nullopt after one error log line that says what failed (the caller exits with a runtime
// error).
std::optional<ClusterConnection> connect(const ConnectOptions& options);

// /metrics, /healthz and /readyz on `address`, ready when `ready` says so and the API server
// answers; starts the liveness probe. nullptr after one error log line (the caller exits with a
// runtime error).
std::unique_ptr<HttpEndpoint> serve_probes(ClusterConnection& connection,
                                           std::string_view component, const std::string& address,
                                           const metrics::Registry& registry, ReadinessCheck ready);

// The probes of a long-running process into `endpoint`; a one-shot run (`once`) serves none.
// False (after serve_probes' error line) only when the address cannot be served.
bool start_probes(bool once, ClusterConnection& connection, std::string_view component,
                  const std::string& address, const metrics::Registry& registry,
                  ReadinessCheck ready, std::unique_ptr<HttpEndpoint>& endpoint);

}  // namespace joulie::kube
