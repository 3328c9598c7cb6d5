#include "joulie/kube/connect.hpp"

#include "joulie/common/log.hpp"
#include "joulie/common/process_setup.hpp"
#include "joulie/common/strings.hpp"
#include "joulie/config/global.hpp"
#include "joulie/kube/config.hpp"

namespace joulie::kube {

ConnectOptions connect_options(std::string component, const config::GlobalConfig& global,
                               metrics::Registry& registry) {
  ConnectOptions options;
  options.component = std::move(component);
  options.kubeconfig = global.kubeconfig;
  options.context = global.context;
  options.client.qps = global.kube_qps;
  options.client.burst = global.kube_burst;
  options.client.metrics = &registry;
  return options;
}

std::optional<ClusterConnection> connect(const ConnectOptions& options) {
  auto cluster =
      load_config(ConfigSources::from_environment(join(options.kubeconfig, ':'), options.context));
  if (!cluster.ok()) {
    log::error(options.component, "cannot load the Kubernetes configuration",
               {{"error", cluster.error()}});
    return std::nullopt;
  }
  ClusterConnection c;
  c.default_namespace = cluster->default_namespace;
  auto client = Client::create(std::move(*cluster), options.client);
  if (!client.ok()) {
    log::error(options.component, "cannot create the Kubernetes client",
               {{"error", client.error()}});
    return std::nullopt;
  }
  c.client = std::move(*client);
  auto probe_client = make_probe_client(c.client->config(), options.probe_timeout);
  if (!probe_client.ok()) {
    log::error(options.component, "cannot create the Kubernetes client",
               {{"error", probe_client.error()}});
    return std::nullopt;
  }
  c.probe_client = std::move(*probe_client);
  LivenessOptions liveness;
  liveness.resource = options.liveness_resource;
  liveness.component = options.component;
  liveness.metrics = options.client.metrics;
  c.liveness = std::make_unique<ApiLiveness>(*c.probe_client, liveness);
  return c;
}

std::unique_ptr<HttpEndpoint> serve_probes(ClusterConnection& connection,
                                           std::string_view component, const std::string& address,
                                           const metrics::Registry& registry,
                                           ReadinessCheck ready) {
  auto endpoint = joulie::serve_probes(component, address, registry,
                                       ready_unless_stale(*connection.liveness, std::move(ready)));
  if (endpoint) {
    connection.liveness->start();
  }
  return endpoint;
}

bool start_probes(bool once, ClusterConnection& connection, std::string_view component,
                  const std::string& address, const metrics::Registry& registry,
                  ReadinessCheck ready, std::unique_ptr<HttpEndpoint>& endpoint) {
  if (once) {
    return true;
  }
  endpoint = serve_probes(connection, component, address, registry, std::move(ready));
  return endpoint != nullptr;
}

}  // namespace joulie::kube
