#pragma once
// Shared set-up for the operator unit tests: a FakeApi holding nodes and NodePowerProfiles, a
// ManualClock, a Reconciler writing through a real ActuationAdapter, and snapshots rebuilt from
// the fake store (as the informer caches would see it once the watch echo arrived).

#include <fmt/format.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "../kube/fake_api.hpp"
#include "joulie/api/names.hpp"
#include "joulie/common/metrics.hpp"
#include "joulie/operator/actuation.hpp"
#include "joulie/operator/context.hpp"
#include "joulie/operator/metrics.hpp"
#include "joulie/operator/reconciler.hpp"

namespace joulie::operator_mode::testing {

using kube::testing::FakeApi;
using kube::testing::Verb;

inline const kube::Resource& kNodes = kube::resources::nodes;
inline const kube::Resource& kNpps = kube::resources::node_power_profiles;

// A Node object; `labels` as JSON members ("\"a\":\"b\""), managed=true added by default.
inline std::string node_json(const std::string& name, const std::string& extra_labels = "",
                             bool managed = true, const std::string& annotations = "",
                             bool unschedulable = false) {
  std::string labels = managed ? "\"joulie.io/managed\":\"true\"" : "";
  if (!extra_labels.empty()) {
    labels += (labels.empty() ? "" : ",") + extra_labels;
  }
  return fmt::format(
      R"({{"apiVersion":"v1","kind":"Node","metadata":{{"name":"{}","uid":"uid-{}","labels":{{{}}},)"
      R"("annotations":{{{}}}}},"spec":{{"unschedulable":{}}}}})",
      name, name, labels, annotations, unschedulable ? "true" : "false");
}

struct Written {
  Verb verb;
  std::string resource;
  std::string name;  // patches only (FakeApi records their target)
};

struct Fixture {
  FakeApi api;
  ManualClock clock;
  metrics::Registry registry;
  OperatorMetrics metrics{registry};
  NodeProjectionConfig projection;
  ReconcilerOptions options;
  std::vector<Written> writes;  // every write request in order
  std::mutex writes_mutex;      // the pass may write from several threads
  struct RecordedEvent {
    std::string node, reason, message;
    std::string kind = "Node", ns = {}, uid = {};  // the involved object
  };
  std::vector<RecordedEvent> events;
  std::map<std::string, std::int64_t> perf_pods;  // node -> performance-sensitive pods
  bool pods_known = true;
  // Called on every create/patch/delete (from the pass's worker threads), after it is recorded.
  FakeApi::WriteHook on_write;
  std::unique_ptr<ActuationAdapter> actuation;
  std::unique_ptr<Reconciler> reconciler;

  Fixture() {
    projection.selector = *policy::parse_selector("joulie.io/managed=true");
    projection.reserved_label = "joulie.io/reserved";
    projection.profile_label = "joulie.io/power-profile";
    options.policy.kind = policy::PolicyKind::static_partition;
    options.policy.base_fraction = 0.5;
    api.call_hook([this](Verb verb, const kube::Resource& r) -> std::optional<Error> {
      if (verb == Verb::update) {
        std::lock_guard lock(writes_mutex);
        writes.push_back({verb, r.plural, {}});
      }
      return std::nullopt;
    });
    api.write_hook([this](Verb verb, const kube::Resource& r,
                          const std::string& name) -> std::optional<Error> {
      {
        std::lock_guard lock(writes_mutex);
        writes.push_back({verb, r.plural, name});
      }
      if (on_write) {
        return on_write(verb, r, name);
      }
      return std::nullopt;
    });
    restart();
  }

  // A fresh reconciler (an operator restart): nothing remembered but what the API holds.
  void restart() {
    actuation = std::make_unique<ActuationAdapter>(api, projection.profile_label);
    reconciler = std::make_unique<Reconciler>(
        options, *actuation, &metrics,
        [this](const kube::NodeRef& n, kube::EventType, std::string reason, std::string message) {
          std::lock_guard lock(writes_mutex);
          events.push_back({n.name, std::move(reason), std::move(message), n.kind, n.ns, n.uid});
        },
        clock);
  }

  void add_node(const std::string& name, const std::string& labels = "", bool managed = true,
                const std::string& annotations = "", bool unschedulable = false) {
    api.put(kNodes, node_json(name, labels, managed, annotations, unschedulable));
  }

  // What the caches would hold now.
  Snapshot snapshot() {
    Snapshot s;
    s.now = clock.now();
    s.pods_known = pods_known;
    // Pods by class as the ContextProvider counts them: performance-only, on their node or,
    // under the pseudo-node "pending", in the queue.
    PodCounts::ByClass classes;
    for (const auto& [n, c] : perf_pods) {
      classes.cluster.performance_only += c;
      if (n == "pending") {
        classes.pending_perf_sensitive += c;
      } else {
        classes.per_node[n].performance_only += c;
      }
    }
    auto nodes = api.list(kNodes, "", {});
    for (const auto& item : (*nodes)["items"].GetArray()) {
      auto info = project_node(item, projection);
      std::string name = item["metadata"]["name"].GetString();
      if (info->managed) {
        s.managed.push_back({name, info->uid, info->profile_label, info->draining_since,
                             perf_pods.contains(name) ? perf_pods[name] : 0, info->zone, info->rack,
                             info->allocatable_cpu, info->state_since, info->pin});
        s.managed.back().fit = info->fit.view;  // labels, taints, allocatable (fit, classes)
      } else if (info->profile_label || info->draining_since || info->state_since) {
        s.unmanaged_marked.push_back(
            {name, info->profile_label, info->draining_since, info->state_since});
      }
    }
    std::sort(s.managed.begin(), s.managed.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    auto npps = api.list(kNpps, "", {});
    for (const auto& item : (*npps)["items"].GetArray()) {
      if (auto info = project_npp(item)) {
        s.npps.emplace(item["metadata"]["name"].GetString(), *info);
      }
    }
    fill_policy_context(s, classes);
    return s;
  }

  PassResult pass(PassKind kind = PassKind::replan) {
    return reconciler->run_pass(snapshot(), kind);
  }

  std::optional<std::string> label(const std::string& node) {
    auto n = api.object(kNodes, node);
    const auto& md = (*n)["metadata"];
    if (!md.HasMember("labels") || !md["labels"].HasMember("joulie.io/power-profile")) {
      return std::nullopt;
    }
    return std::string(md["labels"]["joulie.io/power-profile"].GetString());
  }
  std::optional<std::string> annotation(const std::string& node,
                                        std::string_view key = api::kDrainingSinceAnnotation) {
    auto n = api.object(kNodes, node);
    const auto& md = (*n)["metadata"];
    const std::string k(key);
    if (!md.HasMember("annotations") || !md["annotations"].HasMember(k.c_str())) {
      return std::nullopt;
    }
    return std::string(md["annotations"][k.c_str()].GetString());
  }
  std::optional<NppInfo> profile(const std::string& node) {
    auto o = api.object(kNpps, api::canonical_profile_name(node));
    if (!o) {
      return std::nullopt;
    }
    return project_npp(*o);
  }
};

}  // namespace joulie::operator_mode::testing
