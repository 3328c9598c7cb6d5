#include "joulie/kube/leader.hpp"

#include <catch2/catch.hpp>

#include <condition_variable>
#include <regex>

#include "fake_api.hpp"

using namespace std::chrono_literals;
using joulie::Errc;
using joulie::Error;
using joulie::ManualClock;
using joulie::kube::LeaderCallbacks;
using joulie::kube::LeaderElectionOptions;
using joulie::kube::LeaderElector;
using joulie::kube::Resource;
using joulie::kube::testing::FakeApi;
using joulie::kube::testing::Verb;
using joulie::kube::testing::wait_until;

namespace {

const Resource kLeases{"coordination.k8s.io", "v1", "leases", "Lease", true};
const std::string kLeaseKey = "kube-system/joulie-operator";

struct Candidate {
  std::atomic<int> started{0};
  std::atomic<int> stopped{0};
  std::unique_ptr<LeaderElector> elector;

  Candidate(FakeApi& api, const joulie::Clock& clock, const std::string& identity,
            LeaderElectionOptions options = {}) {
    options.ns = "kube-system";
    options.identity = identity;
    options.clock = &clock;
    LeaderCallbacks callbacks;
    callbacks.started_leading = [this] { ++started; };
    callbacks.stopped_leading = [this] { ++stopped; };
    elector = std::make_unique<LeaderElector>(api, options, callbacks);
  }
};

rapidjson::Document lease(FakeApi& api) {
  auto doc = api.object(kLeases, kLeaseKey);
  REQUIRE(doc);
  return std::move(*doc);
}

std::string holder(FakeApi& api) { return lease(api)["spec"]["holderIdentity"].GetString(); }

}  // namespace

TEST_CASE("leader: options are validated") {
  LeaderElectionOptions o;
  CHECK(LeaderElector::validate(o).ok());
  o.renew_deadline = 20s;
  CHECK(LeaderElector::validate(o).code() == Errc::invalid_argument);
  o = {};
  o.retry_period = 10s;
  CHECK_FALSE(LeaderElector::validate(o).ok());
  o = {};
  o.name.clear();
  CHECK_FALSE(LeaderElector::validate(o).ok());
  o = {};
  o.retry_period = 0ms;
  CHECK_FALSE(LeaderElector::validate(o).ok());
}

TEST_CASE("leader: identity and time formats") {
  auto id = joulie::kube::default_identity();
  CHECK(std::regex_match(id, std::regex(R"(.+_[0-9a-f]{8})")));
  CHECK(id != joulie::kube::default_identity());
  auto t = joulie::SystemTime{} + std::chrono::seconds(1795932005) + std::chrono::microseconds(7);
  CHECK(joulie::kube::format_micro_time(t) == "2026-11-29T06:00:05.000007Z");
}

TEST_CASE("leader: a single candidate creates the lease, leads and renews") {
  FakeApi api;
  ManualClock clock;
  Candidate a(api, clock, "a");
  CHECK_FALSE(a.elector->is_leader());
  CHECK(a.elector->tick());
  CHECK(a.elector->is_leader());
  CHECK(a.started == 1);

  auto l = lease(api);
  CHECK(std::string(l["apiVersion"].GetString()) == "coordination.k8s.io/v1");
  const auto& spec = l["spec"];
  CHECK(std::string(spec["holderIdentity"].GetString()) == "a");
  CHECK(spec["leaseDurationSeconds"].GetInt() == 15);
  CHECK(spec["leaseTransitions"].GetInt() == 0);
  std::regex micro(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)");
  std::string acquired = spec["acquireTime"].GetString();
  CHECK(std::regex_match(acquired, micro));
  CHECK(std::string(spec["renewTime"].GetString()) == acquired);

  clock.advance(2s);
  CHECK(a.elector->tick());
  auto renewed = lease(api);
  CHECK(std::string(renewed["spec"]["acquireTime"].GetString()) == acquired);
  CHECK(std::string(renewed["spec"]["renewTime"].GetString()) != acquired);
  CHECK(renewed["spec"]["leaseTransitions"].GetInt() == 0);
  CHECK(a.started == 1);  // renewing is not a new start
  CHECK(a.elector->leader() == "a");
}

TEST_CASE("leader: a second candidate waits while the leader renews") {
  FakeApi api;
  ManualClock clock;
  Candidate a(api, clock, "a");
  Candidate b(api, clock, "b");
  REQUIRE(a.elector->tick());
  for (int i = 0; i < 20; ++i) {  // 40 s: far beyond the lease duration, but renewed throughout
    CHECK_FALSE(b.elector->tick());
    clock.advance(2s);
    CHECK(a.elector->tick());
  }
  CHECK(b.started == 0);
  CHECK(b.elector->leader() == "a");
  CHECK(holder(api) == "a");
}

TEST_CASE("leader: an expired lease is taken over, measured from the local observation") {
  FakeApi api;
  ManualClock clock;
  // A holder whose renewTime is far in the past by OUR clock (skewed remote clock): we must not
  // take over before a full lease duration of our own observation.
  api.put(kLeases, R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
    "metadata":{"name":"joulie-operator","namespace":"kube-system"},
    "spec":{"holderIdentity":"old","leaseDurationSeconds":15,"acquireTime":"2001-01-01T00:00:00.000000Z",
            "renewTime":"2001-01-01T00:00:00.000000Z","leaseTransitions":4}})");
  Candidate b(api, clock, "b");
  CHECK_FALSE(b.elector->tick());
  clock.advance(14s);
  CHECK_FALSE(b.elector->tick());
  clock.advance(1s);  // exactly 15 s since the observation
  CHECK(b.elector->tick());
  CHECK(b.started == 1);
  auto doc = lease(api);
  const auto& spec = doc["spec"];
  CHECK(std::string(spec["holderIdentity"].GetString()) == "b");
  CHECK(spec["leaseTransitions"].GetInt() == 5);
  CHECK(std::string(spec["acquireTime"].GetString()) == std::string(spec["renewTime"].GetString()));
}

TEST_CASE("leader: a leader that finds the lease taken stops leading at once") {
  FakeApi api;
  ManualClock clock;
  Candidate a(api, clock, "a");
  Candidate b(api, clock, "b");
  REQUIRE(a.elector->tick());
  CHECK_FALSE(b.elector->tick());
  clock.advance(16s);  // a was frozen (e.g. a long GC pause or a partition)
  CHECK(b.elector->tick());
  CHECK_FALSE(a.elector->tick());
  CHECK(a.stopped == 1);
  CHECK_FALSE(a.elector->is_leader());
  CHECK(b.elector->is_leader());
}

TEST_CASE("leader: conflicts are re-read, never overwritten") {
  FakeApi api;
  ManualClock clock;
  bool once = true;  // hook state outlives the candidates (their destructors may release)
  Candidate a(api, clock, "a");
  Candidate b(api, clock, "b");

  SECTION("a 409 while acquiring leaves the candidate a follower until the next attempt") {
    REQUIRE(a.elector->tick());
    a.elector->stop();  // releases: the lease is free
    api.fail_next(Verb::update, Error(Errc::conflict, "modified", 409, "Conflict"));
    CHECK_FALSE(b.elector->tick());
    CHECK(b.started == 0);
    CHECK(b.elector->tick());
    CHECK(b.started == 1);
  }

  SECTION("a write between our read and our update makes the update conflict") {
    REQUIRE(a.elector->tick());
    clock.advance(16s);  // expired as far as b can tell once it has observed it
    CHECK_FALSE(b.elector->tick());
    clock.advance(16s);
    api.call_hook([&](Verb verb, const Resource&) -> std::optional<Error> {
      if (verb == Verb::update && once) {
        once = false;
        // a renews right between b's get and b's update
        auto current = api.object(kLeases, kLeaseKey);
        (*current)["spec"]["renewTime"].SetString("2030-01-01T00:00:00.000000Z");
        api.put(kLeases, joulie::kube::testing::to_string(*current));
      }
      return std::nullopt;
    });
    CHECK_FALSE(b.elector->tick());  // 409 on the stale resourceVersion
    CHECK(holder(api) == "a");
    CHECK_FALSE(b.elector->tick());  // re-read: a changed record, observed just now
    CHECK(b.started == 0);
  }
}

TEST_CASE("leader: failing to renew stops leading at the renew deadline") {
  FakeApi api;
  ManualClock clock;
  Candidate a(api, clock, "a");
  REQUIRE(a.elector->tick());
  auto start = clock.monotonic();
  std::atomic<bool> down{true};
  api.call_hook([&](Verb verb, const Resource&) -> std::optional<Error> {
    if (down && (verb == Verb::update || verb == Verb::get)) {
      return Error(Errc::server_error, "etcd timeout", 500);
    }
    return std::nullopt;
  });
  for (int i = 0; i < 4; ++i) {
    clock.advance(2s);
    CHECK(a.elector->tick());  // t = 2, 4, 6, 8 s: still within the deadline
  }
  clock.advance(1900ms);
  CHECK(a.elector->is_leader());  // 9.9 s
  clock.advance(100ms);
  // 10 s: is_leader() is false by itself, before any tick or watchdog run
  CHECK(clock.monotonic() - start == 10s);
  CHECK_FALSE(a.elector->is_leader());
  CHECK(a.stopped == 0);
  CHECK_FALSE(a.elector->check_deadline());
  CHECK(a.stopped == 1);
  CHECK_FALSE(a.elector->tick());
  CHECK(a.stopped == 1);  // once
}

TEST_CASE("leader: a clean stop releases the lease so a standby takes over at once") {
  FakeApi api;
  ManualClock clock;
  Candidate a(api, clock, "a");
  Candidate b(api, clock, "b");
  REQUIRE(a.elector->tick());
  CHECK_FALSE(b.elector->tick());
  a.elector->stop();
  CHECK(a.stopped == 1);
  CHECK(holder(api).empty());
  CHECK(b.elector->tick());  // no waiting for expiry
  CHECK(lease(api)["spec"]["leaseTransitions"].GetInt() == 1);
}

TEST_CASE("leader: with threads, a hung renew still stops leadership at the deadline") {
  FakeApi api;
  LeaderElectionOptions options;
  options.lease_duration = 1500ms;
  options.renew_deadline = 1000ms;
  options.retry_period = 100ms;
  Candidate a(api, joulie::RealClock::instance(), "a", options);

  std::mutex m;
  std::condition_variable cv;
  bool hang = false;
  bool released = false;
  std::atomic<bool> in_hung_call{false};
  api.call_hook([&](Verb verb, const Resource&) -> std::optional<Error> {
    std::unique_lock lock(m);
    if (hang && verb == Verb::update) {
      in_hung_call = true;
      cv.wait(lock, [&] { return released; });
      in_hung_call = false;
      return Error(Errc::timeout, "request timed out");
    }
    return std::nullopt;
  });

  a.elector->start();
  REQUIRE(wait_until([&] { return a.elector->is_leader(); }));
  {
    std::lock_guard lock(m);
    hang = true;
  }
  REQUIRE(wait_until([&] { return in_hung_call.load(); }));
  auto hung_at = std::chrono::steady_clock::now();
  REQUIRE(wait_until([&] { return a.stopped.load() == 1; }));
  CHECK(in_hung_call.load());  // the watchdog fired while the request still hung
  CHECK(std::chrono::steady_clock::now() - hung_at <= 2s);
  CHECK_FALSE(a.elector->is_leader());
  {
    std::lock_guard lock(m);
    released = true;
    hang = false;
  }
  cv.notify_all();
  a.elector->stop();
}

TEST_CASE("leader: the holder's annotations ride on every acquire and renewal") {
  FakeApi api;
  ManualClock clock;
  std::string status = "first";
  LeaderElectionOptions options;
  options.annotations = [&status] {
    return std::map<std::string, std::string>{{"joulie.io/status", status}};
  };
  Candidate a(api, clock, "a", options);
  REQUIRE(a.elector->tick());
  CHECK(std::string(lease(api)["metadata"]["annotations"]["joulie.io/status"].GetString()) ==
        "first");
  status = "second";
  clock.advance(2s);
  REQUIRE(a.elector->tick());
  auto l = lease(api);
  CHECK(std::string(l["metadata"]["annotations"]["joulie.io/status"].GetString()) == "second");
  // No request of its own: the renewal carries it.
  CHECK(api.calls(joulie::kube::testing::Verb::create) == 1);

  // A candidate that does not lead writes nothing.
  Candidate b(api, clock, "b", options);
  status = "from b";
  CHECK_FALSE(b.elector->tick());
  CHECK(std::string(lease(api)["metadata"]["annotations"]["joulie.io/status"].GetString()) ==
        "second");
}
