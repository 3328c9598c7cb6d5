#include "joulie/kube/informer.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "joulie/common/metrics.hpp"
#include "joulie/kube/json_fields.hpp"

namespace joulie::kube {

namespace {

std::string_view metadata_field(const rapidjson::Value& object, const char* name) {
  return json::string_or_empty(json::object_at(object, "metadata"), name);
}

// A watch ERROR event carries a Status; 410 (or reason Expired/Gone) means our resourceVersion
// is older than the server's history.
bool is_gone_status(const rapidjson::Value& status) {
  if (json::int_at(status, "code") == 410) {
    return true;
  }
  std::string_view reason = json::string_or_empty(status, "reason");
  return reason == "Expired" || reason == "Gone";
}

}  // namespace

std::string object_key(const rapidjson::Value& object) {
  std::string_view name = metadata_field(object, "name");
  if (name.empty()) {
    return {};
  }
  std::string_view ns = metadata_field(object, "namespace");
  if (ns.empty()) {
    return std::string(name);
  }
  std::string key;
  key.reserve(ns.size() + 1 + name.size());
  key.append(ns).append("/").append(name);
  return key;
}

InformerEngine::InformerEngine(Api& api, InformerOptions options)
    : api_(api),
      options_(std::move(options)),
      name_(options_.name.empty() ? options_.resource.plural : options_.name),
      clock_(options_.clock ? options_.clock : &RealClock::instance()),
      random_(options_.random ? options_.random : default_random()),
      backoff_(options_.backoff, random_) {
  if (options_.max_server_timeout < options_.min_server_timeout) {
    options_.max_server_timeout = options_.min_server_timeout;
  }
  unavailable_since_ = clock_->monotonic();
  if (options_.metrics) {
    restarts_metric_ = &options_.metrics
                            ->counter("joulie_kube_watch_restarts_total",
                                      "Watch streams restarted (server end, error or 410), by "
                                      "resource.",
                                      {"resource"})
                            .with({options_.resource.plural});
  }
}

InformerEngine::~InformerEngine() { stop(); }

void InformerEngine::start() {
  std::lock_guard lock(thread_mutex_);
  if (thread_.joinable()) {
    return;
  }
  stop_.reset();
  thread_ = std::thread([this] { run(); });
}

void InformerEngine::stop() {
  stop_.request_stop();
  std::lock_guard lock(thread_mutex_);
  if (thread_.joinable()) {
    thread_.join();
  }
}

bool InformerEngine::synced() const {
  std::lock_guard lock(state_mutex_);
  return synced_;
}

bool InformerEngine::wait_synced(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_mutex_);
  return synced_cv_.wait_for(lock, timeout, [this] { return synced_; });
}

bool InformerEngine::healthy() const { return healthy(clock_->monotonic()); }

bool InformerEngine::healthy(SteadyTime now) const {
  std::lock_guard lock(state_mutex_);
  if (!synced_) {
    return false;
  }
  return !unavailable_since_ || now - *unavailable_since_ < options_.unhealthy_after;
}

std::string InformerEngine::resource_version() const {
  std::lock_guard lock(state_mutex_);
  return resource_version_;
}

void InformerEngine::mark_broken() {
  std::lock_guard lock(state_mutex_);
  if (!unavailable_since_) {
    unavailable_since_ = clock_->monotonic();
  }
}

void InformerEngine::mark_fresh() {
  {
    std::lock_guard lock(state_mutex_);
    unavailable_since_.reset();
    synced_ = true;
  }
  synced_cv_.notify_all();
}

void InformerEngine::wait_after_failure() {
  SteadyTime now = clock_->monotonic();
  if (last_failure_ && now - *last_failure_ >= options_.backoff_reset_after) {
    backoff_.reset();
  }
  last_failure_ = now;
  auto delay = backoff_.next();
  log::debug("informer", "waiting before retrying",
             {{"informer", name_}, {"delay_ms", static_cast<int64_t>(delay.count())}});
  stop_.wait_for(delay);
}

std::chrono::seconds InformerEngine::pick_server_timeout() {
  auto span = options_.max_server_timeout - options_.min_server_timeout;
  double r = std::clamp(random_(), 0.0, 1.0);
  auto extra = std::chrono::seconds(static_cast<int64_t>(static_cast<double>(span.count()) * r));
  return std::min(options_.min_server_timeout + extra, options_.max_server_timeout);
}

Status InformerEngine::relist() {
  ListOptions list_options;
  list_options.label_selector = options_.label_selector;
  list_options.field_selector = options_.field_selector;
  list_options.limit = std::max<int64_t>(options_.page_size, 0);

  begin_relist();
  std::string resource_version;
  size_t items = 0;
  size_t pages = 0;
  while (true) {
    if (stop_.stopped()) {
      abort_relist();
      return Error(Errc::unavailable, "stopped");
    }
    auto page = api_.list(options_.resource, options_.ns, list_options);
    if (!page.ok()) {
      if (page.code() == Errc::gone && !list_options.continue_token.empty()) {
        // The continue token expired (history compacted mid-list): fall back to one full list.
        log::warn("informer", "list continuation expired; listing without pagination",
                  {{"informer", name_}});
        abort_relist();
        begin_relist();
        list_options.continue_token.clear();
        list_options.limit = 0;
        items = 0;
        continue;
      }
      abort_relist();
      return page.error();
    }
    const rapidjson::Value& list = *page;
    const rapidjson::Value* items_value = json::member(list, "items");
    if (items_value == nullptr || !(items_value->IsArray() || items_value->IsNull())) {
      abort_relist();
      return Error(Errc::parse, fmt::format("{} list has no items array", name_));
    }
    if (items_value->IsArray()) {
      for (const auto& item : items_value->GetArray()) {
        std::string key = object_key(item);
        if (key.empty()) {
          log::warn("informer", "listed object without metadata.name skipped",
                    {{"informer", name_}});
          continue;
        }
        relist_item(std::move(key), item);
        ++items;
      }
    }
    ++pages;
    resource_version = std::string(metadata_field(list, "resourceVersion"));
    std::string next(metadata_field(list, "continue"));
    if (next.empty() || list_options.limit == 0) {
      break;
    }
    if (next == list_options.continue_token) {
      abort_relist();
      return Error(Errc::parse, fmt::format("{} list repeated its continue token", name_));
    }
    list_options.continue_token = std::move(next);
  }
  if (resource_version.empty()) {
    abort_relist();
    return Error(Errc::parse, fmt::format("{} list has no metadata.resourceVersion", name_));
  }
  commit_relist();
  {
    std::lock_guard lock(state_mutex_);
    resource_version_ = resource_version;
  }
  mark_fresh();
  log::info("informer", "listed",
            {{"informer", name_},
             {"items", static_cast<int64_t>(items)},
             {"pages", static_cast<int64_t>(pages)},
             {"resourceVersion", resource_version}});
  return Status::success();
}

InformerEngine::WatchEnd InformerEngine::watch_once(bool& productive) {
  WatchOptions watch_options;
  watch_options.label_selector = options_.label_selector;
  watch_options.field_selector = options_.field_selector;
  watch_options.resource_version = resource_version();
  watch_options.allow_bookmarks = true;
  watch_options.server_timeout = pick_server_timeout();
  watch_options.read_idle_timeout = options_.read_idle_timeout;

  SteadyTime started = clock_->monotonic();
  size_t events = 0;
  std::optional<WatchEnd> error_end;
  auto handler = [&](WatchEvent&& event) -> bool {
    if (stop_.stopped()) {
      return false;
    }
    ++events;
    const rapidjson::Value& object = event.object;
    if (event.type == WatchEventType::error) {
      bool gone = is_gone_status(object);
      std::string_view message = json::string_or_empty(object, "message");
      log::warn("informer", gone ? "watch expired (410)" : "watch error event",
                {{"informer", name_}, {"message", message}});
      error_end = gone ? WatchEnd::gone : WatchEnd::broken;
      return false;
    }
    std::string_view rv = metadata_field(object, "resourceVersion");
    if (event.type != WatchEventType::bookmark) {
      std::string key = object_key(object);
      if (key.empty()) {
        log::warn("informer", "watch event without metadata.name skipped", {{"informer", name_}});
        return true;
      }
      EventKind kind = event.type == WatchEventType::deleted ? EventKind::remove
                       : event.type == WatchEventType::added ? EventKind::add
                                                             : EventKind::update;
      apply(kind, std::move(key), object);
    }
    {
      std::lock_guard lock(state_mutex_);
      if (!rv.empty()) {
        resource_version_ = std::string(rv);
      }
    }
    // Events resumed from a continuous resourceVersion: the cache is current again.
    mark_fresh();
    return true;
  };

  Status status = api_.watch(options_.resource, options_.ns, watch_options, handler, stop_.flag());
  productive = events > 0 || clock_->monotonic() - started >= options_.min_productive_watch;
  if (stop_.stopped()) {
    return WatchEnd::stopped;
  }
  if (error_end) {
    return *error_end;
  }
  if (!status.ok()) {
    bool gone = status.code() == Errc::gone;
    log::warn("informer", gone ? "watch expired (410)" : "watch broken",
              {{"informer", name_}, {"error", status.error()}});
    return gone ? WatchEnd::gone : WatchEnd::broken;
  }
  log::debug("informer", "watch ended by the server",
             {{"informer", name_}, {"events", static_cast<int64_t>(events)}});
  return WatchEnd::clean;
}

void InformerEngine::run() {
  bool need_list = true;
  bool initial = true;
  while (!stop_.stopped()) {
    if (need_list) {
      Status listed = relist();
      if (stop_.stopped()) {
        break;
      }
      if (!listed.ok()) {
        log::warn("informer", "list failed", {{"informer", name_}, {"error", listed.error()}});
        mark_broken();
        wait_after_failure();
        continue;
      }
      if (!initial) {
        ++relists_;
      }
      initial = false;
      need_list = false;
    }

    bool productive = false;
    WatchEnd end = watch_once(productive);
    if (end == WatchEnd::stopped || stop_.stopped()) {
      break;
    }
    ++restarts_;
    if (restarts_metric_) {
      restarts_metric_->inc();
    }
    switch (end) {
      case WatchEnd::clean:
        if (!productive) {
          wait_after_failure();
        }
        break;
      case WatchEnd::gone:
        need_list = true;
        mark_broken();
        wait_after_failure();
        break;
      case WatchEnd::broken:
        need_list = options_.relist_on_broken_stream;
        mark_broken();
        wait_after_failure();
        break;
      case WatchEnd::stopped:
        break;
    }
  }
}

}  // namespace joulie::kube
