#pragma once
// The ContextProvider (docs/architecture.md#roles): informer caches of nodes, pods and
// operator-managed NodePowerProfiles, kept as tiny projections, turned into a Snapshot per pass.
// Pod counts are maintained incrementally from pod callbacks, so a pass never walks 150 000 pods.

#include <rapidjson/document.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "joulie/common/clock.hpp"
#include "joulie/kube/api.hpp"
#include "joulie/kube/informer.hpp"
#include "joulie/policy/classify.hpp"
#include "joulie/policy/context.hpp"
#include "joulie/policy/fit.hpp"
#include "joulie/policy/overrides.hpp"
#include "joulie/policy/selector.hpp"

namespace joulie::metrics {
class Registry;
}
namespace joulie::signals {
class SignalCollector;
}

namespace joulie::operator_mode {

// ---- projections ------------------------------------------------------------------------------

struct NodeProjectionConfig {
  policy::Selector selector;
  std::string reserved_label;
  std::string profile_label;
  std::string zone_label = "topology.kubernetes.io/zone";
  std::string rack_label{};  // "" = no rack label (policy file topology.rackLabel)
};

// A managed node's scheduling view (labels, blocking taints, allocatable), shared between the
// cache and the passes; equal when the views are equal, so a re-decoded node with the same
// content is no change.
struct SharedFitView {
  std::shared_ptr<const policy::NodeFitView> view;
  bool operator==(const SharedFitView& o) const {
    return view == o.view || (view && o.view && *view == *o.view);
  }
};

// What the operator keeps of a Node. Eligibility is decided at decode time, so the labels the
// selector reads are not stored.
struct NodeInfo {
  std::string uid;
  std::optional<std::string> profile_label;   // value of the power-profile label
  std::optional<std::string> draining_since;  // raw joulie.io/draining-since annotation
  std::optional<std::string> state_since;     // raw joulie.io/state-since (the planner's memory)
  std::optional<std::string> pin;             // raw joulie.io/pin annotation
  bool managed = false;
  // Context for policies (docs/design.md#the-policy-snapshot), kept for managed nodes only.
  std::string zone;
  std::string rack;
  double allocatable_cpu = 0;  // cores; 0 when absent or unparsable
  // Hardware classes and fit-aware demand (docs/policies.md): managed nodes only.
  SharedFitView fit;

  bool operator==(const NodeInfo&) const = default;
};
// A Kubernetes CPU quantity in cores: "4", "3500m", "1.5", "2k", "1e3". nullopt when malformed.
std::optional<double> parse_cpu_quantity(std::string_view text);
std::optional<NodeInfo> project_node(const rapidjson::Value& node,
                                     const NodeProjectionConfig& config);

// Pending pods' requirements, shared: one copy per distinct placement spec (a Deployment's
// replicas share one). Thread-safe; entries die with their last pod.
class RequirementInterner {
 public:
  std::shared_ptr<const policy::PodRequirement> intern(const rapidjson::Value& pod);

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, std::weak_ptr<const policy::PodRequirement>> by_spec_;
};

struct PodInfo {
  kube::InternedString node;  // spec.nodeName; empty while the pod is pending
  policy::PodClass pod_class = policy::PodClass::general;
  bool counted = false;  // not terminating, not finished
  // The pod's cpu and memory requests (per-node sums of bound pods: the free capacity that
  // fit-aware demand checks). Packed into the 6 bytes after the two fields above, so that a
  // pod's projection stays within 24 bytes at 150 000 pods: cpu in millicores up to ~1 048
  // cores, memory in MiB rounded up (a node looks at most 1 MiB per pod fuller than it is,
  // never emptier) up to 256 TiB; a larger request is clamped to the maximum.
  std::uint64_t cpu_milli : 20 = 0;
  std::uint64_t memory_mib : 28 = 0;
  static constexpr std::uint64_t kMaxCpuMilli = (1U << 20) - 1;
  static constexpr std::uint64_t kMaxMemoryMib = (1U << 28) - 1;

  bool perf_sensitive() const { return counted && policy::is_performance_sensitive(pod_class); }
  bool operator==(const PodInfo&) const = default;
};
std::optional<PodInfo> project_pod(const rapidjson::Value& pod, std::string_view profile_label,
                                   kube::StringInterner& interner);

// The cluster-wide pause switch (the ConfigMap joulie-control in the operator's namespace):
// data.paused == "true" pauses; data.reason / data.pausedBy / data.pausedAt say who and why.
struct ControlInfo {
  bool paused = false;
  std::string reason;
  std::string paused_by;
  std::string paused_at;

  bool operator==(const ControlInfo&) const = default;
};
std::optional<ControlInfo> project_control(const rapidjson::Value& config_map);

// An operator-managed NodePowerProfile, read leniently: a value the operator would not write
// (unknown profile, missing cap) simply compares unequal and gets patched.
struct NppInfo {
  std::string node_name;
  std::string profile;
  std::optional<double> cap_watts;
  std::optional<std::string> policy_name;
  // metadata.generation and status.observedGeneration: whether the node's agent has acted on the
  // current spec (an upgrade publishes its label once it has, docs/decisions.md). A status
  // change is a change of the projection, so the informer reports it.
  std::optional<std::int64_t> generation;
  std::optional<std::int64_t> observed_generation;
  std::optional<std::string> result;  // status.result: applied|blocked|error|none
  // metadata.annotations joulie.io/apply-wait-until: an upgrade's deadline (the planner's memory).
  std::optional<std::string> apply_wait_until;
  std::optional<double> package_max_watts = std::nullopt;  // status.packageMaxPowerWatts

  bool operator==(const NppInfo&) const = default;
  // The spec fields only: what the operator writes and expects to read back.
  bool same_spec(const NppInfo& other) const {
    return node_name == other.node_name && profile == other.profile &&
           cap_watts == other.cap_watts && policy_name == other.policy_name;
  }
  // The agent has acted on the current spec: observedGeneration caught up and the result is not
  // `error` (a failed write may have left the old, lower cap in force; `blocked`/`none` mean
  // nothing caps the node).
  bool applied() const {
    return generation && observed_generation && *observed_generation >= *generation &&
           result != "error";
  }
};
// nullopt for objects without joulie.io/managed-by=operator (never touched).
std::optional<NppInfo> project_npp(const rapidjson::Value& object);

// ---- incremental pod counts ------------------------------------------------------------------

// Performance-sensitive counted pods per node and cluster-wide (pending ones included), and
// counted pods by class per node and cluster-wide (the policy context,
// docs/design.md#the-policy-snapshot). Thread-safe. The mutators return the node whose
// performance-sensitive count just reached zero, if any.
class PodCounts {
 public:
  std::optional<std::string> add(const PodInfo& pod);
  std::optional<std::string> remove(const PodInfo& pod);
  std::optional<std::string> update(const PodInfo& old, const PodInfo& now);

  std::int64_t on_node(const std::string& node) const;
  std::int64_t cluster() const;
  // Copy of the per-node counts (nodes with at least one pod).
  std::unordered_map<std::string, std::int64_t> per_node() const;

  struct ByClass {
    policy::ClassCounts cluster;
    std::int64_t pending_perf_sensitive = 0;
    std::unordered_map<std::string, policy::ClassCounts> per_node;
    std::unordered_map<std::string, policy::Resources> bound;  // requests of counted bound pods
  };
  ByClass by_class() const;

 private:
  std::optional<std::string> change(const PodInfo& pod, std::int64_t delta);
  void change_class(const PodInfo& pod, std::int64_t delta);

  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::int64_t> per_node_;
  std::int64_t cluster_ = 0;
  ByClass classes_;
};

// ---- the snapshot ----------------------------------------------------------------------------

struct ManagedNode {
  std::string name;
  std::string uid;
  std::optional<std::string> label;
  std::optional<std::string> draining_since;
  std::int64_t perf_pods = 0;
  std::string zone;
  std::string rack;
  double allocatable_cpu = 0;
  std::optional<std::string> state_since;  // raw joulie.io/state-since annotation
  std::optional<std::string> pin;          // joulie.io/pin
  // Last: positional initialisers stay valid.
  std::shared_ptr<const policy::NodeFitView> fit = nullptr;
};

// A node outside management that still carries the operator's label or annotation.
struct MarkedNode {
  std::string name;
  std::optional<std::string> label;
  std::optional<std::string> draining_since;
  std::optional<std::string> state_since;
};

struct Snapshot {
  std::vector<ManagedNode> managed;  // sorted byte-wise by name
  std::vector<MarkedNode> unmanaged_marked;
  std::map<std::string, NppInfo> npps;  // operator-managed NodePowerProfiles by name
  ControlInfo control;                  // the pause switch (not paused when unreadable)
  bool pods_known = false;              // pod cache synced and healthy
  SystemTime now{};
  // What policies see (docs/design.md#the-policy-snapshot): the managed nodes with their metadata
  // and pod counts, the workload counts, and the signals. `context.local` stays at its UTC default
  // here; the policy configuration fills it with the configured time zone.
  policy::Context context;
};

// The pause switch and the managed nodes' pins, for policy::apply_overrides.
policy::Overrides overrides_of(const Snapshot& s);

// Fills s.context from the snapshot's managed nodes and the pod counts by class (no signals;
// pure, exposed for tests).
void fill_policy_context(Snapshot& s, const PodCounts::ByClass& classes);

// ---- the provider ------------------------------------------------------------------------------

struct ContextOptions {
  NodeProjectionConfig nodes;
  std::chrono::milliseconds read_idle_timeout{180000};
  int64_t page_size = 500;
  metrics::Registry* metrics = nullptr;
  const Clock* clock = nullptr;  // RealClock when null
  // Namespace of the pause switch (ConfigMap joulie-control); "" = no switch is watched.
  std::string control_namespace;
};

class ContextProvider {
 public:
  ContextProvider(kube::Api& api, ContextOptions options);
  ~ContextProvider();
  ContextProvider(const ContextProvider&) = delete;
  ContextProvider& operator=(const ContextProvider&) = delete;

  // Register before start(). Called on informer threads: must be quick.
  // A node entered or left management (added, deleted, relabelled, cordoned, reserved).
  void on_managed_set_changed(std::function<void()> fn) { managed_changed_ = std::move(fn); }
  // The last performance-sensitive pod left a node labelled draining-performance.
  void on_drain_complete(std::function<void(const std::string& node)> fn) {
    drain_complete_ = std::move(fn);
  }
  // An agent reported on a NodePowerProfile's current spec (status.observedGeneration reached
  // metadata.generation): an upgrade waiting for it may publish its label. Informer thread.
  void on_profile_applied(std::function<void(const std::string& node)> fn) {
    profile_applied_ = std::move(fn);
  }
  // The pause switch, a managed node's pin, or a node's reported package maximum (hardware-class
  // fractions) changed: the plan must be made again. Informer thread.
  void on_overrides_changed(std::function<void()> fn) { overrides_changed_ = std::move(fn); }

  // One of the operator's NodePowerProfiles (by object name) was deleted or its spec edited (by
  // anyone, the operator's own writes included): a guard pass puts it back within seconds.
  // Informer thread.
  void on_profile_changed(std::function<void(const std::string& name)> fn) {
    profile_changed_ = std::move(fn);
  }

  void start();
  void stop();

  bool synced() const;
  // Waits for all three caches; false on timeout.
  bool wait_synced(std::chrono::milliseconds timeout) const;
  // "nodes=true pods=false nodepowerprofiles=true" for error messages and /readyz.
  std::string sync_status() const;
  bool pods_known() const;

  Snapshot snapshot(SystemTime now) const;

  // The context sources whose signals snapshot() copies (null: signals stay missing). Set
  // before the first pass; must outlive the provider's use.
  void set_signals(const ::joulie::signals::SignalCollector* signals) { signals_ = signals; }

  const PodCounts& pod_counts() const { return counts_; }

 private:
  void pod_count_dropped(const std::optional<std::string>& node);

  ContextOptions options_;
  kube::StringInterner interner_;
  RequirementInterner requirements_;
  PodCounts counts_;
  // Pending performance-sensitive pods by key, with their requirement and request.
  void track_pending(const std::string& key, const PodInfo* pod);
  // A pending performance-sensitive pod's requirement and requests, kept beside the cache.
  void stage_pending(const rapidjson::Value& pod);
  mutable std::mutex pending_mutex_;
  std::map<std::string, policy::PendingPod> pending_;
  std::function<void()> managed_changed_;
  std::function<void(const std::string&)> drain_complete_;
  std::function<void(const std::string&)> profile_applied_;
  std::function<void()> overrides_changed_;
  std::function<void(const std::string&)> profile_changed_;
  std::unique_ptr<kube::Informer<NodeInfo>> nodes_;
  std::unique_ptr<kube::Informer<PodInfo>> pods_;
  std::unique_ptr<kube::Informer<NppInfo>> npps_;
  std::unique_ptr<kube::Informer<ControlInfo>> control_;  // null without a control namespace
  const ::joulie::signals::SignalCollector* signals_ = nullptr;
};

}  // namespace joulie::operator_mode
