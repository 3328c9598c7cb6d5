#include "joulie/kube/informer.hpp"

#include <fmt/format.h>
#include <malloc.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>

#include "fake_api.hpp"
#include "joulie/common/metrics.hpp"

using namespace std::chrono_literals;
using joulie::Errc;
using joulie::Error;
using joulie::ManualClock;
using joulie::kube::Informer;
using joulie::kube::InformerOptions;
using joulie::kube::Resource;
using joulie::kube::WatchEventType;
using joulie::kube::testing::FakeApi;
using joulie::kube::testing::Verb;
using joulie::kube::testing::wait_until;
using joulie::kube::testing::WatchScript;

namespace {

const Resource kNodes{"", "v1", "nodes", "Node", false};
const Resource kPods{"", "v1", "pods", "Pod", true};

struct NodeView {
  std::string profile;
  bool operator==(const NodeView&) const = default;
};

std::optional<NodeView> project_node(const rapidjson::Value& node) {
  const auto& md = node["metadata"];
  if (!md.HasMember("labels")) {
    return NodeView{};
  }
  const auto& labels = md["labels"];
  if (labels.HasMember("skip")) {
    return std::nullopt;
  }
  if (labels.HasMember("throw")) {
    throw std::runtime_error("projection bug");
  }
  return NodeView{labels.HasMember("profile") ? labels["profile"].GetString() : ""};
}

std::string node_json(const std::string& name, const std::string& profile,
                      const std::string& rv = "") {
  std::string md = fmt::format(R"("name":"{}","labels":{{"profile":"{}"}})", name, profile);
  if (!rv.empty()) {
    md += fmt::format(R"(,"resourceVersion":"{}")", rv);
  }
  return fmt::format(R"({{"apiVersion":"v1","kind":"Node","metadata":{{{}}}}})", md);
}

std::string bookmark_json(const std::string& rv) {
  return fmt::format(R"({{"kind":"Node","metadata":{{"resourceVersion":"{}"}}}})", rv);
}

std::string gone_json() {
  return R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version","reason":"Expired","code":410})";
}

// Callbacks as text lines, in order.
struct Journal {
  std::mutex mutex;
  std::vector<std::string> lines;
  void add(std::string line) {
    std::lock_guard lock(mutex);
    lines.push_back(std::move(line));
  }
  std::vector<std::string> take() {
    std::lock_guard lock(mutex);
    auto out = std::move(lines);
    lines.clear();
    std::sort(out.begin(), out.end());
    return out;
  }
};

struct Fixture {
  FakeApi api;
  ManualClock clock;
  std::mutex delays_mutex;
  std::vector<std::chrono::milliseconds> delays;
  Journal journal;
  std::unique_ptr<Informer<NodeView>> informer;

  explicit Fixture(InformerOptions options = {}) {
    options.resource = kNodes;
    options.clock = &clock;
    options.random = [] { return 0.5; };  // no jitter: delays are exactly the base
    informer = std::make_unique<Informer<NodeView>>(api, options, project_node);
    informer->stop_signal().wait_hook([this](std::chrono::milliseconds d) {
      {
        std::lock_guard lock(delays_mutex);
        delays.push_back(d);
      }
      clock.advance(d);
      std::this_thread::sleep_for(1ms);  // keeps a failing loop from spinning a core in tests
    });
    informer->on_add([this](const std::string& k, const NodeView& v) {
      journal.add(fmt::format("add {} {}", k, v.profile));
    });
    informer->on_update([this](const std::string& k, const NodeView& a, const NodeView& b) {
      journal.add(fmt::format("update {} {}->{}", k, a.profile, b.profile));
    });
    informer->on_delete([this](const std::string& k, const NodeView& v) {
      journal.add(fmt::format("delete {} {}", k, v.profile));
    });
  }

  std::vector<std::chrono::milliseconds> recorded_delays() {
    std::lock_guard lock(delays_mutex);
    return delays;
  }

  // Starts and waits until the initial list is applied and the watch is idle.
  void start_synced() {
    informer->start();
    REQUIRE(informer->wait_synced(10s));
    REQUIRE(api.wait_idle(0));
  }

  // Feeds scripts to the live watch(es) and waits until all are handled.
  void feed(std::vector<WatchScript> scripts) {
    uint64_t idle = api.idle_count();
    for (auto& s : scripts) {
      api.push_watch(std::move(s));
    }
    REQUIRE(api.wait_idle(idle));
  }
};

}  // namespace

TEST_CASE("informer: initial paginated list fills the cache, then watches from its version") {
  Fixture f;
  for (int i = 0; i < 1203; ++i) {
    f.api.put(kNodes, node_json(fmt::format("n{:04}", i), i % 2 ? "eco" : "performance"));
  }
  std::string list_rv = f.api.resource_version();
  CHECK_FALSE(f.informer->synced());
  CHECK_FALSE(f.informer->healthy());
  f.start_synced();

  CHECK(f.informer->size() == 1203);
  CHECK(f.informer->get("n0001")->profile == "eco");
  CHECK(f.informer->get("n0002")->profile == "performance");
  CHECK_FALSE(f.informer->get("nope"));
  CHECK(f.journal.take().size() == 1203);
  CHECK(f.informer->synced());
  CHECK(f.informer->healthy());

  auto lists = f.api.list_calls();
  REQUIRE(lists.size() == 3);
  CHECK(lists[0].limit == 500);
  CHECK(lists[0].continue_token.empty());
  CHECK(lists[1].continue_token == "500");
  CHECK(lists[2].continue_token == "1000");

  auto watches = f.api.watch_calls();
  REQUIRE(watches.size() == 1);
  CHECK(watches[0].resource_version == list_rv);
  CHECK(watches[0].allow_bookmarks);
  CHECK(watches[0].server_timeout >= 300s);
  CHECK(watches[0].server_timeout <= 600s);
  CHECK(watches[0].read_idle_timeout == 180s);

  auto snap = f.informer->snapshot();
  REQUIRE(snap.size() == 1203);
  CHECK(snap.front().first == "n0000");
  CHECK(snap.back().first == "n1202");
  f.informer->stop();
}

TEST_CASE("informer: server timeout is randomised within [min, max]") {
  FakeApi api;
  double r = 0.0;
  InformerOptions options;
  options.resource = kNodes;
  options.random = [&r] { return r; };
  std::vector<std::chrono::seconds> seen;
  for (double value : {0.0, 0.5, 0.999}) {
    r = value;
    Informer<NodeView> informer(api, options, project_node);
    uint64_t idle = api.idle_count();
    informer.start();
    REQUIRE(api.wait_idle(idle));
    informer.stop();
    seen.push_back(api.watch_calls().back().server_timeout);
  }
  CHECK(seen[0] == 300s);
  CHECK(seen[1] == 450s);
  CHECK(seen[2] == 599s);
}

TEST_CASE("informer: watch events update the cache and fire callbacks") {
  Fixture f;
  f.api.put(kNodes, node_json("n1", "eco"));
  f.start_synced();
  f.journal.take();

  f.feed({WatchScript()
              .add(WatchEventType::added, node_json("n2", "eco", "201"))
              .add(WatchEventType::modified, node_json("n1", "performance", "202"))
              .add(WatchEventType::modified, node_json("n1", "performance", "203"))  // no change
              .add(WatchEventType::added, node_json("n1", "eco", "204"))  // ADDED for a known key
              .add(WatchEventType::modified, node_json("n3", "eco", "205"))  // unknown key
              .add(WatchEventType::deleted, node_json("n2", "eco", "206"))
              .add(WatchEventType::deleted, node_json("n9", "eco", "207"))});  // never seen

  CHECK(f.journal.take() == std::vector<std::string>{
                                "add n2 eco",
                                "add n3 eco",
                                "delete n2 eco",
                                "update n1 eco->performance",
                                "update n1 performance->eco",
                            });
  CHECK(f.informer->size() == 2);
  CHECK(f.informer->get("n1")->profile == "eco");
  CHECK(f.informer->resource_version() == "207");
  size_t counted = f.informer->read([](const auto& map) { return map.size(); });
  CHECK(counted == 2);
  f.informer->stop();
}

TEST_CASE("informer: bookmarks move the resourceVersion; a clean end resumes without relisting") {
  Fixture f;
  f.api.put(kNodes, node_json("n1", "eco"));
  f.start_synced();

  f.feed({WatchScript().add(WatchEventType::bookmark, bookmark_json("900")),
          WatchScript::clean_end()});
  auto watches = f.api.watch_calls();
  REQUIRE(watches.size() == 2);
  CHECK(watches[1].resource_version == "900");
  CHECK(f.api.list_calls().size() == 1);
  CHECK(f.recorded_delays().empty());  // a productive watch is resumed at once
  CHECK(f.informer->relists() == 0);
  CHECK(f.informer->watch_restarts() == 1);
  CHECK(f.informer->healthy());
  f.informer->stop();
}

TEST_CASE("informer: a watch the server ends at once is resumed only after a backoff") {
  Fixture f;
  f.start_synced();
  f.feed({WatchScript::clean_end(), WatchScript::clean_end(), WatchScript::clean_end()});
  CHECK(f.recorded_delays() == std::vector<std::chrono::milliseconds>{800ms, 1600ms, 3200ms});
  CHECK(f.api.list_calls().size() == 1);
  CHECK(f.api.watch_calls().size() == 4);
  f.informer->stop();
}

TEST_CASE("informer: 410 relists and emits the diff of what changed while disconnected") {
  joulie::metrics::Registry registry;
  InformerOptions options;
  options.metrics = &registry;
  Fixture f(options);
  f.api.put(kNodes, node_json("n1", "eco"));
  f.api.put(kNodes, node_json("n2", "eco"));
  f.api.put(kNodes, node_json("n3", "eco"));
  f.start_synced();
  f.journal.take();

  // Changes the watch never delivered (history compacted).
  f.api.put(kNodes, node_json("n1", "performance"));
  f.api.erase(kNodes, "n2");
  f.api.put(kNodes, node_json("n4", "eco"));
  f.api.put(kNodes, node_json("n3", "eco"));  // new resourceVersion, same projection
  std::string fresh_rv = f.api.resource_version();

  f.feed({WatchScript().add(WatchEventType::error, gone_json())});

  CHECK(f.journal.take() == std::vector<std::string>{
                                "add n4 eco",
                                "delete n2 eco",
                                "update n1 eco->performance",
                            });
  CHECK(f.api.list_calls().size() == 2);
  CHECK(f.api.watch_calls().back().resource_version == fresh_rv);
  CHECK(f.recorded_delays() == std::vector<std::chrono::milliseconds>{800ms});
  CHECK(f.informer->relists() == 1);
  CHECK(registry.counter("joulie_kube_watch_restarts_total", "", {"resource"})
            .with({"nodes"})
            .value() == 1.0);
  CHECK(registry.expose().find("joulie_kube_watch_restarts_total{resource=\"nodes\"} 1") !=
        std::string::npos);
  f.informer->stop();
}

TEST_CASE("informer: a 410 before the stream starts also relists") {
  Fixture f;
  f.start_synced();
  f.api.fail_next(Verb::watch, Error(Errc::gone, "expired", 410, "Expired"));
  f.feed({WatchScript::clean_end()});
  CHECK(f.api.list_calls().size() == 2);
  CHECK(f.informer->relists() == 1);
  f.informer->stop();
}

TEST_CASE("informer: a broken stream backs off, relists and rewatches") {
  Fixture f;
  f.api.put(kNodes, node_json("n1", "eco"));
  f.start_synced();
  f.journal.take();

  f.feed({WatchScript::fail(Error(Errc::io, "connection reset"))});
  CHECK(f.api.list_calls().size() == 2);
  CHECK(f.api.watch_calls().size() == 2);
  CHECK(f.recorded_delays() == std::vector<std::chrono::milliseconds>{800ms});

  // A second break soon after doubles the delay; the idle timeout counts as a broken stream.
  f.feed({WatchScript::fail(Error(Errc::timeout, "no data for 180s"))});
  CHECK(f.recorded_delays() == std::vector<std::chrono::milliseconds>{800ms, 1600ms});
  CHECK(f.journal.take().empty());  // nothing changed: a relist of the same data is silent
  f.informer->stop();
}

TEST_CASE(
    "informer: without relist_on_broken_stream a broken stream resumes from the last version") {
  InformerOptions options;
  options.relist_on_broken_stream = false;
  Fixture f(options);
  f.start_synced();
  f.feed({WatchScript().add(WatchEventType::added, node_json("n1", "eco", "555")),
          WatchScript::fail(Error(Errc::io, "reset"))});
  CHECK(f.api.list_calls().size() == 1);
  CHECK(f.api.watch_calls().back().resource_version == "555");
  CHECK(f.recorded_delays() == std::vector<std::chrono::milliseconds>{800ms});
  f.informer->stop();
}

TEST_CASE("informer: repeated list failures back off up to 30 s and recover") {
  Fixture f;
  f.api.put(kNodes, node_json("n1", "eco"));
  f.api.fail_next(Verb::list, Error(Errc::server_error, "boom", 500), 9);
  f.informer->start();
  REQUIRE(f.informer->wait_synced(10s));
  CHECK(f.recorded_delays() == std::vector<std::chrono::milliseconds>{800ms, 1600ms, 3200ms, 6400ms,
                                                                      12800ms, 25600ms, 30000ms,
                                                                      30000ms, 30000ms});
  CHECK(f.informer->get("n1"));
  f.informer->stop();
}

TEST_CASE("informer: backoff starts again from 0.8 s after a quiet period") {
  Fixture f;
  f.start_synced();
  f.feed(
      {WatchScript::fail(Error(Errc::io, "reset")), WatchScript::fail(Error(Errc::io, "reset"))});
  CHECK(f.recorded_delays() == std::vector<std::chrono::milliseconds>{800ms, 1600ms});
  f.clock.advance(3min);
  f.feed({WatchScript::fail(Error(Errc::io, "reset"))});
  CHECK(f.recorded_delays() == std::vector<std::chrono::milliseconds>{800ms, 1600ms, 800ms});
  f.informer->stop();
}

TEST_CASE("informer: healthy() turns false when data stays unavailable, true after recovery") {
  InformerOptions options;
  options.unhealthy_after = 30s;
  Fixture f(options);
  std::atomic<bool> list_down{false};
  f.api.list_hook([&](const Resource&, const joulie::kube::ListOptions&) -> std::optional<Error> {
    if (list_down.load()) {
      return Error(Errc::unavailable, "connection refused");
    }
    return std::nullopt;
  });
  f.start_synced();
  auto broken_at = f.clock.monotonic();
  CHECK(f.informer->healthy(broken_at + 1h));  // a healthy watch stays healthy

  list_down = true;
  size_t lists_before = f.api.list_calls().size();
  f.api.push_watch(WatchScript::fail(Error(Errc::io, "reset")));
  REQUIRE(wait_until([&] { return f.api.list_calls().size() >= lists_before + 3; }));
  CHECK(f.informer->healthy(broken_at + 29s));
  CHECK_FALSE(f.informer->healthy(broken_at + 31s));

  uint64_t idle = f.api.idle_count();
  list_down = false;
  REQUIRE(f.api.wait_idle(idle));
  CHECK(f.informer->healthy(broken_at + 1h));
  f.informer->stop();
}

TEST_CASE("informer: stop() is prompt while watching and while backing off") {
  SECTION("watching") {
    FakeApi api;
    InformerOptions options;
    options.resource = kNodes;
    Informer<NodeView> informer(api, options, project_node);
    informer.start();
    REQUIRE(api.wait_idle(0));
    auto t0 = std::chrono::steady_clock::now();
    informer.stop();
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  }
  SECTION("backing off (real waits, 30 s delays)") {
    FakeApi api;
    api.fail_next(Verb::list, Error(Errc::server_error, "boom", 500), 1000);
    InformerOptions options;
    options.resource = kNodes;
    options.backoff.initial = 30s;
    Informer<NodeView> informer(api, options, project_node);
    informer.start();
    REQUIRE(wait_until([&] { return api.calls(Verb::list) >= 1; }));
    auto t0 = std::chrono::steady_clock::now();
    informer.stop();
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    CHECK(api.calls(Verb::list) == 1);  // and no busy retry loop meanwhile
  }
}

TEST_CASE("informer: objects projected to nullopt are left out, and removed when they become so") {
  Fixture f;
  f.api.put(kNodes, R"({"metadata":{"name":"n1","labels":{"skip":"1"}}})");
  f.api.put(kNodes, R"({"metadata":{"name":"n2","labels":{"throw":"1"}}})");
  f.api.put(kNodes, node_json("n3", "eco"));
  f.api.put(kNodes, R"({"metadata":{"labels":{"profile":"eco"}}})");  // no name: skipped
  f.start_synced();
  CHECK(f.informer->size() == 1);
  CHECK(f.journal.take() == std::vector<std::string>{"add n3 eco"});

  f.feed({WatchScript()
              .add(WatchEventType::modified,
                   R"({"metadata":{"name":"n3","resourceVersion":"300","labels":{"skip":"1"}}})")
              .add(WatchEventType::modified, node_json("n1", "eco", "301"))
              .add(WatchEventType::modified, R"({"metadata":{"resourceVersion":"302"}})")
              .add(WatchEventType::added, R"({"not":"an object with metadata"})")});
  CHECK(f.journal.take() == std::vector<std::string>{"add n1 eco", "delete n3 eco"});
  CHECK(f.informer->size() == 1);
  CHECK(f.api.list_calls().size() == 1);  // bad events are skipped, not fatal
  f.informer->stop();
}

TEST_CASE("informer: an expired continue token falls back to a full list") {
  InformerOptions options;
  options.page_size = 5;
  Fixture f(options);
  for (int i = 0; i < 12; ++i) {
    f.api.put(kNodes, node_json(fmt::format("n{:02}", i), "eco"));
  }
  f.api.list_hook([](const Resource&, const joulie::kube::ListOptions& o) -> std::optional<Error> {
    if (!o.continue_token.empty()) {
      return Error(Errc::gone, "continue expired", 410, "Expired");
    }
    return std::nullopt;
  });
  f.start_synced();
  CHECK(f.informer->size() == 12);
  auto lists = f.api.list_calls();
  REQUIRE(lists.size() == 3);
  CHECK(lists[2].limit == 0);
  CHECK(f.journal.take().size() == 12);  // the aborted first page fired nothing
  f.informer->stop();
}

namespace {
// Answers the first lists with malformed List objects.
struct BadListApi : FakeApi {
  std::vector<std::string> bad_answers = {
      R"({"kind":"List","metadata":{"resourceVersion":"5"}})",  // no items
      R"({"kind":"List","items":{}})",                          // items not an array
      R"({"kind":"List","items":[]})",                          // no resourceVersion
  };
  joulie::Result<rapidjson::Document> list(const Resource& r, std::string_view ns,
                                           const joulie::kube::ListOptions& o) override {
    if (!bad_answers.empty()) {
      std::string text = bad_answers.front();
      bad_answers.erase(bad_answers.begin());
      return joulie::kube::testing::parse_json(text);
    }
    return FakeApi::list(r, ns, o);
  }
};
}  // namespace

TEST_CASE("informer: malformed list answers are errors, retried with backoff") {
  BadListApi api;
  api.put(kNodes, node_json("n1", "eco"));
  InformerOptions options;
  options.resource = kNodes;
  options.random = [] { return 0.5; };
  Informer<NodeView> informer(api, options, project_node);
  std::vector<std::chrono::milliseconds> delays;
  informer.stop_signal().wait_hook([&](std::chrono::milliseconds d) { delays.push_back(d); });
  informer.start();
  REQUIRE(informer.wait_synced(10s));
  CHECK(informer.size() == 1);
  informer.stop();
  CHECK(delays == std::vector<std::chrono::milliseconds>{800ms, 1600ms, 3200ms});
}

TEST_CASE("informer: namespaced keys and selectors are passed through") {
  FakeApi api;
  api.put(kPods, R"({"metadata":{"name":"p1","namespace":"ns1"},"spec":{"nodeName":"n1"}})");
  InformerOptions options;
  options.resource = kPods;
  options.label_selector = "app=x";
  options.field_selector = "spec.nodeName=n1";
  Informer<std::string> informer(api, options, [](const rapidjson::Value& pod) {
    return std::optional<std::string>(pod["spec"]["nodeName"].GetString());
  });
  informer.start();
  REQUIRE(informer.wait_synced(10s));
  REQUIRE(api.wait_idle(0));
  CHECK(informer.get("ns1/p1") == std::optional<std::string>("n1"));
  CHECK(api.list_calls()[0].label_selector == "app=x");
  CHECK(api.list_calls()[0].field_selector == "spec.nodeName=n1");
  CHECK(api.watch_calls()[0].label_selector == "app=x");
  CHECK(api.watch_calls()[0].field_selector == "spec.nodeName=n1");
  informer.stop();
}

namespace {

// Generates pages of small pods on the fly (a stored copy of 150 000 pods would dwarf the cache).
struct GeneratedPodsApi : FakeApi {
  int total = 0;
  joulie::Result<rapidjson::Document> list(const Resource&, std::string_view,
                                           const joulie::kube::ListOptions& o) override {
    int start = o.continue_token.empty() ? 0 : std::stoi(o.continue_token);
    int end = o.limit > 0 ? std::min<int>(total, start + static_cast<int>(o.limit)) : total;
    std::string text = R"({"kind":"PodList","metadata":{"resourceVersion":"7")";
    if (end < total) {
      text += fmt::format(R"(,"continue":"{}")", end);
    }
    text += R"(},"items":[)";
    for (int i = start; i < end; ++i) {
      text += fmt::format(
          R"({}{{"metadata":{{"name":"job-{:06}-worker-x7k2p","namespace":"team-{:03}",)"
          R"("uid":"5f0c6a3e-1b2c-4d5e-8f90-{:012}","labels":{{"app":"batch"}}}},)"
          R"("spec":{{"nodeName":"worker-node-{:04}","containers":[{{"name":"main","image":"busybox"}}]}},)"
          R"("status":{{"phase":"Running"}}}})",
          i == start ? "" : ",", i, i % 200, i, i % 5000);
    }
    text += "]}";
    return joulie::kube::testing::parse_json(text);
  }
};

struct PodView {
  joulie::kube::InternedString node;
  uint8_t phase = 0;
  bool performance = false;
  bool operator==(const PodView&) const = default;
};

size_t heap_in_use() {
  struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

}  // namespace

TEST_CASE("informer: 150 000 pod projections cost hundreds of bytes each") {
  GeneratedPodsApi api;
  api.total = 150000;
  joulie::kube::StringInterner nodes;
  InformerOptions options;
  options.resource = kPods;
  auto informer = std::make_unique<Informer<PodView>>(
      api, options, [&nodes](const rapidjson::Value& pod) -> std::optional<PodView> {
        const auto& spec = pod["spec"];
        if (!spec.HasMember("nodeName")) {
          return std::nullopt;
        }
        PodView view;
        view.node = nodes.intern(spec["nodeName"].GetString());
        view.phase = 1;
        return view;
      });
  size_t before = heap_in_use();
  informer->start();
  REQUIRE(informer->wait_synced(60s));
  REQUIRE(api.wait_idle(0));
  size_t after = heap_in_use();
  REQUIRE(informer->size() == 150000);
  CHECK(informer->get("team-007/job-000007-worker-x7k2p")->node.str() == "worker-node-0007");
  CHECK(nodes.size() == 5000);
  if (before == 0 || after <= before) {
    WARN("mallinfo2 unavailable (sanitizer build?): memory not measured");
  } else {
    double per_entry = static_cast<double>(after - before) / 150000.0;
    fmt::print("informer memory: {:.0f} bytes per pod projection (150000 pods, 5000 nodes)\n",
               per_entry);
    CHECK(per_entry < 300.0);
  }
  informer->stop();
}

TEST_CASE("interner: equal strings share one copy; unused ones are purged") {
  joulie::kube::StringInterner pool;
  auto a = pool.intern("node-a");
  auto b = pool.intern(std::string("node-") + "a");
  CHECK(a == b);
  CHECK(&a.str() == &b.str());
  CHECK(a == std::string_view("node-a"));
  CHECK(pool.intern("").str().empty());
  {
    std::vector<joulie::kube::InternedString> churn;
    for (int i = 0; i < 3000; ++i) {
      churn.push_back(pool.intern(fmt::format("temp-{}", i)));
    }
  }
  for (int i = 0; i < 3000; ++i) {
    (void)pool.intern(fmt::format("other-{}", i));
  }
  CHECK(pool.size() < 5000);  // the expired temp-* (and other-*) entries were purged
  CHECK(pool.intern("node-a").str() == "node-a");
  CHECK(&pool.intern("node-a").str() == &a.str());  // still alive: still shared
}
