#pragma once
// The signal collector (docs/design.md#context-and-signals): runs the configured queries
// (Prometheus, an Open Inference Protocol model) on its own thread every `interval`, keeps the
// freshest sample per signal and node/zone, and hands out policy::Signals with sample time, source
// and health. A reconcile pass never waits on a source: fill() only reads what the last rounds
// left.
//
//   - A failed query keeps the previous samples: they stay usable until they are older than the
//     signal's maxAge (then `stale`), and a signal with nothing usable says why (`error` with the
//     source's message, `missing`).
//   - A successful query replaces the signal's samples: a node or zone the answer no longer
//     mentions is `missing`, a NaN/±Inf value is `missing`, several series for one node/zone (or
//     for a cluster-wide signal) are an `error` naming the count.
//   - Source health is one gauge per source (joulie_context_source_up{source}); a source going
//     down or coming back is one log line and one call of on_source_change (the operator makes
//     it an Event), not one per round.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "joulie/common/clock.hpp"
#include "joulie/common/http_client.hpp"
#include "joulie/common/result.hpp"
#include "joulie/policy/context.hpp"
#include "joulie/signals/promql.hpp"

namespace joulie::metrics {
class Registry;
template <typename M>
class Family;
class Gauge;
class Histogram;
}  // namespace joulie::metrics

namespace joulie::signals {

// One sample as the collector keeps it (node, zone or cluster).
struct SignalReading {
  double value = 0;
  SystemTime sampled_at{};
  policy::SignalHealth problem = policy::SignalHealth::ok;  // missing (NaN) or error
  std::string message;
};

// What one query gave, keyed by node or zone ("" for a cluster-wide signal: exactly one sample
// expected). Pure; exposed for tests. An invalid instance_regex is Errc::invalid_argument.
// Series without the mapping label are ignored; several series for one key are an error
// reading naming the count; NaN/±Inf are missing readings.
Result<std::map<std::string, SignalReading>> readings_by_node(
    const std::vector<PromSample>& samples, const policy::NodeSignalConfig& config);
std::map<std::string, SignalReading> readings_by_zone(const std::vector<PromSample>& samples,
                                                      const std::string& zone_label);

// The names signals have in logs, metrics and `--output json` (the keys of the signals block).
inline constexpr const char* kNodeTemperature = "nodeTemperature";
inline constexpr const char* kNodePower = "nodePower";
inline constexpr const char* kPue = "pue";
inline constexpr const char* kAmbient = "ambient";
inline constexpr const char* kDemandForecast = "demandForecast";

struct CollectorOptions {
  std::chrono::nanoseconds interval = std::chrono::seconds(15);
  metrics::Registry* metrics = nullptr;
  const Clock* clock = nullptr;  // RealClock when null
  // Performance-sensitive pods cluster-wide now: the forecast model's demand history is sampled
  // from it once per round. Must be thread-safe and cheap.
  std::function<double()> demand;
  // A source went down (up = false, with why) or came back (up = true).
  std::function<void(const std::string& source, bool up, const std::string& message)>
      on_source_change;
  // Test seam: waits between the retry of a failed Prometheus query.
  std::chrono::milliseconds prometheus_retry_delay{200};
};

class SignalCollector {
 public:
  SignalCollector(policy::SignalsConfig config, CollectorOptions options);
  ~SignalCollector();
  SignalCollector(const SignalCollector&) = delete;
  SignalCollector& operator=(const SignalCollector&) = delete;

  // Starts the collection thread (the first round runs at once). No-op when already running.
  void start();
  void stop();

  // New configuration (policy file reloaded). Samples of signals whose query or source changed
  // are dropped; the next round runs at once. Thread-safe.
  void reconfigure(policy::SignalsConfig config);

  // One round on the calling thread (the thread uses it; `--once` and tests call it directly).
  void collect_once();

  // Writes every configured signal into `context` at context.now: per node (power,
  // temperature) for context.nodes, per zone or cluster (pue, ambient), demand_forecast.
  // Signals that are not configured are left as they are (missing). Thread-safe, no I/O.
  void fill(policy::Context& context) const;

  // Rounds completed so far (tests wait on it).
  std::uint64_t rounds() const { return rounds_.load(); }

 private:
  struct SignalState {
    std::string source;                           // "prometheus" or "kserve"
    std::map<std::string, SignalReading> by_key;  // node, zone, or "" for a cluster-wide value
    bool answered = false;                        // at least one successful query
    std::optional<std::string> last_error;        // of the last attempt; reset by a success
    std::chrono::nanoseconds max_age{};
  };
  void run();
  policy::Signal signal_for(const SignalState& state, const std::string& key, SystemTime now) const;
  void note_source(const std::string& source, bool up, const std::string& message);
  void update_ages(SystemTime now) const;  // callers hold mutex_

  CollectorOptions options_;
  const Clock& clock_;
  HttpClientPool pool_;
  metrics::Family<metrics::Gauge>* source_up_ = nullptr;
  metrics::Family<metrics::Gauge>* signal_age_ = nullptr;
  metrics::Family<metrics::Histogram>* query_duration_ = nullptr;

  mutable std::mutex mutex_;  // config_, states_, history_, source_state_
  policy::SignalsConfig config_;
  std::uint64_t config_generation_ = 0;
  std::map<std::string, SignalState> states_;
  std::vector<double> history_;               // demand samples for the forecast model, oldest first
  std::map<std::string, bool> source_state_;  // last known up/down per source
  std::shared_ptr<PromClient> prometheus_;    // rebuilt when signals.prometheus changes

  std::mutex round_mutex_;  // one round at a time
  std::atomic<std::uint64_t> rounds_{0};
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool wake_now_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace joulie::signals
