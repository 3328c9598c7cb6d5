#pragma once
// Operator overrides of a policy's plan: the cluster-wide pause switch and per-node pins
// (docs/kubectl-plugin.md). Pure: applied to the plan after policy::plan, before the state guard,
// so a paused or pinned node still goes through the normal (guarded, upgrades-first) path.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "joulie/policy/policies.hpp"

namespace joulie::policy {

enum class Pin { none, performance, eco, invalid };

// The joulie.io/pin annotation value: absent, "" or "none" → none; "performance" / "eco";
// anything else → invalid (ignored, and said so in the node's reasons).
Pin parse_pin(std::optional<std::string_view> value);

struct Overrides {
  bool paused = false;
  std::string pause_note;  // who/why, from the control ConfigMap ("" when not given)
  std::map<std::string, std::string, std::less<>> pins;  // node → raw annotation value
};

// Paused: every node performance (pins are reported but do not apply). Otherwise each valid pin
// replaces its node's profile; the other nodes keep the policy's choice (the policy is not re-run
// to compensate). Adds a reason to every node it touches (and a plan-wide one when paused), and
// recounts performance_nodes. Returns how many nodes' profiles it changed.
std::size_t apply_overrides(PolicyPlan& plan, const Overrides& overrides);

}  // namespace joulie::policy
