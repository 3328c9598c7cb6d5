#pragma once
// context_aware_v1's fit-aware demand and hardware-class caps (docs/policies.md, "Supply that
// fits demand"): private helpers of context_aware.cpp, pure.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "joulie/policy/hardware_class.hpp"
#include "joulie/policy/policies.hpp"

namespace joulie::policy::detail {

// Per node (managed order): its class (index into config.hardware_classes, -1 none) and caps.
struct ClassCaps {
  std::vector<std::ptrdiff_t> class_index;
  std::vector<NodeCaps> caps;
  bool any_class = false;
  std::int64_t fell_back = 0;  // nodes whose fraction waited for a package maximum
};
ClassCaps class_caps(const PolicyConfig& effective, const TimeWindow* window,
                     std::span<const NodeContext* const> nodes);

struct FitDemand {
  bool active = false;                // every node projected, pods known, pending pods present
  std::vector<std::size_t> required;  // nodes the pending pods need: performance nodes used,
                                      // then upgrades in the packing's order
  std::vector<std::int64_t> placed;   // per node: pending pods the packing put there
  std::vector<UnschedulablePod> unschedulable;
  std::int64_t waiting = 0;  // fit a node, but no room left this pass
};
FitDemand fit_demand(const Context& ctx, std::span<const NodeContext* const> nodes,
                     const ClassCaps& caps, std::string_view profile_key);

}  // namespace joulie::policy::detail
