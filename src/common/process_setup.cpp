#include "joulie/common/process_setup.hpp"

#include <cstdlib>

#include "joulie/common/log.hpp"
#include "joulie/common/metrics.hpp"

namespace joulie {

namespace {

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : std::string();
}

}  // namespace

metrics::Registry& process_registry() {
  metrics::Registry& registry = metrics::default_registry();
  registry.add_process_metrics();
  return registry;
}

PodIdentity pod_identity_from_environment(std::string_view fallback_namespace) {
  PodIdentity pod;
  pod.name = env_or_empty("POD_NAME");
  pod.ns = env_or_empty("POD_NAMESPACE");
  if (pod.ns.empty()) {
    pod.ns = std::string(fallback_namespace);
  }
  return pod;
}

std::unique_ptr<HttpEndpoint> serve_probes(std::string_view component, const std::string& address,
                                           const metrics::Registry& registry,
                                           ReadinessCheck readiness) {
  auto endpoint = std::make_unique<HttpEndpoint>(address, registry, std::move(readiness));
  if (Status s = endpoint->start(); !s.ok()) {
    log::error(component, "cannot serve metrics", {{"error", s.error()}});
    return nullptr;
  }
  log::info(component, "serving /metrics, /healthz, /readyz",
            {{"addr", address}, {"port", endpoint->port()}});
  return endpoint;
}

}  // namespace joulie
