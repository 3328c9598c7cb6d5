#include "joulie/operator/controller.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "../kube/fake_api.hpp"

using namespace std::chrono_literals;
using joulie::kube::testing::wait_until;
using joulie::operator_mode::Controller;
using joulie::operator_mode::ControllerOptions;
using joulie::operator_mode::PassKind;

namespace {

struct Harness {
  std::mutex mutex;
  std::vector<PassKind> kinds;
  std::atomic<bool> open{true};
  std::unique_ptr<Controller> controller;
  std::thread thread;

  explicit Harness(ControllerOptions options) {
    controller = std::make_unique<Controller>(
        options,
        [this](PassKind kind) -> std::optional<joulie::SteadyTime> {
          std::lock_guard lock(mutex);
          kinds.push_back(kind);
          return std::nullopt;
        },
        [this] { return open.load(); });
  }
  void start() {
    thread = std::thread([this] { controller->run(); });
  }
  ~Harness() {
    controller->stop();
    if (thread.joinable()) {
      thread.join();
    }
  }
  std::vector<PassKind> seen() {
    std::lock_guard lock(mutex);
    return kinds;
  }
};

}  // namespace

TEST_CASE("controller: the first pass re-plans at once; a burst of node events is one re-plan") {
  Harness h({std::chrono::hours(1), 100ms});
  h.start();
  REQUIRE(wait_until([&] { return h.seen().size() == 1; }));
  CHECK(h.seen()[0] == PassKind::replan);
  for (int i = 0; i < 20; ++i) {
    h.controller->request_replan();
  }
  REQUIRE(wait_until([&] { return h.seen().size() == 2; }));
  CHECK(h.seen()[1] == PassKind::replan);
  // Nothing else is queued: the burst coalesced (bounded look, the debounce is 100 ms).
  CHECK_FALSE(wait_until([&] { return h.seen().size() > 2; }, 400ms));
}

TEST_CASE("controller: a drain completion re-guards without re-planning") {
  Harness h({std::chrono::hours(1), 100ms});
  h.start();
  REQUIRE(wait_until([&] { return h.seen().size() == 1; }));
  h.controller->request_reguard();
  REQUIRE(wait_until([&] { return h.seen().size() == 2; }));
  CHECK(h.seen()[1] == PassKind::reguard);
}

TEST_CASE("controller: the interval tick re-plans") {
  Harness h({200ms, 100ms});
  h.start();
  REQUIRE(wait_until([&] { return h.seen().size() >= 3; }, 5s));
  for (auto k : h.seen()) {
    CHECK(k == PassKind::replan);
  }
}

TEST_CASE("controller: no pass runs while the gate is closed (standby)") {
  Harness h({std::chrono::hours(1), 100ms});
  h.open = false;
  h.start();
  h.controller->request_reguard();
  CHECK_FALSE(wait_until([&] { return !h.seen().empty(); }, 300ms));
  h.open = true;
  h.controller->notify();
  REQUIRE(wait_until([&] { return h.seen().size() == 1; }));
  CHECK(h.seen()[0] == PassKind::replan);
}

TEST_CASE("controller: a window boundary re-plans at its time, not at the next tick") {
  Harness h({std::chrono::hours(1), 100ms});
  h.start();
  REQUIRE(wait_until([&] { return h.seen().size() == 1; }));
  // A far boundary first, then a near one: the earliest wins; an immediate re-plan request is
  // not held back by either.
  h.controller->request_replan_at(std::chrono::steady_clock::now() + std::chrono::hours(2));
  h.controller->request_replan();
  REQUIRE(wait_until([&] { return h.seen().size() == 2; }));
  const auto when = std::chrono::steady_clock::now() + 300ms;
  h.controller->request_replan_at(std::chrono::steady_clock::now() + std::chrono::hours(3));
  h.controller->request_replan_at(when);
  REQUIRE(wait_until([&] { return h.seen().size() == 3; }, 5s));
  CHECK(std::chrono::steady_clock::now() >= when);
  CHECK(h.seen()[2] == PassKind::replan);
  // Served: nothing else is due within the hour's tick.
  CHECK_FALSE(wait_until([&] { return h.seen().size() > 3; }, 400ms));
}

TEST_CASE("controller: a re-plan requested while a pass runs is visible to that pass") {
  std::mutex m;
  std::condition_variable cv;
  bool in_pass = false, release = false;
  int passes = 0;
  std::unique_ptr<Controller> controller;
  controller = std::make_unique<Controller>(ControllerOptions{std::chrono::hours(1), 10ms},
                                            [&](PassKind) -> std::optional<joulie::SteadyTime> {
                                              std::unique_lock lock(m);
                                              if (++passes == 1) {
                                                in_pass = true;
                                                cv.notify_all();
                                                cv.wait_for(lock, 10s, [&] { return release; });
                                              }
                                              return std::nullopt;
                                            });
  std::thread thread([&] { controller->run(); });
  {
    std::unique_lock lock(m);
    REQUIRE(cv.wait_for(lock, 10s, [&] { return in_pass; }));
  }
  // The first pass consumed the start-up tick; the next one is an hour away.
  CHECK_FALSE(controller->replan_pending());
  controller->request_replan();  // e.g. the managed set changed during the pass
  CHECK(wait_until([&] { return controller->replan_pending(); }));
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  CHECK(wait_until([&] {
    std::lock_guard lock(m);
    return passes == 2;
  }));
  CHECK_FALSE(controller->replan_pending());  // that pass consumed it
  controller->stop();
  thread.join();
}
