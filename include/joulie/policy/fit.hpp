#pragma once
// Scheduler-style fit (docs/policies.md, "Supply that fits demand"): would a pending pod be
// schedulable on a node, were that node performance? The predicates are the kube-scheduler
// filters that decide placement on node properties Joulie can see — NodeAffinity (nodeSelector
// and required node affinity), TaintToleration and NodeResourcesFit (cpu, memory, pod count) —
// each a pure function returning the scheduler's own failure text. Nothing here reads the API:
// the operator projects pods and nodes into these compact values.

#include <rapidjson/document.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "joulie/api/types.hpp"

namespace joulie::policy {

// ---- quantities -------------------------------------------------------------------------------

// A Kubernetes resource quantity ("128Mi", "1.5Gi", "500m", "2k", "1e3", "3E") in base units
// (bytes, cores). nullopt when malformed, negative or not finite. Binary suffixes Ki..Ei,
// decimal n u m k M G T P E, and e-notation ("1e3", "2E-2"): a bare `E` is exa, `E`/`e` followed
// by digits is an exponent, exactly as the API server reads them.
std::optional<double> parse_quantity(std::string_view text);
// Rounded up to whole milli-units (cpu) or whole units (memory), as the scheduler does
// (MilliValue / Value round up). nullopt when malformed or beyond int64.
std::optional<std::int64_t> parse_milli_quantity(std::string_view text);
std::optional<std::int64_t> parse_unit_quantity(std::string_view text);

// ---- the pod side -----------------------------------------------------------------------------

enum class FitOperator { in, not_in, exists, does_not_exist, gt, lt, unknown };
FitOperator parse_fit_operator(std::string_view name);  // "In" … "Lt"; else unknown

struct FitExpression {
  std::string key;
  FitOperator op = FitOperator::in;
  std::vector<std::string> values;
  bool operator==(const FitExpression&) const = default;
};

// One nodeSelectorTerm: its matchExpressions (labels) and matchFields (only metadata.name
// exists). A term with neither matches no node, as in the scheduler.
struct FitTerm {
  std::vector<FitExpression> expressions;
  std::vector<FitExpression> fields;
  bool operator==(const FitTerm&) const = default;
};

enum class TaintEffect { no_schedule, prefer_no_schedule, no_execute, unknown };
TaintEffect parse_taint_effect(std::string_view name);  // "NoSchedule" …; else unknown

// effect nullopt: every effect. exists: operator Exists (value ignored); an empty key with
// Exists tolerates every taint.
struct Toleration {
  std::string key;
  bool exists = false;
  std::string value;
  std::optional<TaintEffect> effect;
  bool operator==(const Toleration&) const = default;
};

// Where a pod may be placed, apart from its size: shared by every pod with the same spec
// (the operator interns them), so a Deployment's thousand replicas hold one copy.
struct PodRequirement {
  api::Labels node_selector;  // every key, not only the power-profile key
  bool has_required_affinity = false;
  std::vector<FitTerm> terms;  // requiredDuringSchedulingIgnoredDuringExecution
  std::vector<Toleration> tolerations;
  bool operator==(const PodRequirement&) const = default;
};

struct Resources {
  std::int64_t cpu_milli = 0;
  std::int64_t memory_bytes = 0;
  std::int64_t pods = 0;
  bool operator==(const Resources&) const = default;
};

// What the scheduler would reserve for a pod: max(sum of the app containers plus the
// restartable init containers (sidecars), the largest init-container step — an init
// container's request plus the sidecars started before it) + spec.overhead. Requests only
// (limits do not count; an absent request is 0). pods = 1.
Resources pod_requests(const rapidjson::Value& pod);
// The pod's requirement (selector, required affinity, tolerations); `malformed` when a field
// has the wrong JSON type (the caller then treats the pod as fitting nowhere it can prove).
PodRequirement requirement_from_pod_json(const rapidjson::Value& pod, bool* malformed = nullptr);

// ---- the node side ----------------------------------------------------------------------------

struct Taint {
  std::string key;
  std::string value;
  TaintEffect effect = TaintEffect::no_schedule;
  bool operator==(const Taint&) const = default;
};

struct NodeFitView {
  std::string name;
  api::Labels labels;
  std::vector<Taint> taints;  // NoSchedule and NoExecute only (others never block)
  Resources allocatable;      // pods 0: the pod count is not checked
  Resources requested;        // sum over the pods bound to the node (and their count)
  bool operator==(const NodeFitView&) const = default;
};

// The node's taints that can block scheduling (NoSchedule, NoExecute) from spec.taints.
std::vector<Taint> blocking_taints_from_node_json(const rapidjson::Value& node);
// status.allocatable cpu/memory/pods (0 when absent or unparsable).
Resources allocatable_from_node_json(const rapidjson::Value& node);

// ---- predicates -------------------------------------------------------------------------------

inline constexpr std::string_view kReasonNodeAffinity =
    "node(s) didn't match Pod's node affinity/selector";

// The power-profile key is read as `performance` on every node: the question is whether an
// upgrade would make the node schedulable. Empty `profile_key`: labels as they are.
struct FitOptions {
  std::string_view profile_key;
  std::string_view profile_value = "performance";
};

// NodeAffinity: every nodeSelector entry equal; with required affinity, at least one term whose
// every expression matches (In, NotIn — also true when the label is absent —, Exists,
// DoesNotExist, Gt/Lt on integer values; matchFields on metadata.name with In/NotIn).
// kReasonNodeAffinity when it fails.
// A node's label as NodeAffinity reads it: the profile key reads `profile_value`; nullopt when
// the node has no such label.
std::optional<std::string_view> fit_label(const NodeFitView& node, std::string_view key,
                                          const FitOptions& options = {});
bool node_affinity_matches(const PodRequirement& pod, const NodeFitView& node,
                           const FitOptions& options = {});
std::optional<std::string> check_node_affinity(const PodRequirement& pod, const NodeFitView& node,
                                               const FitOptions& options = {});
// Whether one toleration tolerates one taint (the scheduler's ToleratesTaint).
bool tolerates(const Toleration& toleration, const Taint& taint);
// TaintToleration: the first NoSchedule/NoExecute taint no toleration tolerates:
// "node(s) had untolerated taint {key: value}".
// The first blocking taint not tolerated, nullptr when none.
const Taint* untolerated(const PodRequirement& pod, const NodeFitView& node);
std::optional<std::string> check_taints(const PodRequirement& pod, const NodeFitView& node);
// check_taints' text for one taint.
std::string untolerated_reason(const Taint& taint);
// NodeResourcesFit: "Too many pods", "Insufficient cpu", "Insufficient memory" (the first that
// applies) when the request does not fit allocatable minus what bound pods request minus
// `also_used` (pending pods already placed there by the packing). A zero request always fits.
// The same without allocating: the reason's text or nullptr when the request fits.
const char* insufficient(const Resources& request, const NodeFitView& node,
                         const Resources& also_used = {});
std::optional<std::string> check_resources(const Resources& request, const NodeFitView& node,
                                           const Resources& also_used = {});
// The predicates in the scheduler's filter order (taints, affinity, resources): the first
// failure's text, nullopt when the pod fits.
std::optional<std::string> check_fit(const PodRequirement& pod, const Resources& request,
                                     const NodeFitView& node, const FitOptions& options = {},
                                     const Resources& also_used = {});

// The scheduler's summary over nodes: "0/5 nodes are available: 2 Insufficient cpu, 3 node(s)
// didn't match Pod's node affinity/selector." (counts per reason, sorted like the scheduler).
std::string summarize_unavailable(std::size_t nodes, const std::vector<std::string>& reasons);
// The same from each reason's count (a caller that counts causes rather than collecting texts).
std::string summarize_counts(std::size_t nodes, const std::map<std::string, std::size_t>& counts);

}  // namespace joulie::policy
