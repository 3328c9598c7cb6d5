#pragma once
// An in-memory, scriptable joulie::kube::Api for unit tests of the layers above the transport.
//
// - Objects live in a store with one global, increasing resourceVersion; create/update/patch/
//   remove/get/list behave like the API server (AlreadyExists, NotFound, Conflict on a stale
//   resourceVersion, pagination with continue tokens).
// - Failures are scripted: fail_next(verb, error) makes the next call(s) of that verb fail;
//   list_hook / call_hook see every call and may fail it (or block, to model a hung request).
// - Watches are scripted: each pushed WatchScript is delivered, in order, to the current (or next)
//   watch call. A watch with nothing to deliver waits (idle) until stopped or until a script is
//   pushed, so tests can feed a live stream and then wait for the consumer to be idle again.

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "joulie/kube/api.hpp"
#include "json_merge_patch.hpp"

namespace joulie::kube::testing {

enum class Verb { get, list, create, update, patch, remove, watch };

inline rapidjson::Document parse_json(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) {
    throw std::runtime_error("bad JSON in test: " + std::string(text));
  }
  return doc;
}

inline std::string to_string(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

// Polls `pred` until true or the timeout expires (a bounded wait, not a sleep-as-sync).
template <typename Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

struct WatchScript {
  enum class End { keep_open, clean, error };
  std::vector<std::pair<WatchEventType, std::string>> events;  // type, object JSON
  End end = End::keep_open;
  Error error;  // for End::error

  WatchScript& add(WatchEventType type, std::string object_json) {
    events.emplace_back(type, std::move(object_json));
    return *this;
  }
  static WatchScript clean_end() {
    WatchScript s;
    s.end = End::clean;
    return s;
  }
  static WatchScript fail(Error e) {
    WatchScript s;
    s.end = End::error;
    s.error = std::move(e);
    return s;
  }
};

class FakeApi : public Api {
 public:
  using ListHook = std::function<std::optional<Error>(const Resource&, const ListOptions&)>;
  using CallHook = std::function<std::optional<Error>(Verb, const Resource&)>;
  // Writes only (create, patch, remove), with the object's name; runs after call_hook, outside
  // the store's lock, so it may block to hold a request "in flight".
  using WriteHook =
      std::function<std::optional<Error>(Verb, const Resource&, const std::string& name)>;

  // ---- the store ----
  // Upserts an object (its metadata.resourceVersion is replaced by a fresh one).
  std::string put(const Resource& r, std::string_view json) {
    std::lock_guard lock(mutex_);
    rapidjson::Document doc = parse_json(json);
    std::string rv = stamp(doc);
    store_[r.plural][key_of(doc)] = to_string(doc);
    return rv;
  }
  void erase(const Resource& r, const std::string& key) {
    std::lock_guard lock(mutex_);
    store_[r.plural].erase(key);
    ++rv_;
  }
  std::optional<rapidjson::Document> object(const Resource& r, const std::string& key) {
    std::lock_guard lock(mutex_);
    auto& objects = store_[r.plural];
    auto it = objects.find(key);
    if (it == objects.end()) {
      return std::nullopt;
    }
    return parse_json(it->second);
  }
  size_t count_objects(const Resource& r) {
    std::lock_guard lock(mutex_);
    return store_[r.plural].size();
  }
  std::string resource_version() {
    std::lock_guard lock(mutex_);
    return std::to_string(rv_);
  }

  // ---- scripted failures ----
  void fail_next(Verb verb, Error error, int times = 1) {
    std::lock_guard lock(mutex_);
    for (int i = 0; i < times; ++i) {
      failures_[verb].push_back(error);
    }
  }
  void list_hook(ListHook hook) {
    std::lock_guard lock(mutex_);
    list_hook_ = std::move(hook);
  }
  void call_hook(CallHook hook) {
    std::lock_guard lock(mutex_);
    call_hook_ = std::move(hook);
  }
  void write_hook(WriteHook hook) {
    std::lock_guard lock(mutex_);
    write_hook_ = std::move(hook);
  }

  // ---- watch scripts ----
  void push_watch(WatchScript script) {
    {
      std::lock_guard lock(mutex_);
      scripts_.push_back(std::move(script));
    }
    cv_.notify_all();
  }
  // Times a watch has waited with nothing left to deliver (everything before was handled).
  uint64_t idle_count() {
    std::lock_guard lock(mutex_);
    return idle_count_;
  }
  // Waits until a watch is idle again after `since` and no script is pending.
  bool wait_idle(uint64_t since, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return wait_until(
        [&] {
          std::lock_guard lock(mutex_);
          return idle_count_ > since && scripts_.empty() && watching_idle_;
        },
        timeout);
  }

  // ---- recorded calls ----
  std::vector<ListOptions> list_calls() {
    std::lock_guard lock(mutex_);
    return list_calls_;
  }
  std::vector<WatchOptions> watch_calls() {
    std::lock_guard lock(mutex_);
    return watch_calls_;
  }
  size_t calls(Verb verb) {
    std::lock_guard lock(mutex_);
    return calls_[verb];
  }
  struct Patch {
    std::string plural, ns, name, body;
  };
  std::vector<Patch> patches() {
    std::lock_guard lock(mutex_);
    return patches_;
  }

  // ---- Api ----
  Result<rapidjson::Document> get(const Resource& r, std::string_view ns,
                                  std::string_view name) override {
    if (auto e = before(Verb::get, r)) {
      return *e;
    }
    std::lock_guard lock(mutex_);
    auto& objects = store_[r.plural];
    auto it = objects.find(make_key(ns, name));
    if (it == objects.end()) {
      return Error(Errc::not_found, "not found", 404, "NotFound");
    }
    return parse_json(it->second);
  }

  Result<rapidjson::Document> list(const Resource& r, std::string_view ns,
                                   const ListOptions& options) override {
    ListHook hook;
    {
      std::lock_guard lock(mutex_);
      list_calls_.push_back(options);
      hook = list_hook_;
    }
    if (hook) {
      if (auto e = hook(r, options)) {
        count(Verb::list);
        return *e;
      }
    }
    if (auto e = before(Verb::list, r)) {
      return *e;
    }
    std::lock_guard lock(mutex_);
    std::vector<const std::string*> selected;
    for (const auto& [key, object] : store_[r.plural]) {
      if (ns.empty() || key.starts_with(std::string(ns) + "/")) {
        selected.push_back(&object);
      }
    }
    size_t start = options.continue_token.empty() ? 0 : std::stoul(options.continue_token);
    size_t end = selected.size();
    if (options.limit > 0) {
      end = std::min(end, start + static_cast<size_t>(options.limit));
    }
    rapidjson::Document out(rapidjson::kObjectType);
    auto& a = out.GetAllocator();
    rapidjson::Value items(rapidjson::kArrayType);
    for (size_t i = start; i < end; ++i) {
      rapidjson::Document item = parse_json(*selected[i]);
      rapidjson::Value copy;
      copy.CopyFrom(item, a);
      items.PushBack(copy, a);
    }
    rapidjson::Value metadata(rapidjson::kObjectType);
    metadata.AddMember("resourceVersion", rapidjson::Value(std::to_string(rv_).c_str(), a), a);
    if (end < selected.size()) {
      metadata.AddMember("continue", rapidjson::Value(std::to_string(end).c_str(), a), a);
    }
    out.AddMember("kind", "List", a);
    out.AddMember("metadata", metadata, a);
    out.AddMember("items", items, a);
    return out;
  }

  Result<rapidjson::Document> create(const Resource& r, std::string_view ns,
                                     const rapidjson::Value& object) override {
    if (auto e = before(Verb::create, r)) {
      return *e;
    }
    {
      std::string name;
      if (object.IsObject() && object.HasMember("metadata") && object["metadata"].IsObject() &&
          object["metadata"].HasMember("name") && object["metadata"]["name"].IsString()) {
        name = object["metadata"]["name"].GetString();
      }
      if (auto e = before_write(Verb::create, r, name)) {
        return *e;
      }
    }
    std::lock_guard lock(mutex_);
    rapidjson::Document doc;
    doc.CopyFrom(object, doc.GetAllocator());
    auto& a = doc.GetAllocator();
    if (!doc.HasMember("metadata") || !doc["metadata"].IsObject()) {
      return Error(Errc::invalid, "no metadata", 422, "Invalid");
    }
    auto& md = doc["metadata"];
    if ((!md.HasMember("name") || std::string_view(md["name"].GetString()).empty()) &&
        md.HasMember("generateName")) {
      std::string name = std::string(md["generateName"].GetString()) + std::to_string(++generated_);
      md.RemoveMember("name");
      md.AddMember("name", rapidjson::Value(name.c_str(), a), a);
    }
    if (!md.HasMember("name")) {
      return Error(Errc::invalid, "name required", 422, "Invalid");
    }
    if (r.namespaced && !ns.empty() && !md.HasMember("namespace")) {
      md.AddMember("namespace", rapidjson::Value(std::string(ns).c_str(), a), a);
    }
    std::string key = key_of(doc);
    auto& objects = store_[r.plural];
    if (objects.contains(key)) {
      return Error(Errc::already_exists, "already exists", 409, "AlreadyExists");
    }
    stamp(doc);
    objects[key] = to_string(doc);
    return doc;
  }

  Result<rapidjson::Document> update(const Resource& r, std::string_view /*ns*/,
                                     const rapidjson::Value& object,
                                     std::string_view /*subresource*/ = {}) override {
    if (auto e = before(Verb::update, r)) {
      return *e;
    }
    std::lock_guard lock(mutex_);
    rapidjson::Document doc;
    doc.CopyFrom(object, doc.GetAllocator());
    std::string key = key_of(doc);
    auto& objects = store_[r.plural];
    auto it = objects.find(key);
    if (it == objects.end()) {
      return Error(Errc::not_found, "not found", 404, "NotFound");
    }
    const auto& md = doc["metadata"];
    rapidjson::Document current = parse_json(it->second);
    if (md.HasMember("resourceVersion") &&
        std::string_view(md["resourceVersion"].GetString()) !=
            std::string_view(current["metadata"]["resourceVersion"].GetString())) {
      return Error(Errc::conflict, "the object has been modified", 409, "Conflict");
    }
    stamp(doc);
    it->second = to_string(doc);
    return doc;
  }

  Result<rapidjson::Document> merge_patch(const Resource& r, std::string_view ns,
                                          std::string_view name, std::string_view patch,
                                          std::string_view /*subresource*/ = {}) override {
    if (auto e = before(Verb::patch, r)) {
      return *e;
    }
    if (auto e = before_write(Verb::patch, r, std::string(name))) {
      return *e;
    }
    std::lock_guard lock(mutex_);
    patches_.push_back({r.plural, std::string(ns), std::string(name), std::string(patch)});
    auto& objects = store_[r.plural];
    auto it = objects.find(make_key(r.namespaced ? ns : std::string_view{}, name));
    if (it == objects.end()) {
      return Error(Errc::not_found, "not found", 404, "NotFound");
    }
    rapidjson::Document p = parse_json(patch);
    rapidjson::Document current = parse_json(it->second);
    joulie::test::json_merge_patch(current, p, current.GetAllocator());
    stamp(current);
    it->second = to_string(current);
    return current;
  }

  Status remove(const Resource& r, std::string_view ns, std::string_view name) override {
    if (auto e = before(Verb::remove, r)) {
      return *e;
    }
    if (auto e = before_write(Verb::remove, r, std::string(name))) {
      return *e;
    }
    std::lock_guard lock(mutex_);
    if (store_[r.plural].erase(make_key(r.namespaced ? ns : std::string_view{}, name)) == 0) {
      return Error(Errc::not_found, "not found", 404, "NotFound");
    }
    ++rv_;
    return {};
  }

  Status watch(const Resource& r, std::string_view /*ns*/, const WatchOptions& options,
               const WatchHandler& handler, const std::atomic<bool>& stop) override {
    {
      std::lock_guard lock(mutex_);
      watch_calls_.push_back(options);
    }
    if (auto e = before(Verb::watch, r)) {
      return *e;
    }
    while (true) {
      WatchScript script;
      {
        std::unique_lock lock(mutex_);
        if (scripts_.empty()) {
          ++idle_count_;
          watching_idle_ = true;
        }
        // The stop flag has no notification: re-check it often.
        while (scripts_.empty() && !stop.load()) {
          cv_.wait_for(lock, std::chrono::milliseconds(2));
        }
        watching_idle_ = false;
        if (stop.load()) {
          return {};
        }
        script = std::move(scripts_.front());
        scripts_.pop_front();
      }
      for (auto& [type, json] : script.events) {
        WatchEvent event;
        event.type = type;
        event.object = parse_json(json);
        if (!handler(std::move(event))) {
          return {};
        }
      }
      if (script.end == WatchScript::End::clean) {
        return {};
      }
      if (script.end == WatchScript::End::error) {
        return script.error;
      }
    }
  }

  static std::string make_key(std::string_view ns, std::string_view name) {
    return ns.empty() ? std::string(name) : std::string(ns) + "/" + std::string(name);
  }

 private:
  void count(Verb verb) {
    std::lock_guard lock(mutex_);
    ++calls_[verb];
  }

  std::optional<Error> before(Verb verb, const Resource& r) {
    CallHook hook;
    {
      std::lock_guard lock(mutex_);
      ++calls_[verb];
      auto& queue = failures_[verb];
      if (!queue.empty()) {
        Error e = queue.front();
        queue.pop_front();
        return e;
      }
      hook = call_hook_;
    }
    if (hook) {
      return hook(verb, r);
    }
    return std::nullopt;
  }

  std::optional<Error> before_write(Verb verb, const Resource& r, const std::string& name) {
    WriteHook hook;
    {
      std::lock_guard lock(mutex_);
      hook = write_hook_;
    }
    if (hook) {
      return hook(verb, r, name);
    }
    return std::nullopt;
  }

  // Objects without a name (to test consumers' handling of them) get a unique placeholder key.
  std::string key_of(const rapidjson::Value& doc) const {
    const auto& md = doc["metadata"];
    std::string ns = md.HasMember("namespace") ? md["namespace"].GetString() : "";
    if (!md.HasMember("name")) {
      return make_key(ns, "~unnamed-" + std::to_string(rv_));
    }
    return make_key(ns, md["name"].GetString());
  }

  std::string stamp(rapidjson::Document& doc) {
    auto& a = doc.GetAllocator();
    auto& md = doc["metadata"];
    std::string rv = std::to_string(++rv_);
    md.RemoveMember("resourceVersion");
    md.AddMember("resourceVersion", rapidjson::Value(rv.c_str(), a), a);
    return rv;
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  int64_t rv_ = 100;
  int64_t generated_ = 0;
  // Objects as JSON text: a rapidjson::Document per object would cost a 64 KiB pool each.
  std::map<std::string, std::map<std::string, std::string>> store_;
  std::map<Verb, std::deque<Error>> failures_;
  std::map<Verb, size_t> calls_;
  ListHook list_hook_;
  CallHook call_hook_;
  WriteHook write_hook_;
  std::deque<WatchScript> scripts_;
  uint64_t idle_count_ = 0;
  bool watching_idle_ = false;
  std::vector<ListOptions> list_calls_;
  std::vector<WatchOptions> watch_calls_;
  std::vector<Patch> patches_;
};

}  // namespace joulie::kube::testing
