#include <catch2/catch.hpp>

#include "joulie/agent/dvfs_controller.hpp"

using namespace joulie::agent;
using namespace std::chrono_literals;
using joulie::SystemTime;

namespace {

// Cap 100 W, defaults: band (85, 110), step 10, trip 2, cooldown 20 s, TTL 60 s, alpha 0.3.
constexpr double kCap = 100;

struct Loop {
  DvfsController controller;
  SystemTime now = SystemTime{} + 1000h;
  int writes = 0;

  explicit Loop(DvfsSettings settings = {}) : controller(settings) {}

  // Feeds a fresh sample 20 s after the previous one and commits any change.
  DvfsDecision feed(double watts, std::chrono::seconds after = 20s) {
    now += after;
    auto d = controller.observe(kCap, PowerSample{watts, now}, now);
    if (d.change()) {
      ++writes;
      controller.commit(d, now);
    }
    return d;
  }
};

DvfsSettings raw(int trip = 2) {
  DvfsSettings s;
  s.ema_alpha = 1.0;  // EMA = last sample: steps are easy to read
  s.trip_count = trip;
  return s;
}

}  // namespace

TEST_CASE("the first sample sets the EMA, later ones blend with alpha") {
  DvfsController c(DvfsSettings{});
  SystemTime t = SystemTime{} + 1h;
  CHECK_FALSE(c.ema_watts().has_value());
  (void)c.observe(kCap, PowerSample{200, t}, t);
  CHECK(*c.ema_watts() == Approx(200));
  (void)c.observe(kCap, PowerSample{100, t}, t);
  CHECK(*c.ema_watts() == Approx(0.3 * 100 + 0.7 * 200));
  CHECK(*c.last_watts() == Approx(100));
}

TEST_CASE("trip consecutive samples above the band raise the throttle by one step") {
  Loop loop(raw());
  auto first = loop.feed(150);
  CHECK(first.step == DvfsStep::counting);
  CHECK(loop.controller.above_count() == 1);
  auto second = loop.feed(150);
  CHECK(second.step == DvfsStep::raise);
  CHECK(second.throttle_pct == 10);
  CHECK(loop.controller.throttle_pct() == 10);
  CHECK(loop.controller.above_count() == 0);  // counters restart after an action
  CHECK(loop.controller.raises() == 1);
}

TEST_CASE("the band edges are exclusive: exactly cap+high or cap-low is in band") {
  Loop loop(raw(1));
  CHECK(loop.feed(110).step == DvfsStep::in_band);
  CHECK(loop.feed(85).step == DvfsStep::in_band);
  CHECK(loop.feed(110.01).step == DvfsStep::raise);
}

TEST_CASE("a sample in the band resets both counters") {
  Loop loop(raw(3));
  loop.feed(150);
  loop.feed(150);
  CHECK(loop.controller.above_count() == 2);
  CHECK(loop.feed(100).step == DvfsStep::in_band);
  CHECK(loop.controller.above_count() == 0);
  loop.feed(150);
  loop.feed(150);
  CHECK(loop.controller.throttle_pct() == 0);  // never three in a row
  CHECK(loop.feed(150).step == DvfsStep::raise);
}

TEST_CASE("crossing from above to below restarts the count") {
  Loop loop(raw(2));
  loop.feed(150);
  loop.feed(50);
  CHECK(loop.controller.above_count() == 0);
  CHECK(loop.controller.below_count() == 1);
}

TEST_CASE("below the band lowers the throttle, never under 0 and without 0→0 writes") {
  Loop loop(raw(1));
  loop.feed(150);
  loop.feed(150);
  REQUIRE(loop.controller.throttle_pct() == 20);
  CHECK(loop.feed(50).step == DvfsStep::lower);
  CHECK(loop.controller.throttle_pct() == 10);
  CHECK(loop.feed(50).step == DvfsStep::lower);
  CHECK(loop.controller.throttle_pct() == 0);
  int writes = loop.writes;
  auto at_zero = loop.feed(50);
  CHECK(at_zero.step == DvfsStep::at_bound);
  CHECK_FALSE(at_zero.change());
  CHECK(loop.writes == writes);
  CHECK(loop.controller.lowers() == 2);
}

TEST_CASE("the throttle saturates at 100 without 100→100 writes") {
  DvfsSettings s = raw(1);
  s.step_pct = 30;
  Loop loop(s);
  for (int i = 0; i < 3; ++i) {
    loop.feed(500);
  }
  CHECK(loop.controller.throttle_pct() == 90);
  auto last = loop.feed(500);
  CHECK(last.step == DvfsStep::raise);
  CHECK(last.throttle_pct == 100);  // clamped, not 120
  int writes = loop.writes;
  CHECK(loop.feed(500).step == DvfsStep::at_bound);
  CHECK(loop.writes == writes);
}

TEST_CASE("no action within the cooldown after an action") {
  DvfsSettings s = raw(1);
  s.cooldown = 60s;
  Loop loop(s);
  CHECK(loop.feed(150, 20s).step == DvfsStep::raise);
  CHECK(loop.feed(150, 20s).step == DvfsStep::cooling_down);
  CHECK(loop.feed(150, 20s).step == DvfsStep::cooling_down);  // 40 s after
  CHECK(loop.controller.throttle_pct() == 10);
  CHECK(loop.feed(150, 20s).step == DvfsStep::raise);  // 60 s after: allowed again
  CHECK(loop.controller.throttle_pct() == 20);
}

TEST_CASE("stale or missing input holds everything") {
  Loop loop(raw(2));
  loop.feed(150);
  REQUIRE(loop.controller.above_count() == 1);
  double ema = *loop.controller.ema_watts();

  auto missing = loop.controller.observe(kCap, std::nullopt, loop.now);
  CHECK(missing.step == DvfsStep::hold_missing);
  SystemTime old = loop.now - 61s;
  auto stale = loop.controller.observe(kCap, PowerSample{150, old}, loop.now);
  CHECK(stale.step == DvfsStep::hold_stale);
  auto nan = loop.controller.observe(kCap, PowerSample{std::nan(""), loop.now}, loop.now);
  CHECK(nan.step == DvfsStep::hold_missing);
  CHECK(loop.controller.above_count() == 1);
  CHECK(*loop.controller.ema_watts() == ema);
  CHECK(loop.controller.throttle_pct() == 0);

  // Exactly at the TTL is still fresh.
  auto edge = loop.controller.observe(kCap, PowerSample{150, loop.now - 60s}, loop.now);
  CHECK(edge.step == DvfsStep::raise);
}

TEST_CASE("an uncommitted proposal is proposed again on the next sample") {
  Loop loop(raw(2));
  loop.now += 20s;
  (void)loop.controller.observe(kCap, PowerSample{150, loop.now}, loop.now);
  auto proposal = loop.controller.observe(kCap, PowerSample{150, loop.now}, loop.now);
  REQUIRE(proposal.step == DvfsStep::raise);
  // The write failed: no commit.
  CHECK(loop.controller.throttle_pct() == 0);
  auto again = loop.controller.observe(kCap, PowerSample{150, loop.now}, loop.now);
  CHECK(again.step == DvfsStep::raise);
  CHECK(again.throttle_pct == 10);
}

TEST_CASE("the EMA smooths a single spike away") {
  Loop loop{DvfsSettings{}};  // alpha 0.3, trip 2
  for (int i = 0; i < 5; ++i) {
    loop.feed(100);
  }
  loop.feed(200);  // EMA 130: above
  loop.feed(100);  // EMA 121: still above → trip reached
  CHECK(loop.controller.throttle_pct() == 10);
  Loop calm{DvfsSettings{}};
  for (int i = 0; i < 5; ++i) {
    calm.feed(100);
  }
  calm.feed(140);  // EMA 112: above
  calm.feed(100);  // EMA 108.4: in band → reset
  CHECK(calm.controller.throttle_pct() == 0);
  CHECK(calm.controller.above_count() == 0);
}

TEST_CASE("reset returns to p = 0 with a fresh EMA") {
  Loop loop(raw(1));
  loop.feed(150);
  REQUIRE(loop.controller.throttle_pct() == 10);
  loop.controller.reset();
  CHECK(loop.controller.throttle_pct() == 0);
  CHECK_FALSE(loop.controller.ema_watts().has_value());
  // No cooldown after a reset.
  CHECK(loop.feed(150, 1s).step == DvfsStep::raise);
}

TEST_CASE("closed loop against a plant converges into the band") {
  // Plant: 60 W idle + 140 W dynamic, throttle lowers the dynamic part by 0.8·p/100.
  Loop loop{DvfsSettings{}};
  double watts = 200;
  for (int i = 0; i < 60; ++i) {
    loop.feed(watts);
    watts = 60 + 140 * (1 - 0.8 * loop.controller.throttle_pct() / 100.0);
  }
  CHECK(watts <= kCap + 10);
  CHECK(watts >= kCap - 15);
  int settled = loop.writes;
  for (int i = 0; i < 20; ++i) {
    loop.feed(watts);
  }
  CHECK(loop.writes == settled);  // no oscillation once in the band
}
