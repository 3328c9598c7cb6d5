#pragma once
// Names shared by the operator, the agent and the CRDs: API group, label and annotation keys,
// profile values, and the canonical NodePowerProfile name of a node (docs/design.md#api-objects).

#include <string>
#include <string_view>

namespace joulie::api {

inline constexpr std::string_view kGroup = "joulie.io";
inline constexpr std::string_view kVersion = "v1alpha1";
inline constexpr std::string_view kApiVersion = "joulie.io/v1alpha1";
inline constexpr std::string_view kNodePowerProfileKind = "NodePowerProfile";
inline constexpr std::string_view kTelemetryProfileKind = "TelemetryProfile";

// Node label carrying the supply side of the scheduling contract (key configurable).
inline constexpr std::string_view kPowerProfileLabel = "joulie.io/power-profile";
// Node annotation: RFC 3339 time the current drain started.
inline constexpr std::string_view kDrainingSinceAnnotation = "joulie.io/draining-since";
// The operator's per-node memory, kept in API objects so a restarted or new leader carries on
// where the last one stopped (docs/decisions.md, "Per-node memory in annotations"):
// on the Node, "<label> <RFC 3339 time>[ forced]": the power-profile label the operator last
// published and when (minDwell, the downgrade settle); " forced" after a forced drain.
inline constexpr std::string_view kStateSinceAnnotation = "joulie.io/state-since";
// On the operator-owned NodePowerProfile: RFC 3339 time until which an upgrade's performance
// label waits for the node's agent to report the raised cap.
inline constexpr std::string_view kApplyWaitUntilAnnotation = "joulie.io/apply-wait-until";
// Label on NodePowerProfiles the operator owns; objects without it are never touched.
inline constexpr std::string_view kManagedByLabel = "joulie.io/managed-by";
inline constexpr std::string_view kManagedByOperator = "operator";
// Node annotation pinning one managed node to a profile whatever the policy wants
// ("performance" or "eco"; docs/kubectl-plugin.md).
inline constexpr std::string_view kPinAnnotation = "joulie.io/pin";
// The cluster-wide pause switch: a ConfigMap in the operator's namespace, data.paused = "true"
// lifts every cap until it is removed or set to anything else (docs/kubectl-plugin.md).
inline constexpr std::string_view kControlConfigMap = "joulie-control";
// The operator's published state: annotations on its leader-election Lease, rewritten with each
// renewal (no extra request), read by `kubectl joulie status`.
inline constexpr std::string_view kStatusAnnotation = "joulie.io/status";
inline constexpr std::string_view kConfigAnnotation = "joulie.io/config";
inline constexpr std::string_view kPolicyFileAnnotation = "joulie.io/policy-file";
// Default node selector and reserved label of the operator (docs/design.md#operator-configuration).
inline constexpr std::string_view kManagedLabel = "joulie.io/managed";
inline constexpr std::string_view kDefaultNodeSelector = "joulie.io/managed=true";
inline constexpr std::string_view kReservedLabel = "joulie.io/reserved";

// Profile values (spec.profile and the node label).
inline constexpr std::string_view kProfilePerformance = "performance";
inline constexpr std::string_view kProfileEco = "eco";
// Label value only: a node still running the performance profile while its
// performance-sensitive pods finish.
inline constexpr std::string_view kProfileDrainingPerformance = "draining-performance";

// Kubernetes object names are DNS subdomains: at most 253 characters.
inline constexpr std::size_t kMaxObjectNameLength = 253;

// The NodePowerProfile name for node `node`: "node-" + node when it only holds [a-z0-9-];
// otherwise a readable lower-cased form plus "-" + FNV-1a-32 of the original name in hex, so
// that distinct node names never map to the same object ("a.b" vs "a-b").
std::string canonical_profile_name(std::string_view node);

}  // namespace joulie::api
