#pragma once
// The agent process for both modes (docs/design.md#what-the-agent-watches): informers feed the
// desired state, node workers apply it.
//
//   daemonset: one node (--node); NodePowerProfiles watched with fieldSelector
//              spec.nodeName=<node> (when the API server refuses it with 400: every object,
//              filtered here, logged once), TelemetryProfiles; no node or pod watches.
//   pool:      nodes matching --pool-node-selector that hash to this shard
//              (fnv1a32(name) mod shards), every NodePowerProfile, TelemetryProfiles; one
//              NodeController per owned node, added and dropped (released) as nodes come and go.
//
// Work is keyed by node and de-duplicated (a node is never stepped by two threads at once): an
// informer event wakes its node at once (applied within 1 s), and a pass over every owned node
// runs each tick (the interval, or a divisor of it ≤ 30 s for energy sampling) on a small
// worker pool.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "joulie/agent/agent_metrics.hpp"
#include "joulie/agent/desired_state.hpp"
#include "joulie/agent/http_route.hpp"
#include "joulie/agent/node_controller.hpp"
#include "joulie/agent/reporting.hpp"
#include "joulie/api/names.hpp"
#include "joulie/kube/api.hpp"
#include "joulie/kube/informer.hpp"

namespace joulie::agent {

struct DaemonOptions {
  bool pool_mode = false;
  std::string node;  // daemonset mode
  std::string pool_node_selector = std::string(api::kDefaultNodeSelector);
  std::uint32_t pool_shards = 1;
  std::uint32_t pool_shard_id = 0;
  std::size_t workers = 1;
  NodeControllerContext controller;       // status/metrics pointers are filled in by the daemon
  metrics::Registry* registry = nullptr;  // required
  // Informer tuning (tests shorten the backoff).
  kube::Backoff::Options informer_backoff;
  // List limit of the informers (--kube-list-page-size); 0 = one unpaginated list.
  int64_t list_page_size = 500;
};

// What one release_all() put back. Settings are "<node>:<path relative to the sysfs root>"
// (host route) or "<node>:control route" (HTTP).
struct ReleaseSummary {
  std::vector<std::string> restored;
  std::vector<std::string> not_restored;
  std::vector<std::string> errors;                   // "<node>: <reason>" per failed node
  std::vector<std::string> originals_unknown_nodes;  // restored to the hardware maximum
  bool complete() const { return not_restored.empty() && errors.empty(); }
};

struct NodeSeen {
  bool operator==(const NodeSeen&) const = default;
};

class AgentDaemon {
 public:
  AgentDaemon(kube::Api& api, DaemonOptions options);
  ~AgentDaemon();
  AgentDaemon(const AgentDaemon&) = delete;
  AgentDaemon& operator=(const AgentDaemon&) = delete;

  // Chooses how to watch NodePowerProfiles (daemonset: probes the field selector, retrying
  // while the API server is unreachable), then starts the informers, workers and status
  // writer. Returns false only when `stop` was set meanwhile.
  bool start(const std::atomic<bool>& stop);

  bool synced() const;
  std::string sync_status() const;
  bool wait_synced(std::chrono::milliseconds timeout) const;

  // One pass over every owned node; waits until it is done. `force` applies on every node
  // (--once); otherwise nodes apply when their interval is up and only sample in between.
  // Returns the number of nodes whose step ended in an error.
  std::size_t run_pass(bool force);

  // Passes every tick until stop() is called.
  void run();
  // Ends run() and the workers (a step in progress finishes); informers keep the cache.
  void stop();
  // Restores every node that holds settings (again after a partial failure: only what is
  // still held is attempted). Call after stop().
  ReleaseSummary release_all();

  StatusWriter& status_writer() { return status_; }
  AgentMetrics& metrics() { return metrics_; }
  bool field_selector_fallback() const { return fallback_.load(); }
  std::size_t owned_nodes() const;

 private:
  struct Slot;
  using SlotPtr = std::shared_ptr<Slot>;

  bool choose_npp_watch(const std::atomic<bool>& stop);
  void start_informers();
  void add_node(const std::string& name);
  void drop_node(const std::string& name);
  void wake(const std::vector<std::string>& nodes);
  void wake_all();
  std::vector<SlotPtr> all_slots() const;  // a copy, taken under slots_mutex_
  void enqueue(const SlotPtr& slot, bool force);
  void worker_loop();
  void process(const SlotPtr& slot, bool force);
  bool wait_idle(std::chrono::milliseconds timeout);

  kube::Api& api_;
  DaemonOptions options_;
  AgentMetrics metrics_;
  StatusWriter status_;
  HttpClientPool http_;
  DesiredState desired_;
  std::atomic<bool> fallback_{false};
  std::atomic<bool> watch_chosen_{false};
  std::atomic<bool> informers_created_{false};

  std::unique_ptr<kube::Informer<NppEntry>> npps_;
  std::unique_ptr<kube::Informer<TpEntry>> tps_;
  std::unique_ptr<kube::Informer<NodeSeen>> nodes_;

  mutable std::mutex slots_mutex_;
  std::map<std::string, SlotPtr> slots_;

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::condition_variable idle_cv_;
  std::deque<SlotPtr> queue_;
  std::size_t active_ = 0;
  std::size_t pass_errors_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;

  std::mutex run_mutex_;
  std::condition_variable run_cv_;
  bool run_stop_ = false;
};

}  // namespace joulie::agent
