#pragma once
// Set-up shared by the long-running processes (`joulie operator`, `joulie agent`): the probe and
// metrics endpoint and the Pod the process runs in. One place, so the two cannot drift apart
// (they did: the operator once read POD_NAME twice with two namespace fallbacks).

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "joulie/common/duration.hpp"
#include "joulie/common/http_endpoint.hpp"
#include "joulie/common/log.hpp"

namespace joulie::metrics {
class Registry;
}

namespace joulie {

// The Pod this process runs in, from the downward API.
// The process-wide metrics registry with the process metrics (CPU, RSS, threads, ...) added.
metrics::Registry& process_registry();

struct PodIdentity {
  std::string name;  // POD_NAME; "" outside a Pod (a local run): no Events about ourselves
  std::string ns;    // POD_NAMESPACE, else `fallback_namespace` (the kubeconfig's namespace)
};
PodIdentity pod_identity_from_environment(std::string_view fallback_namespace);

// /metrics, /healthz and /readyz on `address`, started. nullptr (after one error log line from
// `component`) when the address cannot be served; the caller exits with a runtime error.
std::unique_ptr<HttpEndpoint> serve_probes(std::string_view component, const std::string& address,
                                           const metrics::Registry& registry,
                                           ReadinessCheck readiness);

// Ready once `source` (what owns the informer caches) reports them synced; otherwise the reason
// names what is still missing. `source` must outlive the endpoint.
template <typename Source>
ReadinessCheck ready_when_synced(Source& source) {
  return [&source] {
    if (source.synced()) {
      return Readiness{true, ""};
    }
    return Readiness{false, "caches not synced: " + source.sync_status()};
  };
}

// How a wait for the caches ended.
enum class SyncWait { synced, stopped, timed_out };

// Waits until `source` reports its caches synced, in 100 ms slices so that `stopping` ends the
// wait at once; no `timeout` waits as long as it takes.
template <typename Source>
SyncWait wait_until_synced(Source& source, const std::atomic<bool>& stopping,
                           std::optional<std::chrono::steady_clock::duration> timeout) {
  const auto start = std::chrono::steady_clock::now();
  while (!source.wait_synced(std::chrono::milliseconds(100))) {
    if (stopping) {
      return SyncWait::stopped;
    }
    if (timeout && std::chrono::steady_clock::now() - start >= *timeout) {
      return SyncWait::timed_out;
    }
  }
  return SyncWait::synced;
}

// wait_until_synced, plus what both processes do when the wait ends without the caches: stop
// `source` (its informers), and after a time-out log one error line from `component` naming what
// has not synced. Returns how the wait ended; the caller picks the exit status.
template <typename Source>
SyncWait sync_or_stop(std::string_view component, Source& source, const std::atomic<bool>& stopping,
                      std::optional<std::chrono::steady_clock::duration> timeout) {
  const SyncWait how = wait_until_synced(source, stopping, timeout);
  if (how == SyncWait::timed_out) {
    log::error(component,
               "caches did not sync in time; is the API server reachable and are the CRDs "
               "installed?",
               {{"timeout", format_duration(std::chrono::duration_cast<Duration>(*timeout))},
                {"synced", source.sync_status()}});
  }
  if (how != SyncWait::synced) {
    source.stop();
  }
  return how;
}

}  // namespace joulie
