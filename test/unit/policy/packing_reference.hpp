#pragma once
// The greedy packing as it was before it was made faster (a straight scan of every candidate per
// pod, every node's reason formatted): the oracle the faster one must agree with exactly
// (packing_test.cpp, "the packing agrees with the reference on random clusters").
#include "joulie/policy/packing.hpp"

#include <algorithm>
#include <map>
#include <numeric>
#include <tuple>
#include <unordered_map>

namespace joulie::policy::reference {

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

  void static_fits() {
    fits.assign(groups.size(), std::vector<bool>(nodes.size(), false));
    fit_nodes.resize(groups.size());
    for (std::size_t g = 0; g < groups.size(); ++g) {
      for (std::size_t n = 0; n < nodes.size(); ++n) {
        if (untolerated(*groups[g], *nodes[n].view) == nullptr &&
            node_affinity_matches(*groups[g], *nodes[n].view, options)) {
          fits[g][n] = true;
          fit_nodes[g].push_back(n);
        }
      }
    }
  }

  bool room(std::size_t pod, std::size_t node) const {
    return insufficient(pods[pod].request, *nodes[node].view, taken(node)) == nullptr;
  }

  void place(std::size_t pod, std::size_t node) {
    used[node] = plus(used[node], pods[pod].request);
    result.placement[pod] = static_cast<std::ptrdiff_t>(node);
  }

  std::string why_not(std::size_t pod) const {
    std::vector<std::string> reasons;
    reasons.reserve(nodes.size());
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      if (auto r = check_fit(*groups[group_of[pod]], pods[pod].request, *nodes[n].view, options,
                             nodes[n].bound)) {
        reasons.push_back(std::move(*r));
      }
    }
    return summarize_unavailable(nodes.size(), reasons);
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
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      const Resources& x = pods[a].request;
      const Resources& y = pods[b].request;
      if (x.cpu_milli != y.cpu_milli) {
        return x.cpu_milli > y.cpu_milli;
      }
      if (x.memory_bytes != y.memory_bytes) {
        return x.memory_bytes > y.memory_bytes;
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
    for (std::size_t p : order) {
      bool placed = false;
      for (std::size_t n : perf_nodes[group_of[p]]) {
        if (room(p, n)) {
          place(p, n);
          used_perf[n] = true;
          placed = true;
          break;
        }
      }
      if (!placed) {
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
  std::vector<std::size_t> fit_classes(std::vector<std::vector<std::size_t>>& class_groups) {
    std::map<std::vector<bool>, std::size_t> ids;
    std::vector<std::size_t> cls(nodes.size(), 0);
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      if (nodes[n].performance) {
        continue;
      }
      std::vector<bool> pattern(groups.size());
      for (std::size_t g = 0; g < groups.size(); ++g) {
        pattern[g] = fits[g][n];
      }
      auto [it, inserted] = ids.emplace(std::move(pattern), class_groups.size());
      if (inserted) {
        class_groups.emplace_back();
        for (std::size_t g = 0; g < groups.size(); ++g) {
          if (it->first[g]) {
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

  // Step 3.
  void onto_upgrades(const std::vector<std::size_t>& rest) {
    std::vector<std::vector<std::size_t>> class_groups;
    const std::vector<std::size_t> cls = fit_classes(class_groups);
    std::vector<std::int64_t> unplaced(groups.size(), 0);
    for (std::size_t p : rest) {
      ++unplaced[group_of[p]];
    }
    std::vector<std::int64_t> score(class_groups.size(), 0);
    for (std::size_t p : rest) {
      const std::size_t g = group_of[p];
      bool placed = false;
      for (std::size_t n : result.upgrades) {
        if (fits[g][n] && room(p, n)) {
          place(p, n);
          placed = true;
          break;
        }
      }
      if (!placed) {
        for (std::size_t k = 0; k < class_groups.size(); ++k) {
          score[k] = 0;
          for (std::size_t cg : class_groups[k]) {
            score[k] += unplaced[cg];
          }
        }
        std::optional<std::size_t> best;
        for (std::size_t n : fit_nodes[g]) {
          if (nodes[n].performance || opened[n] || !room(p, n)) {
            continue;
          }
          if (!best || better(n, *best, score[cls[n]], score[cls[*best]])) {
            best = n;
          }
        }
        if (best) {
          opened[*best] = true;
          result.upgrades.push_back(*best);
          place(p, *best);
          placed = true;
        }
      }
      --unplaced[g];
      if (!placed) {
        result.waiting.push_back(p);
      }
    }
  }
};

}  // namespace

inline PackResult pack_pending(std::span<const PendingPod> pods, std::span<const PackNode> nodes,
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

}  // namespace joulie::policy::reference
