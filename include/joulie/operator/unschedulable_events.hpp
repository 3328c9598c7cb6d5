#pragma once
// Unsatisfiable demand said out loud (docs/policies.md, "Pods that fit no node"): a pending
// performance-sensitive pod that fits no managed node even at performance gets one Warning Event
// `NoPerformanceNodeFits` on the Pod, saying why. Rate-limited so that a cluster with thousands
// of such pods neither floods the API server nor grows the operator's memory:
//   - one Event per pod per `interval` (the pod's own Event, not re-sent every pass);
//   - at most `max_per_pass` Events per re-plan (the rest wait for later passes);
//   - at most `max_remembered` pods remembered; when full, new pods wait until entries expire.
// Pure bookkeeping with the time as a parameter: the Reconciler sends what due() returns.

#include <chrono>
#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include "joulie/common/clock.hpp"
#include "joulie/kube/events.hpp"
#include "joulie/policy/policies.hpp"

namespace joulie::operator_mode {

inline constexpr std::string_view kNoPerformanceNodeFits = "NoPerformanceNodeFits";

struct UnschedulableEventOptions {
  std::chrono::seconds interval{3600};
  std::size_t max_per_pass = 20;
  std::size_t max_remembered = 10000;
};

class UnschedulableNotifier {
 public:
  explicit UnschedulableNotifier(UnschedulableEventOptions options = {}) : options_(options) {}

  // The pods of this plan that get an Event now, in the plan's order; they are remembered
  // until `interval` has passed.
  std::vector<const policy::UnschedulablePod*> due(
      const std::vector<policy::UnschedulablePod>& pods, SteadyTime now);

  std::size_t remembered() const { return last_sent_.size(); }
  // Pods that were due but waited for the per-pass cap or the memory bound (cumulative).
  std::size_t deferred() const { return deferred_; }

 private:
  UnschedulableEventOptions options_;
  std::unordered_map<std::string, SteadyTime> last_sent_;  // "namespace/name" → when
  std::size_t deferred_ = 0;
};

// The Pod the Event is about: "namespace/name" split, its uid (kubectl describe pod matches it).
kube::NodeRef pod_ref(const policy::UnschedulablePod& pod);

// "fits no managed node even at performance, so no node is made performance for it: 0/6 nodes
// are available: 3 Insufficient cpu, 3 node(s) had untolerated taint {pool: c}. It requests cpu
// 500, memory 1Gi; nodeSelector node.kubernetes.io/instance-type=C." Bounded in length.
std::string unschedulable_message(const policy::UnschedulablePod& pod,
                                  std::string_view profile_key);

// "500", "0.5", "1Gi", "1536Mi", "1000000123": quantities as a user would write them.
std::string format_cpu(std::int64_t milli);
std::string format_memory(std::int64_t bytes);

}  // namespace joulie::operator_mode
