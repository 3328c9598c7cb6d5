#pragma once
// What the agent knows about the cluster, and what it means for one node
// (docs/design.md#nodepowerprofile, #telemetryprofile): the NodePowerProfiles indexed by
// spec.nodeName, the TelemetryProfiles, and per node the winning NodePowerProfile (conflicts named)
// and the resolved TelemetryProfile. Fed by the informer callbacks; read by the node workers.
// Thread-safe.

#include <rapidjson/document.h>

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "joulie/api/types.hpp"

namespace joulie::agent {

// A NodePowerProfile as the agent caches it. Objects that fail validation (the API server may
// not have the CRD schema, or an older one) are kept with the reason in `invalid`, so that the
// agent can report the problem on the object instead of ignoring it.
struct NppEntry {
  api::NodePowerProfile npp;  // partial (metadata + spec.nodeName) when invalid
  std::string invalid;

  bool operator==(const NppEntry& other) const;
};

// Projection for the NodePowerProfile informer. `only_node` non-empty keeps only objects for
// that node (the fallback when the field selector is refused,
// docs/design.md#what-the-agent-watches). Objects without a usable metadata.name or spec.nodeName
// are left out (nothing to report them on).
std::optional<NppEntry> project_node_power_profile(const rapidjson::Value& object,
                                                   std::string_view only_node);

struct TpEntry {
  api::TelemetryProfile tp;
  bool operator==(const TpEntry& other) const;
};

// Projection for the TelemetryProfile informer; invalid objects are left out (logged).
std::optional<TpEntry> project_telemetry_profile(const rapidjson::Value& object);

// Everything one node's worker needs for a pass.
struct NodeInputs {
  std::optional<api::NodePowerProfile> profile;  // the winner; empty: no object for the node
  std::string profile_invalid;                   // why the winner is unusable
  std::vector<std::string> conflicting;          // other objects for the node, by name
  // Every object for the node not named node-<node>: never applied, reported as not applied.
  std::vector<api::NodePowerProfile> foreign;
  std::optional<api::TelemetryProfile> telemetry;
  std::vector<std::string> duplicate_telemetry;  // other node-scoped profiles for the node
};

class DesiredState {
 public:
  // Each returns the nodes whose inputs may have changed.
  std::vector<std::string> upsert_node_power_profile(const NppEntry& entry);
  std::vector<std::string> remove_node_power_profile(const std::string& name);
  // TelemetryProfile changes can concern any node (cluster scope): callers wake every node.
  void upsert_telemetry_profile(const TpEntry& entry);
  void remove_telemetry_profile(const std::string& name);

  NodeInputs inputs_for(const std::string& node) const;
  std::size_t node_power_profiles() const;

 private:
  void rebuild_telemetry_locked();

  mutable std::mutex mutex_;
  std::map<std::string, NppEntry> npps_;                  // by object name
  std::map<std::string, std::set<std::string>> by_node_;  // spec.nodeName → object names
  std::map<std::string, api::TelemetryProfile> tps_;      // by object name
  std::vector<api::TelemetryProfile> tp_list_;            // tps_ in name order
};

}  // namespace joulie::agent
