#pragma once
// Which eco (or draining) nodes to turn performance so that the pending performance-sensitive
// pods become schedulable: a deterministic greedy packing over the fit predicates (fit.hpp).
// Pure; docs/policies.md describes the algorithm and its tie-breaks.

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "joulie/policy/fit.hpp"

namespace joulie::policy {

struct PendingPod {
  std::string name;  // "namespace/name", for reasons and Events
  // Shared between pods with the same placement spec; pods are grouped by this pointer, so
  // callers should intern equal requirements. Null: no constraint at all.
  std::shared_ptr<const PodRequirement> requirement;
  Resources request;
  std::string uid = {};  // metadata.uid: the pod's Events carry it (kubectl describe finds them)
};

struct PackNode {
  const NodeFitView* view = nullptr;  // never null
  // ActivePerformance now: pending pods may use its free capacity without any change.
  bool performance = false;
  // How much higher the node's cap would be at performance (performance − eco watts): among
  // otherwise equal candidates the one that costs least to upgrade is chosen.
  double upgrade_watts = 0;
  // Requests of bound pods, on top of view->requested (the operator keeps them apart so the
  // view can be shared between passes).
  Resources bound = {};
};

struct Unsatisfiable {
  std::size_t pod = 0;  // index into the pods
  std::string reason;   // "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) …."
  // Nodes whose labels and taints the pod accepts, and the most free capacity among them
  // (allocatable minus bound requests; the node with the most free cpu, then memory): how far
  // the request is from fitting.
  std::size_t matching_nodes = 0;
  Resources most_free = {};
};

struct PackResult {
  std::vector<std::size_t> upgrades;          // node indices, in the order they were chosen
  std::vector<std::size_t> used_performance;  // performance nodes given pending pods (sorted)
  std::vector<std::ptrdiff_t> placement;      // per pod: node index, -1 when not placed
  std::vector<Unsatisfiable> unsatisfiable;   // fit no node even at performance (pod order)
  std::vector<std::size_t> waiting;           // fit some node, but its room went to other pods
};

// Nodes sorted by name (their index is the final tie-break). Deterministic: the same input
// gives the same result.
//   1. A pod no node fits at performance (taints, affinity, allocatable minus bound requests)
//      is unsatisfiable, with the scheduler-style summary of why.
//   2. The others in decreasing request (cpu, then memory, then name) go first-fit onto the
//      performance nodes' free capacity (name order).
//   3. Each pod still unplaced goes first-fit onto a node upgraded earlier in this packing;
//      failing that, the candidate it fits that fits the most still-unplaced pods (by
//      labels and taints) is upgraded — ties: fewest upgrade watts, most free cpu, name.
//   A node no pending pod fits is never upgraded.
PackResult pack_pending(std::span<const PendingPod> pods, std::span<const PackNode> nodes,
                        const FitOptions& options);

}  // namespace joulie::policy
