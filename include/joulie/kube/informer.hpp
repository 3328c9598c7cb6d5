#pragma once
// List-then-watch caches of projected objects (docs/design.md#watches-and-caches).
//
// An Informer<T> lists a resource (paginated), then watches from the list's resourceVersion with
// bookmarks and a randomised server timeout. A watch that ends cleanly is resumed from the last
// resourceVersion seen; a 410 Gone, a broken or idle stream, or a failed request leads to a relist
// after a jittered backoff (0.8 s doubling to 30 s), and the relist is diffed against the cache so
// consumers receive the add/update/delete callbacks for everything missed while disconnected.
//
// The cache holds a projection T of each object (only the fields the consumer reads), keyed by
// "namespace/name" (just "name" for cluster-scoped objects).
//
// Threading: start() runs the loop on its own thread. Callbacks are called on that thread, one at
// a time, after the cache has been updated and outside its lock (a callback may call get() or
// read(), and must not block for long: it delays every later event). Register callbacks before
// start(). get(), read(), snapshot(), size(), synced() and healthy() may be called from any thread.

#include <rapidjson/document.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "joulie/common/clock.hpp"
#include "joulie/common/log.hpp"
#include "joulie/common/result.hpp"
#include "joulie/kube/api.hpp"
#include "joulie/kube/backoff.hpp"

namespace joulie::metrics {
class Registry;
class Counter;
}  // namespace joulie::metrics

namespace joulie::kube {

// ---- interned strings for compact projections ------------------------------------------------

// A shared, immutable string: a node name repeated in 150 000 pod projections costs a 16-byte
// handle per pod instead of a 32-byte std::string plus its heap block.
class InternedString {
 public:
  InternedString() = default;

  const std::string& str() const { return ptr_ ? *ptr_ : empty(); }
  bool empty_string() const { return str().empty(); }

  friend bool operator==(const InternedString& a, const InternedString& b) {
    return a.ptr_ == b.ptr_ || a.str() == b.str();
  }
  friend bool operator==(const InternedString& a, std::string_view b) { return a.str() == b; }

 private:
  friend class StringInterner;
  explicit InternedString(std::shared_ptr<const std::string> p) : ptr_(std::move(p)) {}
  static const std::string& empty();
  std::shared_ptr<const std::string> ptr_;
};

// Thread-safe pool; strings nobody holds any more are purged as the pool grows, so churning node
// names do not accumulate.
class StringInterner {
 public:
  InternedString intern(std::string_view text);
  size_t size() const;  // pooled strings, including ones not yet purged

 private:
  void purge_locked();

  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  mutable std::mutex mutex_;
  // Keys own their text: a key viewing the pooled string would dangle once it expires.
  std::unordered_map<std::string, std::weak_ptr<const std::string>, Hash, std::equal_to<>> pool_;
  size_t purge_at_ = 1024;
};

// ---- the list/watch engine ---------------------------------------------------------------------

struct InformerOptions {
  Resource resource;
  std::string ns;  // "" = all namespaces (or a cluster-scoped resource)
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;  // list limit; 0 = one unpaginated list
  // timeoutSeconds sent with each watch: uniform in [min, max] so that a fleet of clients does
  // not reconnect in lock step.
  std::chrono::seconds min_server_timeout{300};
  std::chrono::seconds max_server_timeout{600};
  // Nothing at all received (not even a bookmark) for this long: the transport ends the watch
  // with an error and the informer treats it as a broken stream.
  std::chrono::milliseconds read_idle_timeout{180000};
  Backoff::Options backoff;
  // No failure for this long: the next failure starts again from backoff.initial.
  std::chrono::milliseconds backoff_reset_after{120000};
  // healthy() turns false once the data has been unavailable (not yet synced, or the watch broken
  // and not yet recovered by a relist) for longer than this.
  std::chrono::milliseconds unhealthy_after{30000};
  // A broken stream (not a clean end) is followed by a relist rather than a resumed watch
  // (docs/design.md#watches-and-caches); a 410 always relists.
  bool relist_on_broken_stream = true;
  // A watch that ends cleanly having delivered nothing within this time is resumed only after a
  // backoff delay, so that a server ending every watch at once cannot make us spin.
  std::chrono::milliseconds min_productive_watch{1000};
  metrics::Registry* metrics = nullptr;  // joulie_kube_watch_restarts_total{resource}
  const Clock* clock = nullptr;          // RealClock when null
  RandomSource random;                   // default_random() when empty
  std::string name;                      // for logs and metrics; resource.plural when empty
};

enum class EventKind { add, update, remove };

class InformerEngine {
 public:
  InformerEngine(Api& api, InformerOptions options);
  virtual ~InformerEngine();
  InformerEngine(const InformerEngine&) = delete;
  InformerEngine& operator=(const InformerEngine&) = delete;

  // Starts the list/watch thread. Calling start() on a running informer does nothing.
  void start();
  // Ends the loop promptly (the Api::watch stop flag and all backoff waits observe it) and joins.
  void stop();
  // Runs the loop on the calling thread until stop() is called from another thread.
  void run();

  // True once the first complete list has been applied (stays true afterwards).
  bool synced() const;
  bool wait_synced(std::chrono::milliseconds timeout) const;
  // False before the first sync and once the watch has been broken without a successful relist
  // for longer than options.unhealthy_after: consumers must not act on possibly stale data.
  bool healthy() const;
  bool healthy(SteadyTime now) const;

  // resourceVersion the next watch would start from.
  std::string resource_version() const;
  // Watch restarts so far (all causes) and relists after the initial list.
  uint64_t watch_restarts() const { return restarts_.load(); }
  uint64_t relists() const { return relists_.load(); }

  const InformerOptions& options() const { return options_; }
  StopSignal& stop_signal() { return stop_; }  // tests: wait_hook() replaces real waiting

 protected:
  // Implemented by Informer<T>; all called on the loop thread.
  virtual void begin_relist() = 0;
  virtual void relist_item(std::string key, const rapidjson::Value& object) = 0;
  virtual void abort_relist() = 0;
  virtual void commit_relist() = 0;
  virtual void apply(EventKind kind, std::string key, const rapidjson::Value& object) = 0;

  const std::string& name() const { return name_; }
  // Must be called by the most-derived destructor: the loop calls the hooks above.
  void stop_before_destruction() { stop(); }

 private:
  enum class WatchEnd { stopped, clean, gone, broken };
  Status relist();
  WatchEnd watch_once(bool& productive);
  void wait_after_failure();
  void mark_broken();
  void mark_fresh();
  std::chrono::seconds pick_server_timeout();

  Api& api_;
  InformerOptions options_;
  std::string name_;
  const Clock* clock_;
  RandomSource random_;
  Backoff backoff_;
  StopSignal stop_;
  metrics::Counter* restarts_metric_ = nullptr;

  std::thread thread_;
  std::mutex thread_mutex_;

  mutable std::mutex state_mutex_;
  mutable std::condition_variable synced_cv_;
  bool synced_ = false;
  std::optional<SteadyTime> unavailable_since_;  // set at construction: not yet synced
  std::string resource_version_;
  std::optional<SteadyTime> last_failure_;

  std::atomic<uint64_t> restarts_{0};
  std::atomic<uint64_t> relists_{0};
};

// "namespace/name" or "name"; empty when the object has no metadata.name.
std::string object_key(const rapidjson::Value& object);

// ---- the typed cache ---------------------------------------------------------------------------

template <typename T>
class Informer final : public InformerEngine {
 public:
  // Maps an object to its projection; nullopt leaves the object out of the cache (an object
  // whose projection becomes nullopt is removed, with an on_delete). Must not throw; if it does
  // anyway, the object is skipped and an error logged.
  using Projection = std::function<std::optional<T>(const rapidjson::Value& object)>;
  using AddFn = std::function<void(const std::string& key, const T& value)>;
  using UpdateFn = std::function<void(const std::string& key, const T& old, const T& now)>;
  using DeleteFn = std::function<void(const std::string& key, const T& last)>;
  using Map = std::unordered_map<std::string, T>;

  Informer(Api& api, InformerOptions options, Projection project)
      : InformerEngine(api, std::move(options)), project_(std::move(project)) {}
  ~Informer() override { stop_before_destruction(); }

  void on_add(AddFn fn) { on_add_ = std::move(fn); }
  void on_update(UpdateFn fn) { on_update_ = std::move(fn); }
  void on_delete(DeleteFn fn) { on_delete_ = std::move(fn); }

  std::optional<T> get(const std::string& key) const {
    std::shared_lock lock(cache_mutex_);
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      return std::nullopt;
    }
    return it->second;
  }

  // f(const Map&) under a shared lock: keep it short, and do not call back into the informer.
  template <typename F>
  decltype(auto) read(F&& f) const {
    std::shared_lock lock(cache_mutex_);
    return std::forward<F>(f)(static_cast<const Map&>(cache_));
  }

  // A copy sorted by key.
  std::vector<std::pair<std::string, T>> snapshot() const {
    std::vector<std::pair<std::string, T>> out;
    {
      std::shared_lock lock(cache_mutex_);
      out.assign(cache_.begin(), cache_.end());
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return out;
  }

  size_t size() const {
    std::shared_lock lock(cache_mutex_);
    return cache_.size();
  }

 protected:
  void begin_relist() override {
    staging_ = std::make_unique<Map>();
    staging_->reserve(cache_.size());
  }

  void relist_item(std::string key, const rapidjson::Value& object) override {
    if (auto value = project(key, object)) {
      staging_->insert_or_assign(std::move(key), std::move(*value));
    }
  }

  void abort_relist() override { staging_.reset(); }

  void commit_relist() override {
    if (!staging_) {
      return;
    }
    Map old;
    {
      std::unique_lock lock(cache_mutex_);
      old.swap(cache_);
      cache_.swap(*staging_);
    }
    staging_.reset();
    // Only this thread mutates cache_, so its entries stay valid outside the lock.
    for (const auto& [key, now] : cache_) {
      auto it = old.find(key);
      if (it == old.end()) {
        if (on_add_) {
          on_add_(key, now);
        }
      } else if (changed(it->second, now) && on_update_) {
        on_update_(key, it->second, now);
      }
    }
    for (const auto& [key, last] : old) {
      if (!cache_.contains(key) && on_delete_) {
        on_delete_(key, last);
      }
    }
  }

  void apply(EventKind kind, std::string key, const rapidjson::Value& object) override {
    std::optional<T> value;
    if (kind != EventKind::remove) {
      value = project(key, object);
    }
    if (!value) {
      std::optional<T> last;
      {
        std::unique_lock lock(cache_mutex_);
        auto node = cache_.extract(key);
        if (!node.empty()) {
          last = std::move(node.mapped());
        }
      }
      if (last && on_delete_) {
        on_delete_(key, *last);
      }
      return;
    }
    std::optional<T> old;
    const T* now = nullptr;
    {
      std::unique_lock lock(cache_mutex_);
      auto [it, inserted] = cache_.try_emplace(key, std::move(*value));
      if (!inserted) {
        if (!changed(it->second, *value)) {
          return;
        }
        old = std::move(it->second);
        it->second = std::move(*value);
      }
      now = &it->second;
    }
    if (old) {
      if (on_update_) {
        on_update_(key, *old, *now);
      }
    } else if (on_add_) {
      on_add_(key, *now);
    }
  }

 private:
  static bool changed(const T& a, const T& b) {
    if constexpr (std::equality_comparable<T>) {
      return !(a == b);
    } else {
      return true;
    }
  }

  std::optional<T> project(const std::string& key, const rapidjson::Value& object) {
    try {
      auto value = project_(object);
      if (!value) {
        log::debug("informer", "object left out by projection",
                   {{"informer", name()}, {"key", key}});
      }
      return value;
    } catch (const std::exception& e) {
      log::error("informer", "projection threw; object skipped",
                 {{"informer", name()}, {"key", key}, {"error", e.what()}});
      return std::nullopt;
    }
  }

  Projection project_;
  AddFn on_add_;
  UpdateFn on_update_;
  DeleteFn on_delete_;

  mutable std::shared_mutex cache_mutex_;
  Map cache_;
  std::unique_ptr<Map> staging_;  // the relist being assembled, page by page
};

}  // namespace joulie::kube
