#pragma once
// core/v1 Events on Nodes (docs/design.md#events-on-nodes), recorded without ever holding up a
// reconcile pass.
//
// record() only queues (bounded; a full queue drops the event with a warning). A worker thread
// sends: a new (node, type, reason, message) creates an Event; the same one again within the
// aggregation window patches that Event's count and lastTimestamp instead (no event spam on
// repeated deferrals). API errors are retried a few times with a short backoff, then the event is
// logged and dropped.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>

#include "joulie/common/clock.hpp"
#include "joulie/common/result.hpp"
#include "joulie/kube/api.hpp"
#include "joulie/kube/backoff.hpp"

namespace joulie::kube {

struct EventRecorderOptions {
  Resource events_resource{"", "v1", "events", "Event", true};
  std::string component = "joulie-operator";
  std::string instance;  // reportingInstance (e.g. the leader identity); "" to omit
  std::chrono::milliseconds aggregation_window{600000};
  size_t max_queue = 1000;
  int max_attempts = 3;
  Backoff::Options retry_backoff{std::chrono::milliseconds(200), std::chrono::milliseconds(2000),
                                 2.0, 0.2};
  const Clock* clock = nullptr;  // RealClock when null
  RandomSource random;
};

struct NodeRef {
  std::string name;
  std::string uid;
  // The involved object is a Node unless set otherwise; a namespaced object (the operator's
  // own Pod, for policy-file reload events) carries its namespace, where its Events live. An
  // object without one (a Node) has its Events in "default": the only namespace a real API
  // server takes for a core/v1 Event without eventTime about a cluster-scoped object.
  std::string kind = "Node";
  std::string ns = {};
};

enum class EventType { normal, warning };

class EventRecorder {
 public:
  EventRecorder(Api& api, EventRecorderOptions options = {});
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // Starts the sending thread. Without start(), events wait for process_pending().
  void start();
  // Stops the thread; events still queued are dropped (and counted).
  void stop();

  // Queues one event; never blocks on the API server. Thread-safe.
  void record(const NodeRef& node, EventType type, std::string reason, std::string message);

  // Sends everything queued, on the calling thread (used by the worker, and by tests).
  void process_pending();
  // Waits until the queue is empty and nothing is being sent (bounded by timeout).
  bool flush(std::chrono::milliseconds timeout);

  uint64_t sent() const { return sent_.load(); }        // creates + patches that succeeded
  uint64_t dropped() const { return dropped_.load(); }  // queue full, or failed after retries
  StopSignal& stop_signal() { return stop_; }           // tests: wait_hook() for retry waits

 private:
  struct Pending {
    NodeRef node;
    EventType type;
    std::string reason;
    std::string message;
    SystemTime at;
    SteadyTime at_mono;
  };
  struct Series {
    std::string event_name;
    int64_t count = 0;
    SteadyTime last_seen{};
  };
  using SeriesKey = std::tuple<std::string, EventType, std::string, std::string>;

  void send(const Pending& event);
  Status create_event(const Pending& event, Series& series);
  Status patch_event(const Pending& event, Series& series);
  // Runs `attempt` up to max_attempts times while it fails with a retryable error.
  Status with_retries(const std::function<Status()>& attempt);
  std::string event_name(const Pending& event);
  void prune(SteadyTime now);
  void run();

  Api& api_;
  EventRecorderOptions options_;
  const Clock* clock_;
  RandomSource random_;

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_;
  bool busy_ = false;

  std::mutex send_mutex_;  // one sender at a time; guards series_
  std::map<SeriesKey, Series> series_;
  uint64_t name_counter_ = 0;

  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> dropped_{0};

  StopSignal stop_;
  std::mutex thread_mutex_;
  std::thread worker_;
  std::atomic<bool> worker_running_{false};
};

}  // namespace joulie::kube
