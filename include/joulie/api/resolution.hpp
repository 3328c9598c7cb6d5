#pragma once
// Which object applies to a node: the desired NodePowerProfile (docs/design.md#nodepowerprofile)
// and the TelemetryProfile (docs/design.md#telemetryprofile), plus {node} templating of endpoints.
// Pure functions over decoded objects; the returned pointers point into the caller's span.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "joulie/api/types.hpp"

namespace joulie::api {

struct ProfileSelection {
  const NodePowerProfile* winner = nullptr;     // nullptr: no canonical object for this node
  std::vector<const NodePowerProfile*> losers;  // other objects for the node, sorted by name
  bool conflict() const { return !losers.empty(); }
};

// Only objects with spec.nodeName == node count. The one carrying the node's canonical name
// (node-<node>, the operator's) is the only one ever applied; every other one is a loser, also
// when it is alone (then winner is nullptr and the node is left at its original settings).
ProfileSelection select_node_power_profile(std::string_view node,
                                           std::span<const NodePowerProfile> profiles);

struct TelemetrySelection {
  const TelemetryProfile* profile = nullptr;        // nullptr: host sources and controls
  std::vector<const TelemetryProfile*> duplicates;  // further node-scoped ones for the node
  bool duplicated() const { return !duplicates.empty(); }
};

// The node-scoped profile targeting `node` (the first by name if several), else the first
// cluster-scoped profile by name, else none.
TelemetrySelection resolve_telemetry_profile(std::string_view node,
                                             std::span<const TelemetryProfile> profiles);

// Percent-encodes every byte outside RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~).
std::string url_escape(std::string_view text);

// Replaces every "{node}" in `endpoint` by the URL-escaped node name.
std::string expand_endpoint(std::string_view endpoint, std::string_view node);

}  // namespace joulie::api
