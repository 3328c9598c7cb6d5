// The greedy packing of pending performance pods onto performance supply. The cost is driven by
// the number of distinct requirements (G), not pods: the label/taint predicates run once per
// (requirement, node), candidates with the same fit pattern share one score per upgrade.
#include "joulie/policy/packing.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>
#include <optional>
#include <tuple>
#include <unordered_map>

namespace joulie::policy {

namespace {

const PodRequirement& empty_requirement() {
  static const PodRequirement kNone;
  return kNone;
}

Resources plus(Resources a, const Resources& b) {
  a.cpu_milli += b.cpu_milli;
  a.memory_bytes += b.memory_bytes;
  a.pods += b.pods;
  return a;
}

struct Packing {
  std::span<const PendingPod> pods;
  std::span<const PackNode> nodes;
  const FitOptions& options;

  std::vector<std::size_t> group_of;                // per pod
  std::vector<const PodRequirement*> groups;        // per group
  std::vector<std::vector<bool>> fits;              // [group][node]: labels and taints
  std::vector<std::vector<std::size_t>> fit_nodes;  // [group]: nodes it fits, name order
  std::vector<Resources> used;                      // per node: pending pods placed there
  std::vector<bool> opened;                         // per node: upgraded by this packing
  PackResult result;

  // Bound pods and pending pods placed by this packing.
  Resources taken(std::size_t node) const { return plus(nodes[node].bound, used[node]); }

  void group_pods() {
    std::unordered_map<const PodRequirement*, std::size_t> ids;
    group_of.resize(pods.size());
    for (std::size_t p = 0; p < pods.size(); ++p) {
      const PodRequirement* r =
          pods[p].requirement ? pods[p].requirement.get() : &empty_requirement();
      auto [it, inserted] = ids.emplace(r, groups.size());
      if (inserted) {
        groups.push_back(r);
      }
      group_of[p] = it->second;
    }
  }

  // Labels and taints per (group, node). Only the selector keys' values and the taints decide
  // the nodeSelector half and TaintToleration, so nodes alike in those (a handful of kinds,
  // however many nodes) are judged once per group; required affinity, rarer, is asked of
  // node_affinity_matches per node. At 5 000 nodes and 20 groups the per-(group, node) label
  // lookups were the packing's largest cost.
  void static_fits() {
    std::vector<std::string_view> keys;
    std::vector<std::vector<std::size_t>> key_of(groups.size());  // per selector entry
    for (std::size_t g = 0; g < groups.size(); ++g) {
      for (const auto& entry : groups[g]->node_selector) {
        auto at = std::find(keys.begin(), keys.end(), std::string_view(entry.first));
        key_of[g].push_back(static_cast<std::size_t>(at - keys.begin()));
        if (at == keys.end()) {
          keys.push_back(entry.first);
        }
      }
    }
    const Kinds kinds = node_kinds(keys);
    fits.assign(groups.size(), std::vector<bool>(nodes.size(), false));
    fit_nodes.resize(groups.size());
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const PodRequirement& r = *groups[g];
      std::vector<bool> kind_fits(kinds.first.size());
      for (std::size_t k = 0; k < kinds.first.size(); ++k) {
        const std::size_t n = kinds.first[k];  // the kind's first node stands for all of them
        bool ok = nodes[n].view->taints.empty() || untolerated(r, *nodes[n].view) == nullptr;
        std::size_t e = 0;
        for (auto it = r.node_selector.begin(); ok && it != r.node_selector.end(); ++it, ++e) {
          const auto& have = kinds.values[k * keys.size() + key_of[g][e]];
          ok = have && *have == it->second;
        }
        kind_fits[k] = ok;
      }
      for (std::size_t n = 0; n < nodes.size(); ++n) {
        bool ok = kind_fits[kinds.of[n]];
        if (ok && r.has_required_affinity) {
          ok = node_affinity_matches(r, *nodes[n].view, options);
        }
        if (ok) {
          fits[g][n] = true;
          fit_nodes[g].push_back(n);
        }
      }
    }
  }

  // Nodes grouped by the values of `keys` (as NodeAffinity reads them) and their taints.
  struct Kinds {
    std::vector<std::size_t> of;                          // per node: its kind
    std::vector<std::size_t> first;                       // per kind: its first node
    std::vector<std::optional<std::string_view>> values;  // per kind: the keys' values
  };
  Kinds node_kinds(const std::vector<std::string_view>& keys) const {
    using Values = std::vector<std::optional<std::string_view>>;
    using Taints = std::vector<std::tuple<std::string_view, std::string_view, TaintEffect>>;
    std::map<std::pair<Values, Taints>, std::size_t> ids;
    Kinds kinds;
    kinds.of.resize(nodes.size());
    std::pair<Values, Taints> key;
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      const NodeFitView& v = *nodes[n].view;
      key.first.clear();
      for (std::string_view k : keys) {
        key.first.push_back(fit_label(v, k, options));
      }
      key.second.clear();
      for (const Taint& t : v.taints) {
        key.second.emplace_back(t.key, t.value, t.effect);
      }
      auto it = ids.find(key);
      if (it == ids.end()) {
        it = ids.emplace(key, kinds.first.size()).first;
        kinds.first.push_back(n);
        kinds.values.insert(kinds.values.end(), key.first.begin(), key.first.end());
      }
      kinds.of[n] = it->second;
    }
    return kinds;
  }

  // First fit over `list` (nodes in a fixed order). A node without room for a request has none
  // for an equal request later either (placements only fill nodes), so a run of a group's pods
  // with one request resumes where the previous one stopped instead of rescanning full nodes.
  struct Cursor {
    Resources request{-1, -1, -1};
    std::size_t next = 0;
  };
  std::optional<std::size_t> first_fit(std::size_t p, const std::vector<std::size_t>& list,
                                       Cursor& cursor) const {
    const Resources& request = pods[p].request;
    std::size_t i = request == cursor.request ? cursor.next : 0;
    while (i < list.size() && !room(p, list[i])) {
      ++i;
    }
    cursor = {request, i};
    return i < list.size() ? std::optional<std::size_t>(list[i]) : std::nullopt;
  }

  bool room(std::size_t pod, std::size_t node) const {
    return insufficient(pods[pod].request, *nodes[node].view, taken(node)) == nullptr;
  }

  void place(std::size_t pod, std::size_t node) {
    used[node] = plus(used[node], pods[pod].request);
    result.placement[pod] = static_cast<std::ptrdiff_t>(node);
  }

  // The scheduler-style summary for an unsatisfiable pod. The reasons are counted by their few
  // distinct causes (a literal, a taint) rather than formatted once per node: at thousands of
  // nodes a string per node and reason dominated the pass. Same texts and order as check_fit
  // (taints, then affinity, then resources); `fits` already holds the first two predicates.
  std::string why_not(std::size_t pod) const {
    const std::size_t g = group_of[pod];
    std::map<const char*, std::size_t> literal;  // insufficient()'s static texts
    std::map<std::pair<std::string_view, std::string_view>, std::size_t> taints;
    std::size_t affinity = 0;
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      const NodeFitView& v = *nodes[n].view;
      if (!fits[g][n]) {
        if (const Taint* t = untolerated(*groups[g], v)) {
          ++taints[{t->key, t->value}];
        } else {
          ++affinity;
        }
      } else if (const char* r = insufficient(pods[pod].request, v, nodes[n].bound)) {
        ++literal[r];
      }
    }
    std::map<std::string, std::size_t> counts;
    for (const auto& [key, count] : taints) {
      counts[untolerated_reason(Taint{std::string(key.first), std::string(key.second), {}})] +=
          count;
    }
    if (affinity > 0) {
      counts[std::string(kReasonNodeAffinity)] += affinity;
    }
    for (const auto& [text, count] : literal) {
      counts[text] += count;
    }
    return summarize_counts(nodes.size(), counts);
  }

  // The most free capacity among the nodes a group's labels and taints accept.
  Resources most_free(std::size_t group) const {
    Resources best{-1, -1, 0};
    for (std::size_t n : fit_nodes[group]) {
      const NodeFitView& v = *nodes[n].view;
      const Resources free{
          v.allocatable.cpu_milli - v.requested.cpu_milli - nodes[n].bound.cpu_milli,
          v.allocatable.memory_bytes - v.requested.memory_bytes - nodes[n].bound.memory_bytes, 0};
      if (std::tie(free.cpu_milli, free.memory_bytes) >
          std::tie(best.cpu_milli, best.memory_bytes)) {
        best = free;
      }
    }
    return fit_nodes[group].empty() ? Resources{} : best;
  }

  // Step 1. Pods of one group with one request share the answer (and the reason).
  std::vector<std::size_t> satisfiable() {
    using Key = std::tuple<std::size_t, std::int64_t, std::int64_t>;
    std::map<Key, std::optional<Unsatisfiable>> cache;  // nullopt: fits somewhere
    std::vector<std::size_t> out;
    for (std::size_t p = 0; p < pods.size(); ++p) {
      const std::size_t g = group_of[p];
      const Key key{g, pods[p].request.cpu_milli, pods[p].request.memory_bytes};
      auto it = cache.find(key);
      if (it == cache.end()) {
        const auto& list = fit_nodes[g];
        const bool any = std::any_of(list.begin(), list.end(), [&](std::size_t n) {
          return insufficient(pods[p].request, *nodes[n].view, nodes[n].bound) == nullptr;
        });
        std::optional<Unsatisfiable> why;
        if (!any) {
          why = Unsatisfiable{p, why_not(p), list.size(), most_free(g)};
        }
        it = cache.emplace(key, std::move(why)).first;
      }
      if (it->second) {
        result.unsatisfiable.push_back(*it->second);
        result.unsatisfiable.back().pod = p;
      } else {
        out.push_back(p);
      }
    }
    return out;
  }

  void sort_by_request(std::vector<std::size_t>& order) const {
    const auto larger = [&](std::size_t a, std::size_t b) {
      const Resources& x = pods[a].request;
      const Resources& y = pods[b].request;
      return std::tie(x.cpu_milli, x.memory_bytes) > std::tie(y.cpu_milli, y.memory_bytes);
    };
    // The operator lists pending pods by name already: then the name tie-break is the index
    // order, which a stable sort keeps without comparing 2 000 names over and over.
    const bool by_name =
        std::is_sorted(pods.begin(), pods.end(),
                       [](const PendingPod& a, const PendingPod& b) { return a.name < b.name; });
    if (by_name && std::is_sorted(order.begin(), order.end())) {
      std::stable_sort(order.begin(), order.end(), larger);
      return;
    }
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      if (larger(a, b) || larger(b, a)) {
        return larger(a, b);
      }
      if (pods[a].name != pods[b].name) {
        return pods[a].name < pods[b].name;
      }
      return a < b;
    });
  }

  // Step 2: the free capacity of the performance nodes.
  std::vector<std::size_t> onto_performance(const std::vector<std::size_t>& order) {
    std::vector<std::size_t> rest;
    std::vector<bool> used_perf(nodes.size(), false);
    std::vector<std::vector<std::size_t>> perf_nodes(groups.size());
    for (std::size_t g = 0; g < groups.size(); ++g) {
      for (std::size_t n : fit_nodes[g]) {
        if (nodes[n].performance) {
          perf_nodes[g].push_back(n);
        }
      }
    }
    std::vector<Cursor> cursors(groups.size());
    for (std::size_t p : order) {
      const std::size_t g = group_of[p];
      if (const std::optional<std::size_t> n = first_fit(p, perf_nodes[g], cursors[g])) {
        place(p, *n);
        used_perf[*n] = true;
      } else {
        rest.push_back(p);
      }
    }
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      if (used_perf[n]) {
        result.used_performance.push_back(n);
      }
    }
    return rest;
  }

  // Candidates with the same fit pattern over the groups share a score: the still-unplaced
  // pods whose requirement they satisfy.
  std::vector<std::size_t> fit_classes(std::vector<std::vector<std::size_t>>& class_groups) const {
    // A node's pattern as bit words, looked up in a scratch key: no allocation per node.
    std::map<std::vector<std::uint64_t>, std::size_t> ids;
    std::vector<std::uint64_t> pattern((groups.size() + 63) / 64);
    std::vector<std::size_t> cls(nodes.size(), 0);
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      if (nodes[n].performance) {
        continue;
      }
      std::fill(pattern.begin(), pattern.end(), 0);
      for (std::size_t g = 0; g < groups.size(); ++g) {
        if (fits[g][n]) {
          pattern[g / 64] |= std::uint64_t{1} << (g % 64);
        }
      }
      auto it = ids.find(pattern);
      if (it == ids.end()) {
        it = ids.emplace(pattern, class_groups.size()).first;
        class_groups.emplace_back();
        for (std::size_t g = 0; g < groups.size(); ++g) {
          if (fits[g][n]) {
            class_groups.back().push_back(g);
          }
        }
      }
      cls[n] = it->second;
    }
    return cls;
  }

  bool better(std::size_t a, std::size_t b, std::int64_t score_a, std::int64_t score_b) const {
    if (score_a != score_b) {
      return score_a > score_b;
    }
    if (nodes[a].upgrade_watts != nodes[b].upgrade_watts) {
      return nodes[a].upgrade_watts < nodes[b].upgrade_watts;
    }
    const auto free_cpu = [&](std::size_t n) {
      return nodes[n].view->allocatable.cpu_milli - nodes[n].view->requested.cpu_milli -
             nodes[n].bound.cpu_milli;
    };
    if (free_cpu(a) != free_cpu(b)) {
      return free_cpu(a) > free_cpu(b);
    }
    return a < b;
  }

  // Each fit class's candidates in the order better() ranks nodes of equal score (fewest
  // upgrade watts, most free cpu, name): a class's best node for a pod is then its first one not
  // yet upgraded that has room, found without scoring every node the pod fits.
  std::vector<std::vector<std::size_t>> class_members(const std::vector<std::size_t>& cls,
                                                      std::size_t classes) const {
    std::vector<std::vector<std::size_t>> members(classes);
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      if (!nodes[n].performance) {
        members[cls[n]].push_back(n);
      }
    }
    for (auto& m : members) {
      std::sort(m.begin(), m.end(),
                [&](std::size_t a, std::size_t b) { return better(a, b, 0, 0); });
    }
    return members;
  }

  struct Candidates {
    std::vector<std::vector<std::size_t>> class_groups;  // per fit class: the groups it fits
    std::vector<std::vector<std::size_t>> members;       // per fit class: nodes, ranked
    std::vector<std::vector<std::size_t>> classes_of;    // per group: the classes that fit it
    std::vector<std::size_t> skip;                       // per class: leading members upgraded
    std::vector<std::vector<std::size_t>> opened_for;    // per group: upgrades it fits, in order
    std::vector<std::int64_t> unplaced;                  // per group: pods still to place
    std::vector<Cursor> cursors;                         // per group: over opened_for
  };

  Candidates candidates(const std::vector<std::size_t>& rest) const {
    Candidates c;
    const std::vector<std::size_t> cls = fit_classes(c.class_groups);
    c.members = class_members(cls, c.class_groups.size());
    c.classes_of.resize(groups.size());
    for (std::size_t k = 0; k < c.class_groups.size(); ++k) {
      for (std::size_t g : c.class_groups[k]) {
        c.classes_of[g].push_back(k);
      }
    }
    c.skip.assign(c.class_groups.size(), 0);
    c.opened_for.resize(groups.size());
    c.cursors.resize(groups.size());
    c.unplaced.assign(groups.size(), 0);
    for (std::size_t p : rest) {
      ++c.unplaced[group_of[p]];
    }
    return c;
  }

  // The candidate step 3 upgrades for pod p: over the classes that fit its group, each class's
  // first member with room, the best of those by better() with the class's score (the
  // still-unplaced pods whose requirement the class satisfies).
  std::optional<std::size_t> best_candidate(std::size_t p, Candidates& c) const {
    std::optional<std::size_t> best;
    std::int64_t best_score = 0;
    for (std::size_t k : c.classes_of[group_of[p]]) {
      std::int64_t score = 0;
      for (std::size_t cg : c.class_groups[k]) {
        score += c.unplaced[cg];
      }
      const std::vector<std::size_t>& list = c.members[k];
      while (c.skip[k] < list.size() && opened[list[c.skip[k]]]) {
        ++c.skip[k];
      }
      for (std::size_t i = c.skip[k]; i < list.size(); ++i) {
        const std::size_t n = list[i];
        if (opened[n] || !room(p, n)) {
          continue;
        }
        if (!best || better(n, *best, score, best_score)) {
          best = n;
          best_score = score;
        }
        break;
      }
    }
    return best;
  }

  // Step 3.
  void onto_upgrades(const std::vector<std::size_t>& rest) {
    Candidates c = candidates(rest);
    for (std::size_t p : rest) {
      const std::size_t g = group_of[p];
      bool placed = false;
      if (const std::optional<std::size_t> n = first_fit(p, c.opened_for[g], c.cursors[g])) {
        place(p, *n);
        placed = true;
      } else {
        if (const std::optional<std::size_t> best = best_candidate(p, c)) {
          opened[*best] = true;
          result.upgrades.push_back(*best);
          for (std::size_t other = 0; other < groups.size(); ++other) {
            if (fits[other][*best]) {
              c.opened_for[other].push_back(*best);
            }
          }
          place(p, *best);
          placed = true;
        }
      }
      --c.unplaced[g];
      if (!placed) {
        result.waiting.push_back(p);
      }
    }
  }
};

}  // namespace

PackResult pack_pending(std::span<const PendingPod> pods, std::span<const PackNode> nodes,
                        const FitOptions& options) {
  Packing k{pods, nodes, options, {}, {}, {}, {}, {}, {}, {}};
  k.result.placement.assign(pods.size(), -1);
  k.used.assign(nodes.size(), Resources{});
  k.opened.assign(nodes.size(), false);
  k.group_pods();
  k.static_fits();
  std::vector<std::size_t> order = k.satisfiable();
  k.sort_by_request(order);
  const std::vector<std::size_t> rest = k.onto_performance(order);
  k.onto_upgrades(rest);
  std::sort(k.result.waiting.begin(), k.result.waiting.end());
  return std::move(k.result);
}

}  // namespace joulie::policy
