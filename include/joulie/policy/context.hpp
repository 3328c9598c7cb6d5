#pragma once
// What a policy may see (docs/design.md#the-policy-snapshot): one value type, built by the
// operator's ContextProvider from the informer caches and the context sources (Prometheus, an Open
// Inference Protocol model), and handed to the PolicyModule. Policies never do I/O: everything
// reaches them here, each telemetry value with its sample time, source and health.
//
// This header is the contract between the signal sources (src/signals, src/operator) and the
// policies (src/policy); both sides code against it.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "joulie/common/clock.hpp"
#include "joulie/common/duration.hpp"
#include "joulie/policy/guard.hpp"
#include "joulie/policy/packing.hpp"

namespace joulie::policy {

// ---- signals -----------------------------------------------------------------------------------

// ok: a finite value sampled within maxAge. stale: the freshest sample is older than maxAge.
// missing: no sample at all (no series, NaN/±Inf, source not configured or never answered).
// error: the source answered with an error (status:error, several series where one was
// expected, a malformed reply, a model not ready). Only `ok` carries a usable value: a signal in
// any other health is **missing** for a policy, never zero.
enum class SignalHealth { ok, stale, missing, error };
std::string_view to_string(SignalHealth health);  // "ok", "stale", "missing", "error"

struct Signal {
  double value = 0;         // meaningful only when health == ok
  SystemTime sampled_at{};  // the sample's own timestamp (not the query time)
  std::string source;       // "prometheus", "kserve", "" when not configured
  SignalHealth health = SignalHealth::missing;
  std::string message;  // why it is not ok (empty when ok)

  bool usable() const { return health == SignalHealth::ok; }
  std::optional<double> get() const {
    return usable() ? std::optional<double>(value) : std::nullopt;
  }
};

// Age of the sample at `now`, in seconds (0 for a sample from the future).
double age_seconds(const Signal& signal, SystemTime now);

// ---- nodes and workloads ------------------------------------------------------------------------

// Pods by class (docs/design.md#pod-classification), counted pods only (not terminating, not
// finished).
struct ClassCounts {
  std::int64_t performance_only = 0;
  std::int64_t eco_only = 0;
  std::int64_t general = 0;
  std::int64_t unknown = 0;

  std::int64_t perf_sensitive() const { return performance_only + unknown; }
  bool operator==(const ClassCounts&) const = default;
};

struct NodeContext {
  std::string name;
  std::string zone;            // topology.kubernetes.io/zone (key configurable), "" if none
  std::string rack;            // rack label (key configurable), "" if none
  double allocatable_cpu = 0;  // cores, from status.allocatable.cpu (0 when unknown)
  NodeState state = NodeState::active_performance;  // from the node's current label
  std::int64_t perf_pods = 0;                       // performance-sensitive pods on the node
  ClassCounts pods;                                 // counted pods on the node by class
  std::optional<SystemTime> last_transition;        // last state change the operator saw or made
  Signal power_watts;                               // signals.nodePower
  Signal temperature_celsius;                       // signals.nodeTemperature
  // Supply that fits demand: the node as the scheduler sees it (labels, taints, allocatable;
  // `requested` may be left 0 and given in `bound`). Null when the operator does not project it,
  // which switches fit-aware demand and hardware classes off for the pass.
  std::shared_ptr<const NodeFitView> fit = nullptr;
  Resources bound = {};                                    // requests of the pods bound to the node
  std::optional<double> package_max_watts = std::nullopt;  // its NPP's status.packageMaxPowerWatts
};

struct WorkloadContext {
  ClassCounts cluster;                      // every counted pod, scheduled or pending
  std::int64_t pending_perf_sensitive = 0;  // performance-sensitive pods not yet on a node
  // Those pending pods with what they require of a node (fit-aware demand). Empty when the
  // operator does not project requirements: demand is then the count above.
  std::vector<PendingPod> pending_perf;
};

// The pass's wall-clock time in the configured IANA time zone.
struct LocalTime {
  std::string time_zone = "UTC";
  int year = 1970;
  int month = 1;          // 1..12
  int day = 1;            // 1..31
  int weekday = 3;        // 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday)
  int minute_of_day = 0;  // 0..1439, local wall clock
  int second = 0;
  int utc_offset_seconds = 0;
  std::string abbreviation = "UTC";  // "CET", "CEST", …
};

struct Context {
  std::vector<NodeContext> nodes;  // the managed nodes, sorted byte-wise by name
  WorkloadContext workloads;
  bool pods_known = false;  // pod cache synced and healthy
  SystemTime now{};
  LocalTime local;
  Signal pue;                              // cluster-wide (no zoneLabel configured)
  std::map<std::string, Signal> zone_pue;  // per zone (zoneLabel configured)
  Signal ambient_celsius;                  // cluster-wide
  std::map<std::string, Signal> zone_ambient_celsius;
  Signal demand_forecast;  // performance-sensitive pods expected at now + horizon
  // The power-profile label key: fit-aware demand reads it as `performance` on a candidate.
  std::string profile_label = "joulie.io/power-profile";
};

// ---- configuration of the signals (the `signals:` block of docs/design.md#policy-file) ---------

struct PrometheusConfig {
  std::string endpoint;           // "http://prometheus.monitoring:9090"
  std::string ca_file;            // HTTPS: CA bundle; empty: system default verification
  std::string bearer_token_file;  // re-read like the service-account token
  Duration timeout = std::chrono::seconds(5);
};

// A per-node signal: the result vector is mapped to nodes by `node_label`, or by `instance`
// (label `instance_label`) through `instance_regex` whose first capture group is the node name.
struct NodeSignalConfig {
  std::string query;
  std::string node_label = "node";
  std::string instance_label;  // empty: use node_label
  std::string instance_regex;  // empty: the label's value is the node name
  Duration max_age = std::chrono::minutes(2);
};

// A cluster- or zone-wide signal: without zone_label the query must give one sample.
struct ScopeSignalConfig {
  std::string query;
  std::string zone_label;  // empty: one cluster-wide value
  Duration max_age = std::chrono::minutes(5);
};

// An Open Inference Protocol v2 model (KServe, Triton, MLServer).
struct KServeConfig {
  std::string endpoint;  // base URL; requests go to {endpoint}/v2/models/{model}/...
  std::string model;
  Duration timeout = std::chrono::seconds(2);
};

struct ForecastConfig {
  std::string query;                   // PromQL (e.g. predict_linear), or
  std::optional<KServeConfig> kserve;  // a model; exactly one of the two is set
  Duration max_age = std::chrono::minutes(5);
  double headroom = 1.0;
};

struct SignalsConfig {
  std::optional<PrometheusConfig> prometheus;
  std::optional<NodeSignalConfig> node_temperature;
  std::optional<NodeSignalConfig> node_power;
  std::optional<ScopeSignalConfig> pue;
  std::optional<ScopeSignalConfig> ambient;
  std::optional<ForecastConfig> demand_forecast;

  bool any() const { return node_temperature || node_power || pue || ambient || demand_forecast; }
};

}  // namespace joulie::policy
