#include "joulie/agent/daemon.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "joulie/api/fnv.hpp"
#include "joulie/common/log.hpp"
#include "joulie/kube/backoff.hpp"

namespace joulie::agent {

struct AgentDaemon::Slot {
  Slot(const std::string& name, const NodeControllerContext& context) : controller(name, context) {}
  std::mutex step_mutex;  // one step of this node at a time
  NodeController controller;
  // Guarded by AgentDaemon::queue_mutex_.
  bool queued = false;
  bool running = false;
  bool again = false;
  bool force = false;
  bool dropped = false;
};

namespace {

bool spec_changed(const NppEntry& old, const NppEntry& now) {
  return old.npp.metadata.uid != now.npp.metadata.uid ||
         old.npp.metadata.generation != now.npp.metadata.generation ||
         !(old.npp.spec == now.npp.spec) || old.invalid != now.invalid;
}

bool spec_changed(const TpEntry& old, const TpEntry& now) {
  return old.tp.metadata.uid != now.tp.metadata.uid || !(old.tp.spec == now.tp.spec);
}

// Sample period of the pass loop (see node_controller.cpp): the interval, or an even part of
// it no longer than 30 s.
std::chrono::nanoseconds tick_of(std::chrono::nanoseconds interval) {
  if (interval <= kMaxSamplePeriod) {
    return interval;
  }
  auto parts = (interval + kMaxSamplePeriod - std::chrono::nanoseconds(1)) / kMaxSamplePeriod;
  return interval / parts;
}

}  // namespace

AgentDaemon::AgentDaemon(kube::Api& api, DaemonOptions options)
    : api_(api),
      options_(std::move(options)),
      metrics_(*options_.registry),
      status_(api, StatusWriter::Options{std::chrono::milliseconds(1000),
                                         std::chrono::milliseconds(30000), options_.registry,
                                         options_.controller.actuator.clock}),
      http_(std::max<std::size_t>(16, options_.workers)) {
  options_.controller.status = &status_;
  options_.controller.metrics = &metrics_;
  options_.controller.actuator.pool = &http_;
  options_.controller.actuator.host_allowed = !options_.pool_mode;
  if (options_.workers == 0) {
    options_.workers = 1;
  }
}

AgentDaemon::~AgentDaemon() {
  stop();
  if (nodes_) {
    nodes_->stop();
  }
  if (npps_) {
    npps_->stop();
  }
  if (tps_) {
    tps_->stop();
  }
  status_.stop();
}

bool AgentDaemon::choose_npp_watch(const std::atomic<bool>& stop) {
  if (options_.pool_mode) {
    watch_chosen_ = true;
    return true;
  }
  kube::ListOptions probe;
  probe.field_selector = "spec.nodeName=" + options_.node;
  probe.limit = 1;
  kube::Backoff backoff(options_.informer_backoff);
  bool warned = false;
  while (!stop.load()) {
    auto listed = api_.list(kube::resources::node_power_profiles, "", probe);
    if (listed.ok()) {
      watch_chosen_ = true;
      return true;
    }
    if (listed.code() == Errc::bad_request) {
      fallback_ = true;
      metrics_.field_selector_fallback().set(1);
      log::warn("agent",
                "the API server refused the spec.nodeName field selector (no selectableFields "
                "support); watching every NodePowerProfile and filtering locally",
                {{"node", options_.node}, {"error", listed.error()}});
      watch_chosen_ = true;
      return true;
    }
    if (!warned) {
      log::warn("agent", "cannot list NodePowerProfiles yet; retrying",
                {{"error", listed.error()}});
      warned = true;
    }
    auto delay = backoff.next();
    auto deadline = std::chrono::steady_clock::now() + delay;
    while (!stop.load() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // interruptible backoff
    }
  }
  return false;
}

void AgentDaemon::start_informers() {
  auto base = [&](const kube::Resource& resource) {
    kube::InformerOptions o;
    o.resource = resource;
    o.metrics = options_.registry;
    o.backoff = options_.informer_backoff;
    o.page_size = options_.list_page_size;
    return o;
  };

  // ---- NodePowerProfiles ----
  kube::InformerOptions npp_options = base(kube::resources::node_power_profiles);
  std::string only_node;
  if (!options_.pool_mode) {
    only_node = options_.node;
    if (!fallback_) {
      npp_options.field_selector = "spec.nodeName=" + options_.node;
    }
  }
  npps_ = std::make_unique<kube::Informer<NppEntry>>(
      api_, npp_options, [only_node](const rapidjson::Value& object) {
        return project_node_power_profile(object, only_node);
      });
  npps_->on_add([this](const std::string&, const NppEntry& entry) {
    if (!entry.invalid.empty()) {
      log::warn("agent", "NodePowerProfile does not validate",
                {{"name", entry.npp.metadata.name}, {"error", entry.invalid}});
    }
    wake(desired_.upsert_node_power_profile(entry));
  });
  npps_->on_update([this](const std::string&, const NppEntry& old, const NppEntry& now) {
    auto nodes = desired_.upsert_node_power_profile(now);
    if (spec_changed(old, now)) {  // our own status writes do not re-trigger a step
      if (!now.invalid.empty()) {
        log::warn("agent", "NodePowerProfile does not validate",
                  {{"name", now.npp.metadata.name}, {"error", now.invalid}});
      }
      wake(nodes);
    }
  });
  npps_->on_delete([this](const std::string&, const NppEntry& last) {
    wake(desired_.remove_node_power_profile(last.npp.metadata.name));
  });

  // ---- TelemetryProfiles ----
  tps_ = std::make_unique<kube::Informer<TpEntry>>(
      api_, base(kube::resources::telemetry_profiles),
      [](const rapidjson::Value& object) { return project_telemetry_profile(object); });
  tps_->on_add([this](const std::string&, const TpEntry& entry) {
    desired_.upsert_telemetry_profile(entry);
    wake_all();
  });
  tps_->on_update([this](const std::string&, const TpEntry& old, const TpEntry& now) {
    desired_.upsert_telemetry_profile(now);
    if (spec_changed(old, now)) {
      wake_all();
    }
  });
  tps_->on_delete([this](const std::string&, const TpEntry& last) {
    desired_.remove_telemetry_profile(last.tp.metadata.name);
    wake_all();
  });

  // ---- Nodes (pool mode) ----
  if (options_.pool_mode) {
    kube::InformerOptions node_options = base(kube::resources::nodes);
    node_options.label_selector = options_.pool_node_selector;
    const std::uint32_t shards = options_.pool_shards;
    const std::uint32_t shard = options_.pool_shard_id;
    nodes_ = std::make_unique<kube::Informer<NodeSeen>>(
        api_, node_options,
        [shards, shard](const rapidjson::Value& object) -> std::optional<NodeSeen> {
          std::string key = kube::object_key(object);
          if (key.empty() || api::shard_of(key, shards) != shard) {
            return std::nullopt;
          }
          return NodeSeen{};
        });
    nodes_->on_add([this](const std::string& name, const NodeSeen&) { add_node(name); });
    nodes_->on_delete([this](const std::string& name, const NodeSeen&) { drop_node(name); });
  }
  informers_created_ = true;
  if (!options_.pool_mode) {
    add_node(options_.node);
  }

  npps_->start();
  tps_->start();
  if (nodes_) {
    nodes_->start();
  }
}

bool AgentDaemon::start(const std::atomic<bool>& stop) {
  if (!choose_npp_watch(stop)) {
    return false;
  }
  status_.start();
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = false;
  }
  for (std::size_t i = 0; i < options_.workers; ++i) {
    workers_.emplace_back([this] { worker_loop(); });
  }
  start_informers();
  return true;
}

bool AgentDaemon::synced() const {
  // informers_created_ orders the reads of the informer pointers after their creation.
  return informers_created_.load() && npps_ && npps_->synced() && tps_ && tps_->synced() &&
         (!options_.pool_mode || (nodes_ && nodes_->synced()));
}

std::string AgentDaemon::sync_status() const {
  if (!informers_created_.load()) {
    return "choosing how to watch NodePowerProfiles";
  }
  auto state = [](const auto& informer) {
    return informer && informer->synced() ? "synced" : "not synced";
  };
  std::string text =
      fmt::format("nodepowerprofiles {}, telemetryprofiles {}", state(npps_), state(tps_));
  if (options_.pool_mode) {
    text += fmt::format(", nodes {}", state(nodes_));
  }
  return text;
}

bool AgentDaemon::wait_synced(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!synced()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // bounded poll of the flags
  }
  return true;
}

std::size_t AgentDaemon::owned_nodes() const {
  std::lock_guard lock(slots_mutex_);
  return slots_.size();
}

void AgentDaemon::add_node(const std::string& name) {
  SlotPtr slot;
  {
    std::lock_guard lock(slots_mutex_);
    if (slots_.contains(name)) {
      return;
    }
    slot = std::make_shared<Slot>(name, options_.controller);
    slots_.emplace(name, slot);
    metrics_.owned_nodes().set(static_cast<double>(slots_.size()));
  }
  if (options_.pool_mode) {
    log::debug("agent", "node added to this shard", {{"node", name}});
  }
  enqueue(slot, true);
}

void AgentDaemon::drop_node(const std::string& name) {
  SlotPtr slot;
  {
    std::lock_guard lock(slots_mutex_);
    auto it = slots_.find(name);
    if (it == slots_.end()) {
      return;
    }
    slot = it->second;
    slots_.erase(it);
    metrics_.owned_nodes().set(static_cast<double>(slots_.size()));
  }
  log::info("agent", "node left this shard or the pool; releasing it", {{"node", name}});
  {
    std::lock_guard lock(queue_mutex_);
    slot->dropped = true;
  }
  enqueue(slot, true);
}

void AgentDaemon::wake(const std::vector<std::string>& nodes) {
  std::vector<SlotPtr> found;
  {
    std::lock_guard lock(slots_mutex_);
    for (const auto& name : nodes) {
      auto it = slots_.find(name);
      if (it != slots_.end()) {
        found.push_back(it->second);
      }
    }
  }
  for (const auto& slot : found) {
    enqueue(slot, true);
  }
}

std::vector<AgentDaemon::SlotPtr> AgentDaemon::all_slots() const {
  std::lock_guard lock(slots_mutex_);
  std::vector<SlotPtr> all;
  all.reserve(slots_.size());
  for (const auto& [name, slot] : slots_) {
    all.push_back(slot);
  }
  return all;
}

void AgentDaemon::wake_all() {
  for (const auto& slot : all_slots()) {
    enqueue(slot, true);
  }
}

void AgentDaemon::enqueue(const SlotPtr& slot, bool force) {
  std::lock_guard lock(queue_mutex_);
  if (force) {
    slot->force = true;
  }
  if (slot->queued) {
    return;
  }
  if (slot->running) {
    slot->again = true;  // picked up again when the running step ends
    return;
  }
  slot->queued = true;
  queue_.push_back(slot);
  queue_cv_.notify_one();
}

void AgentDaemon::worker_loop() {
  std::unique_lock lock(queue_mutex_);
  while (true) {
    queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) {
      return;
    }
    SlotPtr slot = std::move(queue_.front());
    queue_.pop_front();
    slot->queued = false;
    slot->running = true;
    bool force = slot->force;
    slot->force = false;
    ++active_;
    lock.unlock();

    process(slot, force);

    lock.lock();
    --active_;
    slot->running = false;
    if (slot->again) {
      slot->again = false;
      slot->queued = true;
      queue_.push_back(slot);
      queue_cv_.notify_one();
    }
    if (queue_.empty() && active_ == 0) {
      idle_cv_.notify_all();
    }
  }
}

void AgentDaemon::process(const SlotPtr& slot, bool force) {
  std::lock_guard step_lock(slot->step_mutex);
  const std::string& node = slot->controller.node();
  bool dropped;
  {
    std::lock_guard lock(queue_mutex_);
    dropped = slot->dropped;
  }
  if (dropped) {
    auto released = slot->controller.release();
    if (released && released->result == ApplyResult::error) {
      // Keep trying: the node is gone from this shard, but its settings are still ours.
      enqueue(slot, true);
      return;
    }
    metrics_.remove_node(node);
    return;
  }
  if (!synced()) {
    // Acting on a partial picture could write through a route the TelemetryProfiles (not yet
    // listed) rule out; the first pass after the sync steps every node.
    return;
  }
  StepResult result;
  try {
    result = slot->controller.step(desired_.inputs_for(node), force,
                                   options_.controller.actuator.clock->monotonic());
  } catch (const std::exception& e) {
    // Nothing outside should be able to throw through here; if it does, the node is reported
    // as failing and the process keeps serving the others.
    log::error("agent", "node step failed", {{"node", node}, {"error", e.what()}});
    metrics_.record_error(node);
    std::lock_guard lock(queue_mutex_);
    ++pass_errors_;
    return;
  }
  if (result.outcome && result.outcome->result == ApplyResult::error) {
    std::lock_guard lock(queue_mutex_);
    ++pass_errors_;
  }
}

bool AgentDaemon::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(queue_mutex_);
  return idle_cv_.wait_for(lock, timeout, [this] {
    return stopping_ || (queue_.empty() && active_ == 0);
  }) && !stopping_;
}

std::size_t AgentDaemon::run_pass(bool force) {
  auto started = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(queue_mutex_);
    pass_errors_ = 0;
  }
  const std::vector<SlotPtr> all = all_slots();
  for (const auto& slot : all) {
    enqueue(slot, force);
  }
  while (!wait_idle(std::chrono::milliseconds(200))) {
    std::lock_guard lock(queue_mutex_);
    if (stopping_) {
      break;
    }
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.pass_seconds().observe(seconds);
  metrics_.last_pass_seconds().set(seconds);
  log::debug("agent", "pass done", {{"nodes", all.size()}, {"seconds", seconds}});
  std::lock_guard lock(queue_mutex_);
  return pass_errors_;
}

void AgentDaemon::run() {
  const auto tick = tick_of(options_.controller.interval);
  std::unique_lock lock(run_mutex_);
  while (!run_stop_) {
    auto next = std::chrono::steady_clock::now() + tick;
    lock.unlock();
    run_pass(false);
    lock.lock();
    run_cv_.wait_until(lock, next, [this] { return run_stop_; });
  }
}

void AgentDaemon::stop() {
  {
    std::lock_guard lock(run_mutex_);
    run_stop_ = true;
  }
  run_cv_.notify_all();
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  idle_cv_.notify_all();
  for (auto& worker : workers_) {
    if (worker.joinable()) {
      worker.join();
    }
  }
  workers_.clear();
}

namespace {

// One node's part of a release: which recorded settings went back and which did not.
void release_into(NodeController& controller, ReleaseSummary& summary, std::mutex& mutex) {
  if (!controller.holds_settings()) {
    return;
  }
  const std::string& node = controller.node();
  std::vector<std::string> before = controller.actuator().recorded_settings();
  bool unknown = controller.actuator().originals_unknown();
  auto released = controller.release();
  std::vector<std::string> after = controller.actuator().recorded_settings();
  std::lock_guard lock(mutex);
  for (const auto& rel : before) {
    bool left = std::find(after.begin(), after.end(), rel) != after.end();
    (left ? summary.not_restored : summary.restored).push_back(node + ":" + rel);
  }
  bool failed = released && released->result == ApplyResult::error;
  if (failed) {
    summary.errors.push_back(node + ": " + released->message);
  } else if (before.empty() && released &&
             controller.actuator().route().control == ControlRoute::http) {
    summary.restored.push_back(node + ":control route");
  }
  if (unknown && !failed) {
    summary.originals_unknown_nodes.push_back(node);
  }
}

}  // namespace

ReleaseSummary AgentDaemon::release_all() {
  std::vector<SlotPtr> all;
  {
    std::lock_guard lock(slots_mutex_);
    for (const auto& [name, slot] : slots_) {
      all.push_back(slot);
    }
  }
  ReleaseSummary summary;
  std::mutex summary_mutex;
  std::atomic<std::size_t> next{0};
  auto release_some = [&] {
    for (std::size_t i = next++; i < all.size(); i = next++) {
      std::lock_guard step_lock(all[i]->step_mutex);
      release_into(all[i]->controller, summary, summary_mutex);
    }
  };
  std::vector<std::thread> helpers;
  std::size_t threads = std::min(options_.workers, all.size());
  for (std::size_t i = 1; i < threads; ++i) {
    helpers.emplace_back(release_some);
  }
  release_some();
  for (auto& helper : helpers) {
    helper.join();
  }
  return summary;
}

}  // namespace joulie::agent
