#pragma once
// Pod classification by the power-profile label key only (docs/design.md#pod-classification). The
// demand side of the scheduling contract: which profiles a pod can run on, from its nodeSelector
// and its required node affinity. Anything we cannot read with certainty is `unknown`, which the
// guard treats like performance-only (fail safe).

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace joulie::policy {

enum class PodClass : std::uint8_t { general, performance_only, eco_only, unknown };

std::string_view to_string(PodClass c);

enum class AffinityOperator { in, not_in, exists, does_not_exist, other };

// Kubernetes operator names ("In", "NotIn", "Exists", "DoesNotExist"); anything else (Gt, Lt,
// typos) is `other`, which makes the pod unknown when it applies to the key.
AffinityOperator parse_affinity_operator(std::string_view name);

struct AffinityExpression {
  std::string key;
  AffinityOperator op = AffinityOperator::in;
  std::vector<std::string> values;
};

struct AffinityTerm {
  std::vector<AffinityExpression> expressions;  // matchExpressions; matchFields do not matter
};

// What classification reads from a pod.
struct PodPlacement {
  std::optional<std::string> node_selector_value;  // nodeSelector[key], if set
  bool has_required_affinity = false;              // requiredDuringScheduling... present
  std::vector<AffinityTerm> terms;                 // its nodeSelectorTerms
  bool malformed = false;                          // unreadable pod JSON: class unknown
};

// Mask math of docs/design.md#pod-classification; expressions on other keys are ignored. Choices
// beyond the reference implementation's rules: affinity values are trimmed like nodeSelector
// values; `In [draining-performance]` asks for performance; `NotIn [draining-performance]` removes
// no profile (performance and eco nodes remain possible).
PodClass classify(const PodPlacement& placement, std::string_view key);

// Performance-only or unknown: pods that keep a node from being downgraded.
constexpr bool is_performance_sensitive(PodClass c) {
  return c == PodClass::performance_only || c == PodClass::unknown;
}

// Pods that still occupy a node: not terminating and not finished.
bool is_counted(bool has_deletion_timestamp, std::string_view phase);

// From a whole Pod object. Keeps only the expressions on `key` (projection-friendly). Structure
// of the wrong JSON type where a selector or affinity should be marks the placement malformed.
PodPlacement placement_from_pod_json(const rapidjson::Value& pod, std::string_view key);

// classify(placement_from_pod_json(pod, key), key)
PodClass classify_pod_json(const rapidjson::Value& pod, std::string_view key);

// is_counted from metadata.deletionTimestamp and status.phase.
bool is_counted_pod_json(const rapidjson::Value& pod);

}  // namespace joulie::policy
