#pragma once
// The operator's side of `kubectl joulie` (docs/kubectl-plugin.md): reading the pause switch, its
// metric and Events, and the state the operator publishes on its leader-election Lease.

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "joulie/common/clock.hpp"
#include "joulie/common/metrics.hpp"
#include "joulie/kube/api.hpp"
#include "joulie/operator/context.hpp"
#include "joulie/operator/reconciler.hpp"

namespace joulie::operator_mode {

// Whether this process may read the pause switch in `ns`: a GET of the ConfigMap that answers
// found or not found. Forbidden (RBAC from before the switch existed) or any other failure is
// logged as an error saying what is missing; the operator then runs without the switch rather
// than not at all, and publishes that (status: controlWatched false).
bool control_readable(kube::Api& api, const std::string& ns);

// Turns changes of the pause switch, as the passes see it, into the joulie_operator_paused gauge,
// one log line and one Event on the ConfigMap (OperatorPaused / OperatorResumed); and publishes
// the demand the pass saw (joulie_operator_performance_demand_pods, the dashboard's "supply vs
// demand"). Pass thread.
class PauseReporter {
 public:
  PauseReporter(metrics::Registry& registry, std::string ns, EventSink events);
  void observe(const Snapshot& snapshot);

 private:
  metrics::Family<metrics::Gauge>& gauge_;
  metrics::Family<metrics::Gauge>& demand_;
  std::string ns_;
  EventSink events_;
  std::optional<bool> last_;
};

// What the last pass found, as the JSON of the Lease annotation joulie.io/status.
struct PublishedStatus {
  bool control_watched = false;
  std::string control_namespace;
};
std::string status_json(const PassResult& result, const Snapshot& snapshot,
                        const PublishedStatus& extra, SystemTime now);

// The annotations the leader writes on its Lease with each renewal (thread-safe: the pass thread
// sets, the elector's thread reads).
class LeaseAnnotations {
 public:
  void set(const std::string& key, std::string value);
  std::map<std::string, std::string> get() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string> values_;
};

}  // namespace joulie::operator_mode
