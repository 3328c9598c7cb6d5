#pragma once
// `kubectl joulie status`: what the plugin reads (nodes, the operator's NodePowerProfiles, pods,
// the Lease with the operator's published state, the pause switch) turned into one view. The
// view is built by a pure function from the API objects, so it is unit-tested without a server.

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <vector>

#include "joulie/common/clock.hpp"
#include "options.hpp"

namespace joulie::cli {

struct NodeRow {
  std::string name;
  std::string state;    // ActivePerformance | DrainingPerformance | ActiveEco (from the label)
  std::string label;    // "-" when absent
  std::string pin;      // joulie.io/pin, "" when absent
  std::string profile;  // NodePowerProfile spec.profile
  std::optional<double> cap;          // spec.cpu.packagePowerCapWatts (desired)
  std::optional<double> applied_cap;  // status.appliedCapWatts (the agent's report)
  std::string result;                 // status.result; "pending" while behind the spec
  std::string backend;                // status.backend
  std::string message;                // status.message
  bool reported = false;              // the agent has written a status for the current spec
  std::int64_t perf_pods = 0;
  // In this state since: the operator's memory (joulie.io/state-since, read as the operator
  // reads it), else draining-since for a draining node, else the agent's Applied condition.
  std::optional<SystemTime> since;
  std::optional<double> power;  // measured package power (watts), from Prometheus when asked
};

struct SignalRow {
  std::string name, health, source;
};

struct StatusView {
  std::vector<NodeRow> nodes;
  // The pause switch as stored (joulie-control) and as the operator last acted on it.
  bool paused = false;
  std::string paused_by, pause_reason, paused_at;
  // The operator's published state (Lease joulie.io/status); absent when no operator published.
  bool published = false;
  std::string leader;
  std::optional<SystemTime> renewed;
  std::optional<SystemTime> last_pass;
  double pass_seconds = 0;
  std::string policy, window, time_zone;
  bool operator_paused = false;
  bool control_watched = true;
  std::int64_t planned_performance = 0;
  std::vector<std::string> reasons;
  std::vector<SignalRow> signals;
  // Supply (nodes labelled performance) and demand (performance-sensitive pods, pending ones
  // included), counted here from the API.
  std::int64_t supply = 0;
  std::int64_t demand = 0;
  std::int64_t pending = 0;
  std::vector<std::string> not_reported;
  // Measured power: the Prometheus asked (--prometheus; empty: not asked) and why it gave
  // nothing ("" when it answered).
  std::string power_source, power_error;
};

struct StatusInputs {
  const rapidjson::Value* nodes = nullptr;    // NodeList
  const rapidjson::Value* npps = nullptr;     // NodePowerProfileList
  const rapidjson::Value* pods = nullptr;     // PodList (null: pods not read)
  const rapidjson::Value* lease = nullptr;    // null: no Lease
  const rapidjson::Value* control = nullptr;  // null: no joulie-control ConfigMap
};

StatusView build_status(const StatusInputs& in);

// The measured package power per node, as the dashboard's "Per-node cap vs applied vs measured"
// panel reads it: the agents' RAPL or DVFS gauges, else the power simulator's.
inline constexpr const char* kMeasuredPowerQuery =
    "max by (node) (joulie_rapl_package_total_power_watts or joulie_dvfs_observed_power_watts or "
    "joulie_sim_node_package_power_watts)";
// Fills NodeRow::power from (node label, watts) samples; non-finite values stay unknown.
void set_measured_power(StatusView& view, const std::vector<std::pair<std::string, double>>& w);

std::string render_status(const StatusView& view, Output output, SystemTime now);

}  // namespace joulie::cli
