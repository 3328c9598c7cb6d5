#pragma once
// Which nodes the operator manages (docs/design.md#eligible-nodes): the selector matches, the
// reserved label is not exactly "true", and the node is not cordoned (spec.unschedulable).

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "joulie/policy/selector.hpp"

namespace joulie::policy {

struct NodeFacts {
  std::string name;
  Labels labels;
  bool unschedulable = false;
};

bool is_managed(const Selector& selector, std::string_view reserved_key, const Labels& labels,
                bool unschedulable);

// Names of the managed nodes, sorted byte-wise ("node-10" before "node-2").
std::vector<std::string> eligible_nodes(std::span<const NodeFacts> nodes, const Selector& selector,
                                        std::string_view reserved_key);

// Byte-wise ordering used for every node list the policies see.
void sort_node_names(std::vector<std::string>& names);

}  // namespace joulie::policy
