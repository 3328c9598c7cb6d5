#include "context_fit.hpp"

#include "joulie/api/names.hpp"

namespace joulie::policy::detail {

ClassCaps class_caps(const PolicyConfig& effective, const TimeWindow* window,
                     std::span<const NodeContext* const> nodes) {
  ClassCaps out;
  out.class_index.assign(nodes.size(), -1);
  out.caps.assign(nodes.size(),
                  NodeCaps{effective.performance_cap_watts, effective.eco_cap_watts, false});
  if (!effective.parts.hardware_classes || effective.hardware_classes.empty()) {
    return out;
  }
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!nodes[i]->fit) {
      continue;  // labels unknown: the defaults
    }
    auto cls = class_of(effective.hardware_classes, nodes[i]->fit->labels);
    if (!cls) {
      continue;
    }
    out.any_class = true;
    out.class_index[i] = static_cast<std::ptrdiff_t>(*cls);
    out.caps[i] =
        caps_for_node(&effective.hardware_classes[*cls], window, nodes[i]->package_max_watts,
                      effective.performance_cap_watts, effective.eco_cap_watts);
    out.fell_back += out.caps[i].fell_back ? 1 : 0;
  }
  return out;
}

FitDemand fit_demand(const Context& ctx, std::span<const NodeContext* const> nodes,
                     const ClassCaps& caps, std::string_view profile_key) {
  FitDemand out;
  out.placed.assign(nodes.size(), 0);
  if (!ctx.pods_known || ctx.workloads.pending_perf.empty()) {
    return out;
  }
  std::vector<PackNode> pack(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!nodes[i]->fit) {
      return out;  // a node we cannot judge: keep the count-based demand
    }
    pack[i].view = nodes[i]->fit.get();
    pack[i].performance = nodes[i]->state == NodeState::active_performance;
    pack[i].upgrade_watts = caps.caps[i].performance_watts - caps.caps[i].eco_watts;
    pack[i].bound = nodes[i]->bound;
  }
  out.active = true;
  const auto& pods = ctx.workloads.pending_perf;
  const PackResult r = pack_pending(pods, pack, FitOptions{profile_key, api::kProfilePerformance});
  out.required = r.used_performance;
  out.required.insert(out.required.end(), r.upgrades.begin(), r.upgrades.end());
  for (auto n : r.placement) {
    if (n >= 0) {
      ++out.placed[static_cast<std::size_t>(n)];
    }
  }
  for (const auto& u : r.unsatisfiable) {
    const PendingPod& pod = pods[u.pod];
    out.unschedulable.push_back(
        {pod.name, u.reason, pod.uid, pod.request, pod.requirement, u.matching_nodes, u.most_free});
  }
  out.waiting = static_cast<std::int64_t>(r.waiting.size());
  return out;
}

}  // namespace joulie::policy::detail
