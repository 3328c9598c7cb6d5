#pragma once
// The operator's signal sources (docs/design.md, "Context and signals"): the signal collector
// for the policy file's `signals` block, started off the reconcile path, and the Events for a
// source going down or coming back (on the operator's own Pod, when POD_NAME/POD_NAMESPACE say
// which; otherwise log lines only).

#include <functional>
#include <memory>
#include <string>

#include "joulie/kube/api.hpp"
#include "joulie/kube/events.hpp"
#include "joulie/policy/context.hpp"
#include "joulie/signals/collector.hpp"

namespace joulie::metrics {
class Registry;
}

namespace joulie::operator_mode {

struct SignalSourcesOptions {
  policy::SignalsConfig signals;
  metrics::Registry* metrics = nullptr;
  // Performance-sensitive pods cluster-wide now (the forecast model's demand history).
  std::function<double()> demand;
  bool record_events = true;  // false with --dry-run (writes nothing)
  std::string pod_name;       // the operator's Pod (POD_NAME); "" = no Events
  std::string pod_namespace;  // POD_NAMESPACE
  std::chrono::nanoseconds interval = std::chrono::seconds(15);
};

class SignalSources {
 public:
  SignalSources(kube::Api& api, SignalSourcesOptions options);
  ~SignalSources();
  SignalSources(const SignalSources&) = delete;
  SignalSources& operator=(const SignalSources&) = delete;

  ::joulie::signals::SignalCollector& collector() { return *collector_; }
  const ::joulie::signals::SignalCollector& collector() const { return *collector_; }

  // `once`: one round on the calling thread (a one-shot pass shows fresh signals; bounded by
  // the sources' timeouts); otherwise the collector's thread. No-op without configured signals
  // (a later reconfigure() with signals starts nothing by itself: call start() again).
  void start(bool once);
  void stop();
  // The policy file changed: new signals take effect at the next round (run at once); the
  // collector starts if it had nothing to collect before.
  void reconfigure(policy::SignalsConfig signals);

 private:
  SignalSourcesOptions options_;
  std::unique_ptr<kube::EventRecorder> recorder_;
  std::unique_ptr<::joulie::signals::SignalCollector> collector_;
  bool started_ = false;
  bool once_ = false;
  bool recorder_started_ = false;
};

}  // namespace joulie::operator_mode
