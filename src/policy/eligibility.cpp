#include "joulie/policy/eligibility.hpp"

#include <algorithm>

namespace joulie::policy {

bool is_managed(const Selector& selector, std::string_view reserved_key, const Labels& labels,
                bool unschedulable) {
  if (unschedulable || !selector.matches(labels)) {
    return false;
  }
  const auto reserved = labels.find(reserved_key);
  return reserved == labels.end() || reserved->second != "true";
}

std::vector<std::string> eligible_nodes(std::span<const NodeFacts> nodes, const Selector& selector,
                                        std::string_view reserved_key) {
  std::vector<std::string> out;
  for (const auto& node : nodes) {
    if (is_managed(selector, reserved_key, node.labels, node.unschedulable)) {
      out.push_back(node.name);
    }
  }
  sort_node_names(out);
  return out;
}

void sort_node_names(std::vector<std::string>& names) {
  // std::string compares through char_traits<char>, which orders like memcmp (unsigned bytes),
  // independent of locale.
  std::sort(names.begin(), names.end());
}

}  // namespace joulie::policy
