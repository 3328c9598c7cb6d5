#include "joulie/kube/events.hpp"

#include <fmt/format.h>

#include <vector>

#include "joulie/common/duration.hpp"
#include "joulie/common/log.hpp"

namespace joulie::kube {

namespace {

constexpr const char* kComponent = "events";
constexpr size_t kMaxMessageBytes = 1024;  // the API server's limit for Event messages
constexpr size_t kMaxNameBytes = 253;

bool retryable(Errc code) {
  switch (code) {
    case Errc::server_error:
    case Errc::too_many_requests:
    case Errc::unavailable:
    case Errc::timeout:
    case Errc::io:
    case Errc::tls:
      return true;
    default:
      return false;
  }
}

// Cut at a UTF-8 character boundary.
std::string truncate_utf8(std::string text, size_t max_bytes) {
  if (text.size() <= max_bytes) {
    return text;
  }
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  text.resize(cut);
  return text;
}

// Where an Event about `object` lives. The API server refuses (422) a core/v1 Event without
// eventTime whose namespace differs from its involvedObject's, or, for an object without a
// namespace, is anything but "default" (Kubernetes' legacyValidateEvent).
const std::string& event_namespace(const NodeRef& object) {
  static const std::string kDefault = "default";
  return object.ns.empty() ? kDefault : object.ns;
}

rapidjson::Value str(std::string_view s, rapidjson::Document::AllocatorType& a) {
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

}  // namespace

EventRecorder::EventRecorder(Api& api, EventRecorderOptions options)
    : api_(api),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : &RealClock::instance()),
      random_(options_.random ? options_.random : default_random()) {
  options_.max_attempts = std::max(options_.max_attempts, 1);
}

EventRecorder::~EventRecorder() { stop(); }

void EventRecorder::record(const NodeRef& node, EventType type, std::string reason,
                           std::string message) {
  Pending event{node,
                type,
                std::move(reason),
                truncate_utf8(std::move(message), kMaxMessageBytes),
                clock_->now(),
                clock_->monotonic()};
  {
    std::lock_guard lock(queue_mutex_);
    if (queue_.size() >= options_.max_queue) {
      ++dropped_;
      log::warn(kComponent, "event queue full; event dropped",
                {{"node", node.name}, {"reason", event.reason}});
      return;
    }
    queue_.push_back(std::move(event));
  }
  queue_cv_.notify_all();
}

void EventRecorder::process_pending() {
  while (true) {
    Pending event;
    {
      std::lock_guard lock(queue_mutex_);
      if (queue_.empty() || (worker_running_ && stop_.stopped())) {
        return;
      }
      event = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    send(event);
    {
      std::lock_guard lock(queue_mutex_);
      busy_ = false;
    }
    queue_cv_.notify_all();
  }
}

bool EventRecorder::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(queue_mutex_);
  return queue_cv_.wait_for(lock, timeout, [this] { return queue_.empty() && !busy_; });
}

void EventRecorder::prune(SteadyTime now) {
  std::erase_if(series_, [&](const auto& entry) {
    return now - entry.second.last_seen >= options_.aggregation_window;
  });
}

std::string EventRecorder::event_name(const Pending& event) {
  // client-go's "<object>.<unix nanos in hex>", with a counter against same-nanosecond events.
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(event.at.time_since_epoch());
  std::string suffix = fmt::format(".{:x}", static_cast<uint64_t>(nanos.count()) + name_counter_++);
  std::string base = event.node.name.empty() ? std::string("node") : event.node.name;
  if (base.size() + suffix.size() > kMaxNameBytes) {
    base.resize(kMaxNameBytes - suffix.size());
  }
  return base + suffix;
}

Status EventRecorder::with_retries(const std::function<Status()>& attempt) {
  Backoff backoff(options_.retry_backoff, random_);
  Status result;
  for (int i = 0; i < options_.max_attempts; ++i) {
    result = attempt();
    if (result.ok() || !retryable(result.code()) || i + 1 == options_.max_attempts) {
      return result;
    }
    if (!stop_.wait_for(backoff.next())) {
      return result;
    }
  }
  return result;
}

Status EventRecorder::create_event(const Pending& event, Series& series) {
  std::string name = event_name(event);
  std::string timestamp = format_rfc3339(event.at, false);

  rapidjson::Document body(rapidjson::kObjectType);
  auto& a = body.GetAllocator();
  body.AddMember("apiVersion", "v1", a);
  body.AddMember("kind", "Event", a);
  rapidjson::Value metadata(rapidjson::kObjectType);
  metadata.AddMember("name", str(name, a), a);
  const std::string& ns = event_namespace(event.node);
  metadata.AddMember("namespace", str(ns, a), a);
  body.AddMember("metadata", metadata, a);
  rapidjson::Value involved(rapidjson::kObjectType);
  involved.AddMember("kind", str(event.node.kind, a), a);
  involved.AddMember("apiVersion", "v1", a);
  involved.AddMember("name", str(event.node.name, a), a);
  if (!event.node.ns.empty()) {
    involved.AddMember("namespace", str(event.node.ns, a), a);
  }
  if (!event.node.uid.empty()) {
    involved.AddMember("uid", str(event.node.uid, a), a);
  }
  body.AddMember("involvedObject", involved, a);
  body.AddMember("reason", str(event.reason, a), a);
  body.AddMember("message", str(event.message, a), a);
  body.AddMember("type", str(event.type == EventType::warning ? "Warning" : "Normal", a), a);
  rapidjson::Value source(rapidjson::kObjectType);
  source.AddMember("component", str(options_.component, a), a);
  body.AddMember("source", source, a);
  body.AddMember("reportingComponent", str(options_.component, a), a);
  if (!options_.instance.empty()) {
    body.AddMember("reportingInstance", str(options_.instance, a), a);
  }
  body.AddMember("firstTimestamp", str(timestamp, a), a);
  body.AddMember("lastTimestamp", str(timestamp, a), a);
  body.AddMember("count", 1, a);

  Status status = with_retries([&]() -> Status {
    auto created = api_.create(options_.events_resource, ns, body);
    if (!created.ok()) {
      return created.error();
    }
    return Status::success();
  });
  if (status.ok()) {
    series.event_name = name;
    series.count = 1;
    series.last_seen = event.at_mono;
  }
  return status;
}

Status EventRecorder::patch_event(const Pending& event, Series& series) {
  int64_t count = series.count + 1;
  std::string patch =
      fmt::format(R"({{"count":{},"lastTimestamp":"{}"}})", count, format_rfc3339(event.at, false));
  Status status = with_retries([&]() -> Status {
    auto patched = api_.merge_patch(options_.events_resource, event_namespace(event.node),
                                    series.event_name, patch);
    if (!patched.ok()) {
      return patched.error();
    }
    return Status::success();
  });
  if (status.ok()) {
    series.count = count;
    series.last_seen = event.at_mono;
  }
  return status;
}

void EventRecorder::send(const Pending& event) {
  std::lock_guard lock(send_mutex_);
  prune(event.at_mono);
  SeriesKey key{event.node.kind == "Node"
                    ? event.node.name
                    : event.node.kind + "/" + event.node.ns + "/" + event.node.name,
                event.type, event.reason, event.message};
  auto it = series_.find(key);
  Status status;
  if (it != series_.end()) {
    status = patch_event(event, it->second);
    if (status.code() == Errc::not_found) {
      // The Event expired on the server (events have a TTL): start a new one.
      status = create_event(event, it->second);
    }
  } else {
    Series series;
    status = create_event(event, series);
    if (status.ok()) {
      series_.emplace(std::move(key), std::move(series));
    }
  }
  if (status.ok()) {
    ++sent_;
    return;
  }
  ++dropped_;
  log::warn(kComponent, "event dropped",
            {{"node", event.node.name}, {"reason", event.reason}, {"error", status.error()}});
}

void EventRecorder::run() {
  while (!stop_.stopped()) {
    {
      std::unique_lock lock(queue_mutex_);
      queue_cv_.wait(lock, [this] { return !queue_.empty() || stop_.stopped(); });
    }
    if (stop_.stopped()) {
      break;
    }
    process_pending();
  }
}

void EventRecorder::start() {
  std::lock_guard lock(thread_mutex_);
  if (worker_.joinable()) {
    return;
  }
  stop_.reset();
  worker_running_ = true;
  worker_ = std::thread([this] { run(); });
}

void EventRecorder::stop() {
  stop_.request_stop();
  {
    std::lock_guard lock(queue_mutex_);  // no lost wake-up between the worker's check and wait
  }
  queue_cv_.notify_all();
  bool had_worker = false;
  {
    std::lock_guard lock(thread_mutex_);
    if (worker_.joinable()) {
      worker_.join();
      worker_running_ = false;
      had_worker = true;
    }
  }
  if (!had_worker) {
    return;
  }
  std::lock_guard lock(queue_mutex_);
  if (!queue_.empty()) {
    dropped_ += queue_.size();
    log::warn(kComponent, "stopping: queued events dropped",
              {{"count", static_cast<int64_t>(queue_.size())}});
    queue_.clear();
  }
}

}  // namespace joulie::kube
