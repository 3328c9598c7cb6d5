#include "joulie/operator/signal_sources.hpp"

#include "joulie/common/log.hpp"

namespace joulie::operator_mode {

SignalSources::SignalSources(kube::Api& api, SignalSourcesOptions options)
    : options_(std::move(options)) {
  if (options_.record_events && !options_.pod_name.empty() && !options_.pod_namespace.empty()) {
    kube::EventRecorderOptions event_options;
    event_options.component = "joulie-operator";
    recorder_ = std::make_unique<kube::EventRecorder>(api, event_options);
  }
  ::joulie::signals::CollectorOptions collector_options;
  collector_options.interval = options_.interval;
  collector_options.metrics = options_.metrics;
  collector_options.demand = options_.demand;
  collector_options.on_source_change = [this](const std::string& source, bool up,
                                              const std::string& message) {
    if (!recorder_) {
      return;
    }
    kube::NodeRef pod{options_.pod_name, "", "Pod", options_.pod_namespace};
    if (up) {
      recorder_->record(pod, kube::EventType::normal, "ContextSourceUp",
                        "context source " + source + " answers again");
    } else {
      recorder_->record(pod, kube::EventType::warning, "ContextSourceDown",
                        "context source " + source + " is down: " + message);
    }
  };
  collector_ =
      std::make_unique<::joulie::signals::SignalCollector>(options_.signals, collector_options);
}

SignalSources::~SignalSources() { stop(); }

void SignalSources::start(bool once) {
  once_ = once;
  started_ = true;
  if (!options_.signals.any()) {
    return;
  }
  if (recorder_ && !recorder_started_) {
    recorder_->start();
    recorder_started_ = true;
  }
  if (once) {
    collector_->collect_once();
    return;
  }
  collector_->start();
}

void SignalSources::reconfigure(policy::SignalsConfig signals) {
  bool had = options_.signals.any();
  options_.signals = signals;
  collector_->reconfigure(std::move(signals));
  if (started_ && !had && options_.signals.any()) {
    start(once_);
  }
}

void SignalSources::stop() {
  collector_->stop();
  if (recorder_ && recorder_started_) {
    recorder_->flush(std::chrono::seconds(5));
    recorder_->stop();
    recorder_started_ = false;
  }
}

}  // namespace joulie::operator_mode
