#include "joulie/kube/backoff.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <thread>

using namespace std::chrono_literals;
using joulie::kube::Backoff;
using joulie::kube::StopSignal;

TEST_CASE("backoff: 0.8 s doubling to 30 s without jitter") {
  Backoff backoff(Backoff::Options{}, [] { return 0.5; });
  std::vector<std::chrono::milliseconds> delays;
  for (int i = 0; i < 9; ++i) {
    delays.push_back(backoff.next());
  }
  CHECK(delays == std::vector<std::chrono::milliseconds>{800ms, 1600ms, 3200ms, 6400ms, 12800ms,
                                                         25600ms, 30000ms, 30000ms, 30000ms});
  backoff.reset();
  CHECK(backoff.next() == 800ms);
}

TEST_CASE("backoff: jitter spreads delays within ±20% and never beyond the maximum") {
  double r = 0.0;
  Backoff low(Backoff::Options{}, [&] { return r; });
  CHECK(low.next() == 640ms);  // 0.8 s × 0.8
  r = 0.999999;
  Backoff high(Backoff::Options{}, [&] { return r; });
  CHECK(high.next() == 959ms);  // just under 0.8 s × 1.2
  for (int i = 0; i < 10; ++i) {
    CHECK(high.next() <= 30s);
  }
  r = 0.0;
  CHECK(high.next() == 24s);  // the capped base, jittered down
}

TEST_CASE("backoff: the default random source makes different delays") {
  std::set<int64_t> seen;
  for (int i = 0; i < 20; ++i) {
    Backoff b;
    auto d = b.next();
    CHECK(d >= 640ms);
    CHECK(d <= 960ms);
    seen.insert(d.count());
  }
  CHECK(seen.size() > 1);
}

TEST_CASE("backoff: nonsense options are made sane") {
  Backoff::Options options;
  options.initial = 0ms;
  options.max = -5ms;
  options.factor = 0.1;
  options.jitter = 7.0;
  Backoff backoff(options, [] { return 0.5; });
  for (int i = 0; i < 5; ++i) {
    auto d = backoff.next();
    CHECK(d >= 1ms);
    CHECK(d <= 1ms);
  }
}

TEST_CASE("stop signal: a wait ends promptly when stopped from another thread") {
  StopSignal stop;
  CHECK_FALSE(stop.stopped());
  auto t0 = std::chrono::steady_clock::now();
  std::thread stopper([&] {
    std::this_thread::sleep_for(20ms);
    stop.request_stop();
  });
  CHECK_FALSE(stop.wait_for(60s));
  stopper.join();
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
  CHECK(stop.flag().load());
  CHECK_FALSE(stop.wait_for(60s));  // already stopped: returns at once
  stop.reset();
  CHECK(stop.wait_for(1ms));
}

TEST_CASE("stop signal: the wait hook replaces real waiting") {
  StopSignal stop;
  std::vector<std::chrono::milliseconds> seen;
  stop.wait_hook([&](std::chrono::milliseconds d) { seen.push_back(d); });
  CHECK(stop.wait_for(1h));
  CHECK(seen == std::vector<std::chrono::milliseconds>{1h});
}
