#include "joulie/kube/events.hpp"

#include <catch2/catch.hpp>

#include <condition_variable>
#include <regex>

#include "fake_api.hpp"

using namespace std::chrono_literals;
using joulie::Errc;
using joulie::Error;
using joulie::ManualClock;
using joulie::kube::EventRecorder;
using joulie::kube::EventRecorderOptions;
using joulie::kube::EventType;
using joulie::kube::NodeRef;
using joulie::kube::Resource;
using joulie::kube::testing::FakeApi;
using joulie::kube::testing::parse_json;
using joulie::kube::testing::Verb;
using joulie::kube::testing::wait_until;

namespace {

const Resource kEvents{"", "v1", "events", "Event", true};
const NodeRef kNode{"node-1", "0b7c3f3e-1111-2222-3333-444455556666"};

struct Fixture {
  FakeApi api;
  ManualClock clock;
  std::vector<std::chrono::milliseconds> waits;
  std::unique_ptr<EventRecorder> recorder;

  explicit Fixture(EventRecorderOptions options = {}) {
    options.clock = &clock;
    options.random = [] { return 0.5; };
    options.instance = "op-1";
    recorder = std::make_unique<EventRecorder>(api, options);
    recorder->stop_signal().wait_hook([this](std::chrono::milliseconds d) { waits.push_back(d); });
  }

  std::vector<rapidjson::Document> events() {
    std::vector<rapidjson::Document> out;
    auto list = api.list(kEvents, "default", {});
    REQUIRE(list.ok());
    for (const auto& item : (*list)["items"].GetArray()) {
      rapidjson::Document d;
      d.CopyFrom(item, d.GetAllocator());
      out.push_back(std::move(d));
    }
    return out;
  }
};

std::string s(const rapidjson::Value& v) { return v.GetString(); }

}  // namespace

TEST_CASE("events: record creates a core/v1 Event on the node") {
  Fixture f;
  f.recorder->record(kNode, EventType::normal, "PowerProfileChanged",
                     "profile performance -> eco (cap 4000 W)");
  CHECK(f.api.calls(Verb::create) == 0);  // queued, not sent from record()
  f.recorder->process_pending();

  auto events = f.events();
  REQUIRE(events.size() == 1);
  const auto& e = events[0];
  CHECK(s(e["apiVersion"]) == "v1");
  CHECK(s(e["kind"]) == "Event");
  CHECK(std::regex_match(s(e["metadata"]["name"]), std::regex(R"(node-1\.[0-9a-f]+)")));
  CHECK(s(e["metadata"]["namespace"]) == "default");
  CHECK(s(e["involvedObject"]["kind"]) == "Node");
  CHECK(s(e["involvedObject"]["apiVersion"]) == "v1");
  CHECK(s(e["involvedObject"]["name"]) == "node-1");
  CHECK(s(e["involvedObject"]["uid"]) == kNode.uid);
  CHECK(s(e["reason"]) == "PowerProfileChanged");
  CHECK(s(e["message"]) == "profile performance -> eco (cap 4000 W)");
  CHECK(s(e["type"]) == "Normal");
  CHECK(s(e["source"]["component"]) == "joulie-operator");
  CHECK(s(e["reportingComponent"]) == "joulie-operator");
  CHECK(s(e["reportingInstance"]) == "op-1");
  CHECK(e["count"].GetInt() == 1);
  std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)");
  CHECK(std::regex_match(s(e["firstTimestamp"]), rfc3339));
  CHECK(s(e["lastTimestamp"]) == s(e["firstTimestamp"]));
  CHECK(f.recorder->sent() == 1);
}

// A real API server refuses (422) a core/v1 Event whose namespace is not its involved object's,
// or, for a cluster-scoped object, not "default" (test/support/kapi/events.py).
TEST_CASE("events: an Event lives in its object's namespace; a Node's in default") {
  Fixture f;
  NodeRef pod{"train-1", "uid-1", "Pod", "team-a"};
  f.recorder->record(pod, EventType::warning, "NoPerformanceNodeFits", "no node fits");
  f.recorder->record(kNode, EventType::normal, "PowerProfileChanged", "eco");
  f.recorder->process_pending();
  f.recorder->record(pod, EventType::warning, "NoPerformanceNodeFits", "no node fits");
  f.recorder->process_pending();  // the repeat patches the Event where it lives

  auto in_team = f.api.list(kEvents, "team-a", {});
  REQUIRE(in_team.ok());
  REQUIRE((*in_team)["items"].Size() == 1);
  const auto& e = (*in_team)["items"][0];
  CHECK(s(e["metadata"]["namespace"]) == "team-a");
  CHECK(s(e["involvedObject"]["namespace"]) == "team-a");
  CHECK(e["count"].GetInt() == 2);
  auto in_default = f.events();
  REQUIRE(in_default.size() == 1);
  CHECK(s(in_default[0]["involvedObject"]["kind"]) == "Node");
  CHECK_FALSE(in_default[0]["involvedObject"].HasMember("namespace"));
  CHECK(f.recorder->dropped() == 0);
}

TEST_CASE("events: repeats within the window update one Event instead of creating more") {
  Fixture f;
  for (int i = 0; i < 5; ++i) {
    f.recorder->record(kNode, EventType::normal, "DowngradeDeferred", "2 performance pods");
    f.clock.advance(30s);
  }
  f.recorder->process_pending();
  auto events = f.events();
  REQUIRE(events.size() == 1);
  CHECK(events[0]["count"].GetInt() == 5);
  CHECK(s(events[0]["lastTimestamp"]) != s(events[0]["firstTimestamp"]));
  CHECK(f.api.calls(Verb::create) == 1);
  CHECK(f.api.calls(Verb::patch) == 4);
  auto patch = parse_json(f.api.patches().back().body);
  CHECK(patch["count"].GetInt() == 5);
  CHECK(patch.HasMember("lastTimestamp"));
  CHECK(patch.MemberCount() == 2);

  // A different message, type or node is a different Event.
  f.recorder->record(kNode, EventType::normal, "DowngradeDeferred", "3 performance pods");
  f.recorder->record(kNode, EventType::warning, "DowngradeDeferred", "2 performance pods");
  f.recorder->record({"node-2", "u2"}, EventType::normal, "DowngradeDeferred",
                     "2 performance pods");
  f.recorder->process_pending();
  CHECK(f.events().size() == 4);

  // After a quiet window the same event starts a new Event.
  f.clock.advance(11min);
  f.recorder->record(kNode, EventType::normal, "DowngradeDeferred", "2 performance pods");
  f.recorder->process_pending();
  CHECK(f.events().size() == 5);
}

TEST_CASE("events: an aggregated Event deleted on the server is created again") {
  Fixture f;
  f.recorder->record(kNode, EventType::normal, "DrainForced", "forced after 10m");
  f.recorder->process_pending();
  auto first = f.events();
  REQUIRE(first.size() == 1);
  f.api.erase(kEvents, "default/" + s(first[0]["metadata"]["name"]));
  f.clock.advance(1s);
  f.recorder->record(kNode, EventType::normal, "DrainForced", "forced after 10m");
  f.recorder->process_pending();
  auto again = f.events();
  REQUIRE(again.size() == 1);
  CHECK(again[0]["count"].GetInt() == 1);
  CHECK(f.recorder->dropped() == 0);
}

TEST_CASE("events: API errors are retried a bounded number of times, then dropped") {
  Fixture f;
  SECTION("transient errors") {
    f.api.fail_next(Verb::create, Error(Errc::server_error, "etcd", 500), 2);
    f.recorder->record(kNode, EventType::normal, "PowerProfileChanged", "x");
    f.recorder->process_pending();
    CHECK(f.events().size() == 1);
    CHECK(f.waits == std::vector<std::chrono::milliseconds>{200ms, 400ms});
    CHECK(f.recorder->dropped() == 0);
  }
  SECTION("persistent errors") {
    f.api.fail_next(Verb::create, Error(Errc::too_many_requests, "slow down", 429), 3);
    f.recorder->record(kNode, EventType::normal, "PowerProfileChanged", "x");
    f.recorder->process_pending();
    CHECK(f.events().empty());
    CHECK(f.api.calls(Verb::create) == 3);
    CHECK(f.recorder->dropped() == 1);
    // the next event still goes through
    f.recorder->record(kNode, EventType::normal, "PowerProfileChanged", "y");
    f.recorder->process_pending();
    CHECK(f.events().size() == 1);
  }
  SECTION("permanent errors are not retried") {
    f.api.fail_next(Verb::create, Error(Errc::forbidden, "no RBAC for events", 403));
    f.recorder->record(kNode, EventType::warning, "DrainForced", "x");
    f.recorder->process_pending();
    CHECK(f.api.calls(Verb::create) == 1);
    CHECK(f.waits.empty());
    CHECK(f.recorder->dropped() == 1);
  }
}

TEST_CASE("events: long messages are cut at 1024 bytes on a character boundary") {
  Fixture f;
  std::string message(1023, 'a');
  message += "é and more";  // é is two bytes: 1023 + 2 > 1024
  f.recorder->record(kNode, EventType::normal, "PowerProfileChanged", message);
  f.recorder->process_pending();
  auto events = f.events();
  REQUIRE(events.size() == 1);
  CHECK(s(events[0]["message"]) == std::string(1023, 'a'));
}

TEST_CASE("events: record() never blocks on a hung API server; the queue is bounded") {
  FakeApi api;
  std::mutex m;
  std::condition_variable cv;
  bool release = false;
  api.call_hook([&](Verb, const Resource&) -> std::optional<Error> {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return release; });
    return std::nullopt;
  });
  EventRecorderOptions options;
  options.max_queue = 5;
  EventRecorder recorder(api, options);
  recorder.start();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    recorder.record(kNode, EventType::normal, "PowerProfileChanged", std::to_string(i));
  }
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
  // One is in flight (hung); five wait in the queue; the rest were dropped.
  REQUIRE(wait_until([&] { return recorder.dropped() >= 14; }));
  CHECK(recorder.dropped() <= 15);
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  REQUIRE(recorder.flush(10s));
  CHECK(recorder.sent() + recorder.dropped() == 20);
  CHECK(api.count_objects(kEvents) == recorder.sent());
  recorder.stop();
}

TEST_CASE("events: the worker thread sends what is recorded") {
  FakeApi api;
  EventRecorder recorder(api);
  recorder.start();
  recorder.record(kNode, EventType::normal, "PowerProfileChanged", "a");
  recorder.record(kNode, EventType::normal, "PowerProfileChanged", "a");
  REQUIRE(wait_until([&] { return recorder.sent() == 2; }));
  CHECK(api.count_objects(kEvents) == 1);
  recorder.stop();
}
