#pragma once
// One node's control loop step: desired state in (NodeInputs), hardware or simulator touched
// through the NodeActuator, status and metrics out. Called by one worker at a time.
//
//   - No NodePowerProfile named node-<node>: the host is left alone; if the agent had applied
//     something (the object was deleted), the original settings are restored. Objects for the
//     node under any other name are never applied; their status says so.
//   - A NodePowerProfile: its cap (per package; none = release) is applied through the route
//     the TelemetryProfile chooses, on every change at once and otherwise every interval; in
//     between, only the host energy counters are sampled (at least every 30 s).
//   - --simulate-only: nothing is touched; status says (none, applied, "simulate-only").

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "joulie/agent/actuator.hpp"
#include "joulie/agent/agent_metrics.hpp"
#include "joulie/agent/desired_state.hpp"
#include "joulie/agent/reporting.hpp"

namespace joulie::agent {

inline constexpr std::chrono::seconds kMaxSamplePeriod{30};

struct NodeControllerContext {
  ActuatorContext actuator;
  bool simulate_only = false;
  std::chrono::nanoseconds interval = std::chrono::seconds(20);
  StatusWriter* status = nullptr;   // null: no status written
  AgentMetrics* metrics = nullptr;  // null: no metrics
};

enum class StepKind { idle, sampled, applied, released };

struct StepResult {
  StepKind kind = StepKind::idle;
  std::optional<ControlOutcome> outcome;  // for applied / released
};

class NodeController {
 public:
  NodeController(std::string node, NodeControllerContext context);

  // `force`: the node's objects changed (or a one-shot pass): apply now.
  StepResult step(const NodeInputs& inputs, bool force, SteadyTime now);

  // Restores the node if anything was applied (shutdown, node dropped). Returns the outcome,
  // or nullopt when there was nothing to restore. A failure sets joulie_agent_restore_pending
  // and says "NOT restored" in the profile's status; the settings stay held for a retry.
  std::optional<ControlOutcome> release();

  const std::string& node() const { return node_; }
  bool holds_settings() const { return holds_settings_; }
  const NodeActuator& actuator() const { return actuator_; }

 private:
  ControlOutcome apply(const NodeInputs& inputs);
  void report(const NodeInputs& inputs, const ControlOutcome& outcome);
  void log_outcome(const ControlOutcome& outcome);
  void sample_thermal();
  // Status "not applied" on every object for the node that is not node-<node>.
  void report_foreign(const NodeInputs& inputs);

  std::string node_;
  NodeControllerContext context_;
  NodeActuator actuator_;
  bool holds_settings_ = false;                        // something may be applied on the node
  std::string reported_profile_;                       // NodePowerProfile last reported on
  std::optional<api::NodePowerProfile> last_profile_;  // for "not restored" status on shutdown
  std::set<std::string> foreign_reported_;             // non-canonical objects last reported on
  std::optional<SteadyTime> next_apply_;
  std::optional<SteadyTime> next_sample_;
  std::optional<ControlOutcome> last_outcome_;
  std::string last_simulated_;
  std::string last_warning_;
  std::string last_thermal_problem_;
};

}  // namespace joulie::agent
