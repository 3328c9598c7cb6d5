#include "joulie/operator/context.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include "joulie/api/names.hpp"
#include "joulie/common/duration.hpp"
#include "joulie/common/log.hpp"
#include "joulie/kube/json_fields.hpp"
#include "joulie/policy/write_planner.hpp"
#include "joulie/signals/collector.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace joulie::operator_mode {

namespace json = kube::json;

// ---- projections ------------------------------------------------------------------------------

namespace {

// Labels (every key: a pod may select on any), blocking taints and allocatable of a managed
// node, for hardware classes and fit-aware demand.
std::shared_ptr<const policy::NodeFitView> project_fit_view(const rapidjson::Value& node,
                                                            const rapidjson::Value* metadata,
                                                            const rapidjson::Value* labels) {
  auto view = std::make_shared<policy::NodeFitView>();
  view->name = json::string_or_empty(metadata, "name");
  if (labels != nullptr) {
    for (const auto& m : labels->GetObject()) {
      if (m.value.IsString()) {
        view->labels.emplace(std::string(m.name.GetString(), m.name.GetStringLength()),
                             std::string(m.value.GetString(), m.value.GetStringLength()));
      }
    }
  }
  view->taints = policy::blocking_taints_from_node_json(node);
  view->allocatable = policy::allocatable_from_node_json(node);
  return view;
}

}  // namespace

std::optional<NodeInfo> project_node(const rapidjson::Value& node,
                                     const NodeProjectionConfig& config) {
  const rapidjson::Value* metadata = json::object_at(node, "metadata");
  if (metadata == nullptr) {
    return std::nullopt;
  }
  // Malformed labels (not an object) are treated as no labels (the node is then not selected).
  const rapidjson::Value* labels = json::object_at(*metadata, "labels");
  policy::LabelLookup lookup = [labels](std::string_view key) -> std::optional<std::string_view> {
    return json::string_at(labels, key);
  };

  NodeInfo info;
  info.uid = json::string_or_empty(metadata, "uid");
  info.profile_label = json::string_at(labels, config.profile_label);
  const rapidjson::Value* annotations = json::member(*metadata, "annotations");
  info.draining_since = json::string_at(annotations, api::kDrainingSinceAnnotation);
  info.state_since = json::string_at(annotations, api::kStateSinceAnnotation);
  info.pin = json::string_at(annotations, api::kPinAnnotation);
  const bool unschedulable =
      json::bool_at(json::member(node, "spec"), "unschedulable").value_or(false);
  auto reserved = lookup(config.reserved_label);
  info.managed =
      config.selector.matches(lookup) && reserved != std::string_view("true") && !unschedulable;
  if (info.managed) {
    info.zone = std::string(lookup(config.zone_label).value_or(""));
    if (!config.rack_label.empty()) {
      info.rack = std::string(lookup(config.rack_label).value_or(""));
    }
    if (auto cpu =
            json::string_at(json::member(json::member(node, "status"), "allocatable"), "cpu")) {
      info.allocatable_cpu = parse_cpu_quantity(*cpu).value_or(0.0);
    }
    info.fit.view = project_fit_view(node, metadata, labels);
  }
  return info;
}

std::optional<double> parse_cpu_quantity(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  double scale = 1;
  switch (text.back()) {
    case 'm':
      scale = 1e-3;
      break;
    case 'k':
      scale = 1e3;
      break;
    case 'M':
      scale = 1e6;
      break;
    case 'G':
      scale = 1e9;
      break;
    default:
      break;
  }
  if (scale != 1) {
    text.remove_suffix(1);
  }
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
  }
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() ||
      !std::isfinite(value) || value < 0) {
    return std::nullopt;
  }
  return value * scale;
}

std::optional<PodInfo> project_pod(const rapidjson::Value& pod, std::string_view profile_label,
                                   kube::StringInterner& interner) {
  if (!pod.IsObject()) {
    return std::nullopt;
  }
  PodInfo info;
  auto node = json::string_at(json::member(pod, "spec"), "nodeName");
  if (node && !node->empty()) {
    info.node = interner.intern(*node);
  }
  info.pod_class = policy::classify_pod_json(pod, profile_label);
  info.counted = policy::is_counted_pod_json(pod);
  if (info.counted) {
    const policy::Resources requests = policy::pod_requests(pod);
    constexpr std::int64_t kMiB = 1024 * 1024;
    info.cpu_milli = static_cast<std::uint64_t>(std::clamp<std::int64_t>(
        requests.cpu_milli, 0, static_cast<std::int64_t>(PodInfo::kMaxCpuMilli)));
    // Rounded up: the sum over a node's pods never undercounts what they reserve.
    const std::int64_t mib = requests.memory_bytes / kMiB + (requests.memory_bytes % kMiB > 0);
    info.memory_mib = static_cast<std::uint64_t>(
        std::clamp<std::int64_t>(mib, 0, static_cast<std::int64_t>(PodInfo::kMaxMemoryMib)));
  }
  return info;
}

std::shared_ptr<const policy::PodRequirement> RequirementInterner::intern(
    const rapidjson::Value& pod) {
  // The key: the three fields the requirement is read from, as the API server sent them.
  const rapidjson::Value* spec = json::member(pod, "spec");
  rapidjson::StringBuffer key;
  rapidjson::Writer<rapidjson::StringBuffer> w(key);
  for (const char* field : {"nodeSelector", "affinity", "tolerations"}) {
    const rapidjson::Value* v = json::member(spec, field);
    if (v == nullptr) {
      w.Null();
    } else if (std::string_view(field) == "affinity") {
      const rapidjson::Value* na = json::member(*v, "nodeAffinity");
      const rapidjson::Value* req =
          na ? json::member(*na, "requiredDuringSchedulingIgnoredDuringExecution") : nullptr;
      req ? (void)req->Accept(w) : (void)w.Null();
    } else {
      v->Accept(w);
    }
  }
  std::string k(key.GetString(), key.GetSize());
  std::lock_guard lock(mutex_);
  if (auto it = by_spec_.find(k); it != by_spec_.end()) {
    if (auto live = it->second.lock()) {
      return live;
    }
  }
  if (by_spec_.size() > 4096) {  // drop the dead entries now and then
    std::erase_if(by_spec_, [](const auto& e) { return e.second.expired(); });
  }
  auto made =
      std::make_shared<const policy::PodRequirement>(policy::requirement_from_pod_json(pod));
  by_spec_[std::move(k)] = made;
  return made;
}

std::optional<NppInfo> project_npp(const rapidjson::Value& object) {
  const rapidjson::Value* metadata = json::member(object, "metadata");
  if (metadata == nullptr) {
    return std::nullopt;
  }
  if (json::string_at(json::member(*metadata, "labels"), api::kManagedByLabel) !=
      std::string_view(api::kManagedByOperator)) {
    return std::nullopt;
  }
  NppInfo info;
  const rapidjson::Value* spec = json::member(object, "spec");
  info.node_name = json::string_or_empty(spec, "nodeName");
  info.profile = json::string_or_empty(spec, "profile");
  if (auto cap = json::number_at(json::member(spec, "cpu"), "packagePowerCapWatts")) {
    info.cap_watts = *cap;
  }
  info.policy_name = json::string_at(json::member(spec, "policy"), "name");
  info.generation = json::int_at(metadata, "generation");
  info.observed_generation = json::int_at(json::member(object, "status"), "observedGeneration");
  info.result = json::string_at(json::member(object, "status"), "result");
  info.apply_wait_until =
      json::string_at(json::member(*metadata, "annotations"), api::kApplyWaitUntilAnnotation);
  if (const rapidjson::Value* max =
          json::member(json::member(object, "status"), "packageMaxPowerWatts");
      max != nullptr && max->IsNumber() && std::isfinite(max->GetDouble()) &&
      max->GetDouble() > 0) {
    info.package_max_watts = max->GetDouble();
  }
  return info;
}

// ---- pod counts --------------------------------------------------------------------------------

namespace {

std::int64_t& class_slot(policy::ClassCounts& counts, policy::PodClass pod_class) {
  switch (pod_class) {
    case policy::PodClass::performance_only:
      return counts.performance_only;
    case policy::PodClass::eco_only:
      return counts.eco_only;
    case policy::PodClass::general:
      return counts.general;
    case policy::PodClass::unknown:
      return counts.unknown;
  }
  return counts.unknown;
}

}  // namespace

void PodCounts::change_class(const PodInfo& pod, std::int64_t delta) {
  if (!pod.counted) {
    return;
  }
  class_slot(classes_.cluster, pod.pod_class) += delta;
  const std::string& node = pod.node.str();
  if (!node.empty()) {
    policy::Resources& b = classes_.bound[node];
    b.cpu_milli += delta * static_cast<std::int64_t>(pod.cpu_milli);
    b.memory_bytes += delta * static_cast<std::int64_t>(pod.memory_mib) * 1024 * 1024;
    b.pods += delta;
    if (b == policy::Resources{}) {
      classes_.bound.erase(node);
    }
  }
  if (node.empty()) {
    if (pod.perf_sensitive()) {
      classes_.pending_perf_sensitive += delta;
    }
    return;
  }
  auto it = classes_.per_node.try_emplace(node).first;
  class_slot(it->second, pod.pod_class) += delta;
  if (it->second == policy::ClassCounts{}) {
    classes_.per_node.erase(it);
  }
}

PodCounts::ByClass PodCounts::by_class() const {
  std::lock_guard lock(mutex_);
  return classes_;
}

std::optional<std::string> PodCounts::change(const PodInfo& pod, std::int64_t delta) {
  {
    std::lock_guard lock(mutex_);
    change_class(pod, delta);
  }
  if (!pod.perf_sensitive()) {
    return std::nullopt;
  }
  std::lock_guard lock(mutex_);
  cluster_ += delta;
  const std::string& node = pod.node.str();
  if (node.empty()) {
    return std::nullopt;
  }
  auto it = per_node_.try_emplace(node, 0).first;
  it->second += delta;
  if (it->second <= 0) {
    per_node_.erase(it);
    if (delta < 0) {
      return node;
    }
  }
  return std::nullopt;
}

std::optional<std::string> PodCounts::add(const PodInfo& pod) { return change(pod, +1); }

std::optional<std::string> PodCounts::remove(const PodInfo& pod) { return change(pod, -1); }

std::optional<std::string> PodCounts::update(const PodInfo& old, const PodInfo& now) {
  // Add first so that a pod moving between classes on the same node never shows a transient 0.
  change(now, +1);
  return change(old, -1);
}

std::int64_t PodCounts::on_node(const std::string& node) const {
  std::lock_guard lock(mutex_);
  auto it = per_node_.find(node);
  return it == per_node_.end() ? 0 : it->second;
}

std::int64_t PodCounts::cluster() const {
  std::lock_guard lock(mutex_);
  return cluster_;
}

std::unordered_map<std::string, std::int64_t> PodCounts::per_node() const {
  std::lock_guard lock(mutex_);
  return per_node_;
}

std::optional<ControlInfo> project_control(const rapidjson::Value& config_map) {
  const rapidjson::Value* data = json::member(config_map, "data");
  if (data != nullptr && !data->IsObject()) {
    data = nullptr;
  }
  ControlInfo c;
  c.paused = json::string_at(data, "paused") == std::optional<std::string_view>("true");
  c.reason = std::string(json::string_or_empty(data, "reason"));
  c.paused_by = std::string(json::string_or_empty(data, "pausedBy"));
  c.paused_at = std::string(json::string_or_empty(data, "pausedAt"));
  return c;
}

policy::Overrides overrides_of(const Snapshot& s) {
  policy::Overrides o;
  o.paused = s.control.paused;
  if (o.paused) {
    o.pause_note = s.control.paused_by;
    if (!s.control.reason.empty()) {
      o.pause_note += (o.pause_note.empty() ? "" : ": ") + s.control.reason;
    }
  }
  for (const auto& m : s.managed) {
    if (m.pin) {
      o.pins.emplace(m.name, *m.pin);
    }
  }
  return o;
}

// ---- provider ----------------------------------------------------------------------------------

ContextProvider::ContextProvider(kube::Api& api, ContextOptions options)
    : options_(std::move(options)) {
  auto base = [&](const kube::Resource& r, std::string name) {
    kube::InformerOptions o;
    o.resource = r;
    o.page_size = options_.page_size;
    o.read_idle_timeout = options_.read_idle_timeout;
    o.metrics = options_.metrics;
    o.clock = options_.clock;
    o.name = std::move(name);
    return o;
  };

  NodeProjectionConfig node_config = options_.nodes;
  nodes_ = std::make_unique<kube::Informer<NodeInfo>>(
      api, base(kube::resources::nodes, "nodes"),
      [node_config](const rapidjson::Value& o) { return project_node(o, node_config); });

  // Pod data counts as unavailable once the watch has been broken for longer than the read-idle
  // timeout (docs/design.md#state-machine-and-downgrade-guard): then nothing is downgraded.
  auto pod_options = base(kube::resources::pods, "pods");
  pod_options.unhealthy_after = options_.read_idle_timeout;
  std::string key = options_.nodes.profile_label;
  pods_ = std::make_unique<kube::Informer<PodInfo>>(
      api, std::move(pod_options), [this, key](const rapidjson::Value& o) {
        auto info = project_pod(o, key, interner_);
        if (info && info->perf_sensitive() && info->node.empty_string()) {
          stage_pending(o);
        }
        return info;
      });

  auto npp_options = base(kube::resources::node_power_profiles, "nodepowerprofiles");
  npp_options.label_selector =
      std::string(api::kManagedByLabel) + "=" + std::string(api::kManagedByOperator);
  npps_ = std::make_unique<kube::Informer<NppInfo>>(api, std::move(npp_options), project_npp);

  // The pause switch: one named ConfigMap, watched through a metadata.name field selector so that
  // RBAC can grant exactly that object (resourceNames).
  if (!options_.control_namespace.empty()) {
    auto control_options = base(kube::resources::config_maps, "joulie-control");
    control_options.ns = options_.control_namespace;
    control_options.field_selector = "metadata.name=" + std::string(api::kControlConfigMap);
    control_options.page_size = 0;
    control_ = std::make_unique<kube::Informer<ControlInfo>>(api, std::move(control_options),
                                                             project_control);
    auto changed = [this] {
      if (overrides_changed_) {
        overrides_changed_();
      }
    };
    control_->on_add([changed](const std::string&, const ControlInfo&) { changed(); });
    control_->on_update(
        [changed](const std::string&, const ControlInfo&, const ControlInfo&) { changed(); });
    control_->on_delete([changed](const std::string&, const ControlInfo&) { changed(); });
  }

  nodes_->on_add([this](const std::string&, const NodeInfo& n) {
    if (n.managed && managed_changed_) {
      managed_changed_();
    }
  });
  nodes_->on_update([this](const std::string&, const NodeInfo& old, const NodeInfo& now) {
    if (old.managed != now.managed && managed_changed_) {
      managed_changed_();
    } else if (now.managed && old.pin != now.pin && overrides_changed_) {
      overrides_changed_();
    }
  });
  nodes_->on_delete([this](const std::string&, const NodeInfo& last) {
    if (last.managed && managed_changed_) {
      managed_changed_();
    }
  });

  npps_->on_update([this](const std::string& name, const NppInfo& old, const NppInfo& now) {
    if (profile_applied_ && now.applied() && !(old.applied() && old.same_spec(now))) {
      profile_applied_(now.node_name);
    }
    if (profile_changed_ && !old.same_spec(now)) {
      profile_changed_(name);
    }
    // A node's package maximum (first reported, or new hardware) turns hardware-class fractions
    // into other watts: re-plan now rather than leave the fallback cap until the next tick.
    if (overrides_changed_ && old.package_max_watts != now.package_max_watts) {
      overrides_changed_();
    }
  });
  npps_->on_delete([this](const std::string& name, const NppInfo&) {
    if (profile_changed_) {
      profile_changed_(name);
    }
  });

  pods_->on_add([this](const std::string& k, const PodInfo& p) {
    counts_.add(p);
    track_pending(k, &p);
  });
  pods_->on_update([this](const std::string& k, const PodInfo& old, const PodInfo& now) {
    track_pending(k, &now);
    pod_count_dropped(counts_.update(old, now));
  });
  pods_->on_delete([this](const std::string& k, const PodInfo& last) {
    track_pending(k, nullptr);
    pod_count_dropped(counts_.remove(last));
  });
}

ContextProvider::~ContextProvider() { stop(); }

void ContextProvider::stage_pending(const rapidjson::Value& pod) {
  const rapidjson::Value* metadata = json::member(pod, "metadata");
  std::string key(json::string_or_empty(metadata, "namespace"));
  key.append("/").append(json::string_or_empty(metadata, "name"));
  policy::PendingPod entry{key, requirements_.intern(pod), policy::pod_requests(pod),
                           std::string(json::string_or_empty(metadata, "uid"))};
  std::lock_guard lock(pending_mutex_);
  pending_[std::move(key)] = std::move(entry);
}

void ContextProvider::track_pending(const std::string& key, const PodInfo* pod) {
  // Entries are added when a pending performance pod is decoded; every other state drops them.
  if (pod != nullptr && pod->perf_sensitive() && pod->node.empty_string()) {
    return;
  }
  std::lock_guard lock(pending_mutex_);
  pending_.erase(key);
}

void ContextProvider::pod_count_dropped(const std::optional<std::string>& node) {
  if (!node || !drain_complete_) {
    return;
  }
  auto info = nodes_->get(*node);
  if (info && info->managed && info->profile_label == api::kProfileDrainingPerformance) {
    drain_complete_(*node);
  }
}

void ContextProvider::start() {
  nodes_->start();
  pods_->start();
  npps_->start();
  if (control_) {
    control_->start();
  }
}

void ContextProvider::stop() {
  if (control_) {
    control_->stop();
  }
  npps_->stop();
  pods_->stop();
  nodes_->stop();
}

// The pause switch is part of being synced: a restarted operator must know it is paused before
// its first plan, or it would cap nodes for one pass.
bool ContextProvider::synced() const {
  return nodes_->synced() && pods_->synced() && npps_->synced() &&
         (!control_ || control_->synced());
}

bool ContextProvider::wait_synced(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const kube::InformerEngine* i : {static_cast<const kube::InformerEngine*>(nodes_.get()),
                                        static_cast<const kube::InformerEngine*>(pods_.get()),
                                        static_cast<const kube::InformerEngine*>(npps_.get()),
                                        static_cast<const kube::InformerEngine*>(control_.get())}) {
    if (i == nullptr) {
      continue;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!i->wait_synced(std::max(left, std::chrono::milliseconds(0)))) {
      return false;
    }
  }
  return true;
}

std::string ContextProvider::sync_status() const {
  auto b = [](bool v) { return v ? "true" : "false"; };
  return std::string("nodes=") + b(nodes_->synced()) + " pods=" + b(pods_->synced()) +
         " nodepowerprofiles=" + b(npps_->synced()) +
         (control_ ? std::string(" joulie-control=") + b(control_->synced()) : std::string());
}

bool ContextProvider::pods_known() const { return pods_->synced() && pods_->healthy(); }

Snapshot ContextProvider::snapshot(SystemTime now) const {
  Snapshot s;
  s.now = now;
  // Read the counts before the nodes: a count read slightly late only errs towards "still has
  // pods" for a node that is being drained, never the other way round for a fresh pod.
  s.pods_known = pods_known();
  auto per_node = counts_.per_node();
  nodes_->read([&](const kube::Informer<NodeInfo>::Map& nodes) {
    s.managed.reserve(nodes.size());
    for (const auto& [name, info] : nodes) {
      if (info.managed) {
        ManagedNode m;
        m.name = name;
        m.uid = info.uid;
        m.label = info.profile_label;
        m.draining_since = info.draining_since;
        m.pin = info.pin;
        m.zone = info.zone;
        m.rack = info.rack;
        m.allocatable_cpu = info.allocatable_cpu;
        m.state_since = info.state_since;
        m.fit = info.fit.view;
        auto it = per_node.find(name);
        m.perf_pods = it == per_node.end() ? 0 : it->second;
        s.managed.push_back(std::move(m));
      } else if (info.profile_label || info.draining_since || info.state_since) {
        s.unmanaged_marked.push_back(
            {name, info.profile_label, info.draining_since, info.state_since});
      }
    }
  });
  std::sort(s.managed.begin(), s.managed.end(),
            [](const ManagedNode& a, const ManagedNode& b) { return a.name < b.name; });
  std::sort(s.unmanaged_marked.begin(), s.unmanaged_marked.end(),
            [](const MarkedNode& a, const MarkedNode& b) { return a.name < b.name; });
  npps_->read([&](const kube::Informer<NppInfo>::Map& npps) {
    for (const auto& [name, info] : npps) {
      s.npps.emplace(name, info);
    }
  });
  if (control_) {
    control_->read([&](const kube::Informer<ControlInfo>::Map& items) {
      if (!items.empty()) {
        s.control = items.begin()->second;
      }
    });
  }
  fill_policy_context(s, counts_.by_class());
  s.context.profile_label = options_.nodes.profile_label;
  {
    std::lock_guard lock(pending_mutex_);
    s.context.workloads.pending_perf.reserve(pending_.size());
    for (const auto& [key, pod] : pending_) {
      s.context.workloads.pending_perf.push_back(pod);
    }
  }
  if (signals_ != nullptr) {
    signals_->fill(s.context);
  }
  return s;
}

void fill_policy_context(Snapshot& s, const PodCounts::ByClass& classes) {
  policy::Context& c = s.context;
  c.now = s.now;
  c.pods_known = s.pods_known;
  c.workloads.cluster = classes.cluster;
  c.workloads.pending_perf_sensitive = classes.pending_perf_sensitive;
  c.nodes.clear();
  c.nodes.reserve(s.managed.size());
  for (const auto& m : s.managed) {
    policy::NodeContext n;
    n.name = m.name;
    n.zone = m.zone;
    n.rack = m.rack;
    n.allocatable_cpu = m.allocatable_cpu;
    n.state = policy::state_from_label(m.label ? std::optional<std::string_view>(*m.label)
                                               : std::nullopt);
    n.perf_pods = m.perf_pods;
    n.fit = m.fit;
    if (auto b = classes.bound.find(m.name); b != classes.bound.end()) {
      n.bound = b->second;
    }
    if (auto npp = s.npps.find(api::canonical_profile_name(m.name)); npp != s.npps.end()) {
      n.package_max_watts = npp->second.package_max_watts;
    }
    if (auto it = classes.per_node.find(m.name); it != classes.per_node.end()) {
      n.pods = it->second;
    }
    n.last_transition = policy::last_transition(
        n.state, policy::read_memory(m.state_since, std::nullopt), m.draining_since);
    c.nodes.push_back(std::move(n));
  }
}

}  // namespace joulie::operator_mode
