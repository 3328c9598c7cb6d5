#pragma once
// Hardware classes (the policy file's `hardwareClasses:`): nodes chosen by a label selector get
// their own performance and eco caps, in watts or as a fraction of the package's maximum power.
// One file then serves a mixed fleet: 160 W barely caps a 230 W package and halves a 420 W one,
// while "0.6 of the maximum" means the same on both. Pure.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "joulie/api/types.hpp"
#include "joulie/policy/selector.hpp"
#include "joulie/policy/windows.hpp"

namespace joulie::policy {

struct HardwareClass {
  std::string name;
  Selector selector;
  std::string selector_text;                // as written, for reasons
  std::optional<CapValue> performance_cap;  // nullopt: the default performance cap
  std::optional<CapValue> eco_cap;          // nullopt: the default eco cap
  std::optional<std::int64_t> min;          // performance nodes of this class kept at least
};

// The first class (file order) whose selector matches the labels; nullopt outside every class.
std::optional<std::size_t> class_of(const std::vector<HardwareClass>& classes,
                                    const api::Labels& labels);

// Watts of a cap: as is, or fraction × the package maximum. A fraction without a known maximum
// (the agent has not reported one yet, or the node has no RAPL constraint maximum) gives
// `fallback` (the default watts for that profile), so a new node is never left uncapped nor
// capped to nothing; `resolved` says which happened.
struct ResolvedCap {
  double watts = 0;
  bool from_fraction = false;
  bool fell_back = false;  // a fraction without a known maximum
};
ResolvedCap resolve_cap(const std::optional<CapValue>& cap, std::optional<double> package_max_watts,
                        double fallback);

struct NodeCaps {
  double performance_watts = 0;
  double eco_watts = 0;
  bool fell_back = false;  // some fraction had no maximum to apply to
};

// The caps of one node: its class (nullptr: none), the window in force (nullptr: none), the
// package maximum if reported, and the defaults (the file's/flags' caps, the window's eco cap
// already applied). The eco cap, most specific first: the window's entry for the class, the
// class's own, the default.
NodeCaps caps_for_node(const HardwareClass* cls, const TimeWindow* window,
                       std::optional<double> package_max_watts, double default_performance_watts,
                       double default_eco_watts);

}  // namespace joulie::policy
