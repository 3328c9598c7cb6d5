#include <catch2/catch.hpp>
#include <deque>
#include <limits>

#include "fake_sysfs.hpp"
#include "joulie/agent/actuator.hpp"
#include "stub_server.hpp"

using joulie::ManualClock;
using joulie::test::FakeSysfs;
using joulie::test::TempDir;
using namespace joulie::agent;
using namespace std::chrono_literals;

namespace {

// A scripted control provider recording its calls.
class FakeControl final : public ControlProvider {
 public:
  explicit FakeControl(Backend backend) : backend_(backend) {}
  ControlOutcome apply_cap(double watts) override {
    caps.push_back(watts);
    if (!cap_script.empty()) {
      ControlOutcome next = cap_script.front();
      cap_script.pop_front();
      return next;
    }
    if (cap_unreachable) {
      ControlOutcome out{Backend::rapl, ApplyResult::error,
                         "rapl.set_power_cap_watts failed: cannot connect to http://sim/control/n",
                         std::nullopt};
      out.transient = true;
      return out;
    }
    if (!cap_works) {
      return {Backend::rapl, ApplyResult::error, "RAPL unavailable: locked", std::nullopt, true};
    }
    return {Backend::rapl, ApplyResult::applied, "RAPL package cap applied", watts};
  }
  ControlOutcome apply_throttle(int pct, std::optional<double> cap) override {
    throttles.push_back(pct);
    if (!throttle_works) {
      return {Backend::dvfs, ApplyResult::error, "DVFS write failed: EIO", cap, true};
    }
    return {Backend::dvfs, ApplyResult::applied, "ok", cap};
  }
  ControlOutcome restore() override {
    ++restores;
    if (restore_log) {
      ++*restore_log;
    }
    return {backend_, ApplyResult::applied, "restored", std::nullopt};
  }
  std::optional<int> throttle_in_force() const override { return in_force; }
  joulie::Status available() override {
    if (dvfs_missing) {
      return joulie::Error(joulie::Errc::unavailable, "no cpufreq policies");
    }
    return joulie::Status::success();
  }

  bool cap_works = true;
  bool cap_unreachable = false;           // transient: no answer from the control endpoint
  std::deque<ControlOutcome> cap_script;  // replies to the next apply_cap calls, first
  bool throttle_works = true;
  bool dvfs_missing = false;
  std::optional<int> in_force;  // a throttle an earlier agent left
  std::vector<double> caps;
  std::vector<int> throttles;
  int restores = 0;
  std::shared_ptr<int> restore_log;  // outlives the provider (route changes destroy it)

 private:
  Backend backend_;
};

class FakeTelemetry final : public TelemetryProvider {
 public:
  explicit FakeTelemetry(const joulie::Clock& clock) : clock_(clock) {}
  TelemetrySample sample() override {
    TelemetrySample s;
    s.timestamp = clock_.now();
    s.packages = packages;
    if (watts) {
      s.watts = *watts;
    } else {
      s.missing_reason = "telemetry endpoint answered HTTP 500";
    }
    ++samples;
    return s;
  }
  std::optional<double> watts = 200.0;
  int packages = 1;
  int samples = 0;

 private:
  const joulie::Clock& clock_;
};

struct Fixture {
  ManualClock clock;
  ActuatorContext context;
  FakeControl* rapl = nullptr;
  FakeControl* dvfs = nullptr;
  FakeTelemetry* telemetry = nullptr;
  NodeActuator actuator;

  explicit Fixture(RouteConfig route = {}, bool with_telemetry = true)
      : context(make_context(clock)), actuator("node-a", context) {
    attach(route, with_telemetry);
  }

  static ActuatorContext make_context(const joulie::Clock& clock) {
    ActuatorContext c;
    c.clock = &clock;
    c.dvfs.trip_count = 1;
    c.dvfs.cooldown = 0s;
    c.rapl_retry = 5min;
    return c;
  }

  void attach(RouteConfig route, bool with_telemetry = true) {
    RouteProviders p;
    auto r = std::make_unique<FakeControl>(Backend::rapl);
    auto d = std::make_unique<FakeControl>(Backend::dvfs);
    rapl = r.get();
    dvfs = d.get();
    p.rapl = rapl;
    p.dvfs = dvfs;
    p.owned.push_back(std::move(r));
    p.owned.push_back(std::move(d));
    if (with_telemetry) {
      auto t = std::make_unique<FakeTelemetry>(clock);
      telemetry = t.get();
      p.telemetry = std::move(t);
    } else {
      telemetry = nullptr;
      p.no_telemetry_reason = "prometheus source not supported";
    }
    actuator.set_route(route, std::move(p));
  }

  ControlOutcome pass(std::optional<double> cap = 100.0) {
    clock.advance(20s);
    return actuator.reconcile(cap);
  }
};

}  // namespace

TEST_CASE("RAPL first: when it applies, DVFS is not touched") {
  Fixture f;
  auto out = f.pass(150);
  CHECK(out.backend == Backend::rapl);
  CHECK(out.result == ApplyResult::applied);
  CHECK(f.rapl->caps == std::vector<double>{150});
  CHECK(f.dvfs->throttles.empty());
  CHECK(f.telemetry->samples == 0);
  f.pass(150);
  CHECK(f.rapl->caps.size() == 2);  // re-applied every pass
}

TEST_CASE("RAPL unavailable: the DVFS controller takes over and says why") {
  Fixture f;
  f.rapl->cap_works = false;
  auto out = f.pass(100);  // power 200 W: above the band, trip 1 → 10 %
  CHECK(out.backend == Backend::dvfs);
  CHECK(out.result == ApplyResult::applied);
  CHECK(out.applied_cap_watts == 100.0);
  CHECK(out.message == "RAPL unavailable: locked; DVFS throttle 10% holding the 100 W cap");
  CHECK(out.message.find("200") == std::string::npos);  // no per-sample numbers
  CHECK(f.dvfs->throttles == std::vector<int>{10});
  f.pass(100);
  CHECK(f.dvfs->throttles == std::vector<int>{10, 20});
  CHECK(f.actuator.dvfs_controller().throttle_pct() == 20);
  CHECK(f.actuator.dvfs_active());
}

TEST_CASE("a refused cap is not a RAPL failure: DVFS does not take it over") {
  Fixture f;
  ControlOutcome refused{Backend::rapl, ApplyResult::blocked, "cap 40 W refused: below the minimum",
                         std::nullopt};
  refused.refused = true;
  f.rapl->cap_script.push_back(refused);
  auto out = f.pass(40);
  CHECK(out.result == ApplyResult::blocked);
  CHECK(out.refused);
  CHECK(f.dvfs->throttles.empty());
  CHECK_FALSE(f.actuator.dvfs_active());
  // Outside the API's range: refused before any provider is asked.
  for (double bad : {5.0, 1.8e308, std::numeric_limits<double>::quiet_NaN()}) {
    auto outside = f.pass(bad);
    CHECK(outside.result == ApplyResult::blocked);
    CHECK_THAT(outside.message, Catch::Contains("outside 10–100000 W per package"));
  }
  CHECK(f.rapl->caps == std::vector<double>{40});
}

TEST_CASE("DVFS resumes from the throttle an earlier agent left in force") {
  Fixture f;
  f.rapl->cap_works = false;
  f.dvfs->in_force = 60;
  auto out = f.pass(100);  // power 200 W: above the band → raise from 60, not from 0
  CHECK(f.dvfs->throttles == std::vector<int>{70});
  CHECK(f.actuator.dvfs_controller().throttle_pct() == 70);
  CHECK(out.message == "RAPL unavailable: locked; DVFS throttle 70% holding the 100 W cap");
}

TEST_CASE("the DVFS band scales the per-package cap by the packages measured") {
  Fixture two;
  two.rapl->cap_works = false;
  two.telemetry->packages = 2;
  two.telemetry->watts = 180;  // 2 × 100 W cap: band (185, 210] → below, already at 0
  two.pass(100);
  CHECK(two.dvfs->throttles.empty());
  two.telemetry->watts = 300;  // EMA 0.3·300 + 0.7·180 = 216: above 210
  two.pass(100);
  CHECK(two.dvfs->throttles == std::vector<int>{10});

  Fixture one;
  one.rapl->cap_works = false;
  one.telemetry->watts = 180;  // one package: above 110
  one.pass(100);
  CHECK(one.dvfs->throttles == std::vector<int>{10});
}

TEST_CASE("a failed RAPL is not retried every pass, only after the retry interval or a new cap") {
  Fixture f;
  f.rapl->cap_works = false;
  for (int i = 0; i < 5; ++i) {
    f.pass(100);  // 5 × 20 s < 5 min
  }
  CHECK(f.rapl->caps.size() == 1);
  f.pass(90);  // new cap: try RAPL again
  CHECK(f.rapl->caps.size() == 2);
  f.clock.advance(5min);
  f.pass(90);
  CHECK(f.rapl->caps.size() == 3);
}

TEST_CASE("when RAPL is back, the throttle returns to 0 through the DVFS route") {
  Fixture f;
  f.rapl->cap_works = false;
  f.pass(100);
  f.pass(100);
  REQUIRE(f.actuator.dvfs_controller().throttle_pct() == 20);
  f.rapl->cap_works = true;
  f.clock.advance(5min);
  auto out = f.pass(100);
  CHECK(out.backend == Backend::rapl);
  CHECK(f.dvfs->throttles.back() == 0);
  CHECK(f.actuator.dvfs_controller().throttle_pct() == 0);
  CHECK_FALSE(f.actuator.dvfs_active());
  std::size_t writes = f.dvfs->throttles.size();
  f.pass(100);
  CHECK(f.dvfs->throttles.size() == writes);  // not reset again
}

TEST_CASE("a failed throttle restore is retried on the next pass") {
  Fixture f;
  f.rapl->cap_works = false;
  f.pass(100);
  f.rapl->cap_works = true;
  f.dvfs->throttle_works = false;
  f.pass(90);
  CHECK(f.actuator.dvfs_controller().throttle_pct() == 10);
  f.dvfs->throttle_works = true;
  f.pass(90);
  CHECK(f.dvfs->throttles.back() == 0);
  CHECK(f.actuator.dvfs_controller().throttle_pct() == 0);
}

TEST_CASE("missing or stale power holds the throttle and the message says so") {
  Fixture f;
  f.rapl->cap_works = false;
  f.pass(100);
  f.telemetry->watts.reset();
  auto out = f.pass(100);
  CHECK(out.result == ApplyResult::applied);
  CHECK(f.dvfs->throttles.size() == 1);
  CHECK(out.message.find("DVFS throttle 10%") != std::string::npos);
  CHECK(out.message.find("power input missing: telemetry endpoint answered HTTP 500") !=
        std::string::npos);
}

TEST_CASE("a failing throttle write is an error and is proposed again") {
  Fixture f;
  f.rapl->cap_works = false;
  f.dvfs->throttle_works = false;
  auto out = f.pass(100);
  CHECK(out.backend == Backend::dvfs);
  CHECK(out.result == ApplyResult::error);
  CHECK(out.message.find("RAPL unavailable") != std::string::npos);
  CHECK(f.actuator.dvfs_controller().throttle_pct() == 0);
  f.dvfs->throttle_works = true;
  f.pass(100);
  CHECK(f.actuator.dvfs_controller().throttle_pct() == 10);
}

TEST_CASE("nothing usable: blocked with the reasons") {
  Fixture no_source({}, false);
  no_source.rapl->cap_works = false;
  auto out = no_source.pass(100);
  CHECK(out.backend == Backend::dvfs);
  CHECK(out.result == ApplyResult::blocked);
  CHECK(out.message ==
        "RAPL unavailable: locked; DVFS has no power input: prometheus source not supported");

  Fixture no_dvfs;
  no_dvfs.rapl->cap_works = false;
  no_dvfs.dvfs->dvfs_missing = true;
  auto none = no_dvfs.pass(100);
  CHECK(none.backend == Backend::none);
  CHECK(none.result == ApplyResult::blocked);
  CHECK(none.message == "RAPL unavailable: locked; DVFS unavailable: no cpufreq policies");
}

TEST_CASE("mode rapl never falls back; mode dvfs never tries RAPL") {
  RouteConfig rapl_only;
  rapl_only.mode = ControlMode::rapl;
  Fixture r(rapl_only);
  r.rapl->cap_works = false;
  auto out = r.pass(100);
  CHECK(out.backend == Backend::rapl);
  CHECK(out.result == ApplyResult::error);
  CHECK(r.dvfs->throttles.empty());
  CHECK(r.pass(100).result == ApplyResult::error);  // still reported while not retried

  RouteConfig dvfs_only;
  dvfs_only.mode = ControlMode::dvfs;
  Fixture d(dvfs_only);
  auto dv = d.pass(100);
  CHECK(d.rapl->caps.empty());
  CHECK(dv.backend == Backend::dvfs);
  CHECK(dv.message == "DVFS throttle 10% holding the 100 W cap");
}

TEST_CASE("controls.cpu none applies nothing") {
  RouteConfig none;
  none.control = ControlRoute::none;
  Fixture f(none);
  auto out = f.pass(100);
  CHECK(out.backend == Backend::none);
  CHECK(out.result == ApplyResult::none);
  CHECK(out.message.find("disabled by the TelemetryProfile") != std::string::npos);
  CHECK(f.rapl->caps.empty());
}

TEST_CASE("no cap wanted, or a route change, releases what was applied") {
  Fixture f;
  f.rapl->cap_works = false;
  f.pass(100);
  auto released = f.pass(std::nullopt);
  CHECK(released.result == ApplyResult::none);
  CHECK(f.rapl->restores == 1);
  CHECK(f.dvfs->restores == 1);
  CHECK(f.actuator.dvfs_controller().throttle_pct() == 0);

  f.pass(100);
  REQUIRE(f.actuator.dvfs_controller().throttle_pct() == 10);
  auto old_route_restores = std::make_shared<int>(0);
  f.rapl->restore_log = old_route_restores;
  f.dvfs->restore_log = old_route_restores;
  RouteConfig http;
  http.control = ControlRoute::http;
  f.attach(http);  // the old providers are released before being replaced
  CHECK(*old_route_restores == 2);
  CHECK(f.actuator.dvfs_controller().throttle_pct() == 0);
  CHECK(f.actuator.route().control == ControlRoute::http);
}

TEST_CASE("route set-up problems are reported, not thrown") {
  ManualClock clock;
  ActuatorContext pool_mode;
  pool_mode.clock = &clock;
  pool_mode.host_allowed = false;
  NodeActuator pooled("n", pool_mode);
  pooled.set_route(RouteConfig{});
  auto out = pooled.reconcile(100.0);
  CHECK(out.result == ApplyResult::blocked);
  CHECK(out.message.find("pool mode") != std::string::npos);

  HttpClientPool pool;
  ActuatorContext ctx;
  ctx.clock = &clock;
  ctx.pool = &pool;
  RouteConfig bad;
  bad.control = ControlRoute::http;
  bad.control_endpoint = "sim:8080/control/{node}";
  NodeActuator actuator("n", ctx);
  actuator.set_route(bad);
  auto err = actuator.reconcile(100.0);
  CHECK(err.result == ApplyResult::error);
  CHECK(err.message.find("control endpoint unusable") != std::string::npos);

  RouteConfig prom;
  prom.source = SourceType::prometheus;
  auto providers = make_route_providers("n", prom, ctx);
  CHECK(providers.telemetry == nullptr);
  CHECK_THAT(providers.no_telemetry_reason, Catch::Contains("prometheus endpoint unusable"));
  prom.telemetry_endpoint = "http://127.0.0.1:9";
  CHECK(make_route_providers("n", prom, ctx).no_telemetry_reason ==
        "the prometheus source has no query");
  prom.telemetry_query = R"(node_power_watts{node="{node}"})";
  auto usable = make_route_providers("node\"x", prom, ctx);
  REQUIRE(usable.telemetry != nullptr);
  auto* source = dynamic_cast<PrometheusTelemetry*>(usable.telemetry.get());
  REQUIRE(source != nullptr);
  CHECK(source->query() == R"(node_power_watts{node="node\"x"})");
}

TEST_CASE("host route end to end: locked RAPL → cpufreq throttle → RAPL back → restore") {
  FakeSysfs tree;
  TempDir state;
  tree.add_rapl_package(0);
  tree.add_cpufreq_policy(0);
  tree.add_cpufreq_policy(1);
  tree.lock(tree.rapl_limit_file(0));

  ManualClock clock;
  ActuatorContext ctx;
  ctx.clock = &clock;
  ctx.sysfs_root = tree.root();
  ctx.state_dir = state.path();
  ctx.dvfs.trip_count = 1;
  ctx.dvfs.cooldown = 0s;
  NodeActuator actuator("node-a", ctx);
  actuator.set_route(RouteConfig{});  // host control, host energy

  uint64_t energy = 1000000;
  auto pass = [&](double watts_drawn) {
    clock.advance(20s);
    energy += static_cast<uint64_t>(watts_drawn * 20 * 1e6);
    tree.write(tree.rapl_energy_file(0), std::to_string(energy));
    return actuator.reconcile(100.0);
  };

  auto first = pass(200);  // energy warming up: DVFS holds at 0
  CHECK(first.backend == Backend::dvfs);
  CHECK(first.message.find("warming up") != std::string::npos);
  CHECK(first.message.find("refusing to write through a symbolic link") != std::string::npos);
  auto second = pass(200);  // 200 W measured → 10 %
  CHECK(second.result == ApplyResult::applied);
  CHECK(actuator.dvfs_controller().throttle_pct() == 10);
  CHECK(tree.read_number(tree.policy_file(0, "scaling_max_freq")) == 2850000);
  CHECK(tree.read_number(tree.policy_file(1, "scaling_max_freq")) == 2850000);
  REQUIRE(actuator.last_sample().has_value());
  CHECK(*actuator.last_sample()->watts == Approx(200));
  REQUIRE(std::filesystem::exists(state.path() / "node-a.json"));

  // The firmware lock goes away (the symlink becomes a plain file again).
  auto limit =
      tree.path("devices/virtual/powercap/intel-rapl/intel-rapl:0/constraint_0_power_limit_uw");
  std::filesystem::remove(limit);
  tree.write("devices/virtual/powercap/intel-rapl/intel-rapl:0/constraint_0_power_limit_uw",
             "200000000\n");
  clock.advance(5min);
  auto back = pass(200);
  CHECK(back.backend == Backend::rapl);
  CHECK(back.result == ApplyResult::applied);
  CHECK(tree.read_number(tree.rapl_limit_file(0)) == 100000000);
  CHECK(tree.read_number(tree.policy_file(0, "scaling_max_freq")) == 3000000);  // p = 0

  auto released = actuator.release();
  CHECK(released.result != ApplyResult::error);
  CHECK(tree.read(tree.rapl_limit_file(0)) == "200000000\n");
  CHECK(tree.read(tree.policy_file(0, "scaling_max_freq")) == "3000000\n");
  CHECK_FALSE(std::filesystem::exists(state.path() / "node-a.json"));
}

TEST_CASE("a corrupt fail-safe record: originals unknown, a restore lifts caps to the maximum") {
  FakeSysfs tree;
  TempDir state;
  tree.add_rapl_package(0);
  tree.write(tree.rapl_limit_file(0), "120000000\n");  // a dead agent's cap, originals lost
  std::ofstream(state.path() / "n.json") << "{broken";
  ManualClock clock;
  ActuatorContext ctx;
  ctx.clock = &clock;
  ctx.sysfs_root = tree.root();
  ctx.state_dir = state.path();
  NodeActuator actuator("n", ctx);
  actuator.set_route(RouteConfig{});
  REQUIRE(actuator.reconcile(100.0).ok());
  CHECK(actuator.originals_unknown());
  CHECK(std::filesystem::exists(state.path() / "n.json.unusable"));
  CHECK(actuator.release().result != ApplyResult::error);
  CHECK(tree.read(tree.rapl_limit_file(0)) == "250000000\n");  // the zone's max, not 120 W
}

TEST_CASE("a corrupt record that cannot be set aside stops all host writes and every restore") {
  FakeSysfs tree;
  TempDir state;
  tree.add_rapl_package(0);
  std::ofstream(state.path() / "n.json") << "{broken";
  std::filesystem::create_directories(state.path() / "n.json.unusable" / "taken");
  ManualClock clock;
  ActuatorContext ctx;
  ctx.clock = &clock;
  ctx.sysfs_root = tree.root();
  ctx.state_dir = state.path();
  NodeActuator actuator("n", ctx);
  actuator.set_route(RouteConfig{});
  auto out = actuator.reconcile(100.0);
  CHECK(out.result == ApplyResult::error);
  CHECK(out.message.find("fail-safe record unusable") != std::string::npos);
  CHECK(tree.read(tree.rapl_limit_file(0)) == "200000000\n");
  auto released = actuator.release();
  CHECK(released.result == ApplyResult::error);
  CHECK_THAT(released.message, Catch::Contains("may be left capped"));
}

TEST_CASE("HTTP route, auto mode: simulator blocks RAPL → throttle over HTTP → RAPL back") {
  joulie::test::StubServer server;
  HttpClientPool pool;
  ManualClock clock;
  ActuatorContext ctx;
  ctx.clock = &clock;
  ctx.pool = &pool;
  ctx.host_allowed = false;  // pool mode: HTTP only
  ctx.dvfs.trip_count = 1;
  ctx.dvfs.cooldown = 0s;
  RouteConfig route;
  route.control = ControlRoute::http;
  route.control_endpoint = server.url("/control/{node}");
  route.source = SourceType::http;
  route.telemetry_endpoint = server.url("/telemetry/{node}");
  NodeActuator actuator("kwok node/1", ctx);
  actuator.set_route(route);

  server.reply_to_rapl(200, R"({"result":"blocked","message":"no rapl here"})");
  server.reply(200, R"({"result":"applied","packagePowerWatts":180})");
  clock.advance(20s);
  auto out = actuator.reconcile(120.0);
  CHECK(out.backend == Backend::dvfs);
  CHECK(out.result == ApplyResult::applied);
  CHECK(out.message ==
        "RAPL unavailable: simulator blocked rapl.set_power_cap_watts: no rapl here; "
        "DVFS throttle 10% holding the 120 W cap");
  CHECK(server.last_path() == "/control/kwok%20node%2F1");
  auto bodies = server.bodies();
  REQUIRE(bodies.size() == 2);
  CHECK(bodies[0].find("\"action\":\"rapl.set_power_cap_watts\"") != std::string::npos);
  CHECK(bodies[1].find("\"throttlePct\":10") != std::string::npos);
  CHECK(bodies[1].find("\"node\":\"kwok node/1\"") != std::string::npos);

  server.reply_to_rapl(0, "");  // the simulator accepts RAPL again
  clock.advance(5min);
  auto back = actuator.reconcile(120.0);
  CHECK(back.backend == Backend::rapl);
  CHECK(back.message == "simulator RAPL cap 120 W applied");
  bodies = server.bodies();
  REQUIRE(bodies.size() == 4);
  CHECK(bodies[3].find("\"action\":\"dvfs.set_throttle_pct\"") != std::string::npos);
  CHECK(bodies[3].find("\"throttlePct\":0") != std::string::npos);
  CHECK(actuator.dvfs_controller().throttle_pct() == 0);
}

// ---- transient RAPL failures (no verdict from the HTTP control endpoint) ----------------------

namespace {

constexpr const char* kUnreachable =
    "RAPL control endpoint unreachable, will be retried: "
    "rapl.set_power_cap_watts failed: cannot connect to http://sim/control/n";

// Steps the clock 1 s at a time for `seconds`, reconciling at `cap`; returns when apply_cap was
// called (seconds since the first step, which is 0) and the outcome of each such pass.
struct Attempts {
  std::vector<long> at;
  std::vector<ControlOutcome> outcomes;
  bool dvfs_before_limit = false;  // DVFS ran (or was written) before the limit was reached
};

Attempts step(Fixture& f, int seconds, std::size_t limit = 3, double cap = 100.0) {
  Attempts a;
  auto start = f.clock.now() + 1s;
  std::size_t throttles = f.dvfs->throttles.size();
  for (int i = 0; i < seconds; ++i) {
    f.clock.advance(1s);
    std::size_t before = f.rapl->caps.size();
    ControlOutcome out = f.actuator.reconcile(cap);
    if (f.rapl->caps.size() != before) {
      a.at.push_back(
          std::chrono::duration_cast<std::chrono::seconds>(f.clock.now() - start).count());
      a.outcomes.push_back(out);
    }
    if (a.at.size() < limit &&
        (out.backend != Backend::rapl || f.dvfs->throttles.size() != throttles ||
         f.actuator.dvfs_active())) {
      a.dvfs_before_limit = true;
    }
  }
  return a;
}

}  // namespace

TEST_CASE("auto mode: one transient RAPL failure keeps the setting and RAPL is retried next pass") {
  Fixture f;
  REQUIRE(f.pass(100).ok());
  f.rapl->cap_unreachable = true;
  auto out = f.pass(100);
  CHECK(out.backend == Backend::rapl);
  CHECK(out.result == ApplyResult::error);
  CHECK(out.message == kUnreachable);
  CHECK_FALSE(out.applied_cap_watts.has_value());
  CHECK(f.dvfs->throttles.empty());  // no fallback on the first blip
  CHECK(f.telemetry->samples == 0);
  CHECK_FALSE(f.actuator.dvfs_active());

  // Within the first backoff (5 s) nothing is retried, and the same error is reported.
  f.clock.advance(4s);
  CHECK(f.actuator.reconcile(100.0) == out);
  CHECK(f.rapl->caps.size() == 2);

  f.rapl->cap_unreachable = false;
  auto back = f.pass(100);  // 20 s later: past the backoff
  CHECK(back.backend == Backend::rapl);
  CHECK(back.result == ApplyResult::applied);
  CHECK(f.rapl->caps.size() == 3);
  CHECK(f.dvfs->throttles.empty());
  CHECK(f.dvfs->restores == 0);
  CHECK_FALSE(f.actuator.dvfs_active());
}

TEST_CASE("repeated transient failures back off up to rapl_retry, then auto falls back to DVFS") {
  Fixture f;
  REQUIRE(f.pass(100).ok());
  f.rapl->cap_unreachable = true;
  auto a = step(f, 1000);
  // 5 s doubling: 5, 10, 20, 40, 80, 160, then capped at rapl_retry (5 min).
  CHECK(a.at == std::vector<long>{0, 5, 15, 35, 75, 155, 315, 615, 915});
  CHECK_FALSE(a.dvfs_before_limit);
  REQUIRE(a.outcomes.size() == 9);
  CHECK(a.outcomes[0].message == kUnreachable);
  CHECK(a.outcomes[1].backend == Backend::rapl);
  CHECK(a.outcomes[1].result == ApplyResult::error);
  // The third failure in a row hands the cap to DVFS, which says why.
  CHECK(a.outcomes[2].backend == Backend::dvfs);
  CHECK(a.outcomes[2].result == ApplyResult::applied);
  CHECK(a.outcomes[2].message ==
        std::string(kUnreachable) + "; DVFS throttle 10% holding the 100 W cap");
  CHECK(f.actuator.dvfs_active());
  CHECK(f.dvfs->throttles.front() == 10);

  // Success: the throttle goes back to 0 and the backoff starts over.
  f.rapl->cap_unreachable = false;
  f.clock.advance(5min);
  auto back = f.pass(100);
  CHECK(back.backend == Backend::rapl);
  CHECK(f.dvfs->throttles.back() == 0);
  CHECK_FALSE(f.actuator.dvfs_active());
  std::size_t writes = f.dvfs->throttles.size();
  f.rapl->cap_unreachable = true;
  auto again = step(f, 20);
  CHECK(again.at == std::vector<long>{0, 5, 15});
  CHECK_FALSE(again.dvfs_before_limit);
  CHECK(again.outcomes.back().backend == Backend::dvfs);  // the count restarted from 0
  REQUIRE(f.dvfs->throttles.size() > writes);
  CHECK(f.dvfs->throttles[writes] == 10);
}

TEST_CASE("a blocked reply is a refusal: DVFS at once, RAPL retried only after rapl_retry") {
  ControlOutcome blocked{Backend::rapl, ApplyResult::blocked,
                         "simulator blocked rapl.set_power_cap_watts: no rapl here", std::nullopt,
                         true};
  Fixture f;
  f.rapl->cap_script.assign(30, blocked);
  auto out = f.pass(100);
  CHECK(out.backend == Backend::dvfs);
  CHECK(out.result == ApplyResult::applied);
  CHECK(out.message ==
        "RAPL unavailable: simulator blocked rapl.set_power_cap_watts: no rapl here; "
        "DVFS throttle 10% holding the 100 W cap");
  CHECK(f.dvfs->throttles == std::vector<int>{10});
  for (int i = 0; i < 14; ++i) {
    f.pass(100);  // 14 × 20 s = 280 s < 5 min
  }
  CHECK(f.rapl->caps.size() == 1);
  f.pass(100);  // 300 s after the refusal
  CHECK(f.rapl->caps.size() == 2);

  // A refusal after transient failures counts as a refusal: DVFS at once, then rapl_retry.
  Fixture g;
  ControlOutcome unreachable{Backend::rapl, ApplyResult::error,
                             "rapl.set_power_cap_watts failed: simulator answered HTTP 503",
                             std::nullopt};
  unreachable.transient = true;
  g.rapl->cap_script = {unreachable, blocked, blocked, blocked};
  auto first = g.pass(100);
  CHECK(first.backend == Backend::rapl);
  CHECK(g.dvfs->throttles.empty());
  auto refused = g.pass(100);
  CHECK(refused.backend == Backend::dvfs);
  CHECK(refused.message.rfind("RAPL unavailable: simulator blocked", 0) == 0);
  for (int i = 0; i < 14; ++i) {
    g.pass(100);
  }
  CHECK(g.rapl->caps.size() == 2);
}

TEST_CASE("mode rapl: transient failures are errors, retried with backoff, never DVFS") {
  RouteConfig rapl_only;
  rapl_only.mode = ControlMode::rapl;
  Fixture f(rapl_only);
  f.rapl->cap_unreachable = true;
  auto a = step(f, 400, 100);
  CHECK(a.at == std::vector<long>{0, 5, 15, 35, 75, 155, 315});
  CHECK_FALSE(a.dvfs_before_limit);  // every pass: rapl backend, no DVFS
  for (const auto& out : a.outcomes) {
    CHECK(out.backend == Backend::rapl);
    CHECK(out.result == ApplyResult::error);
    CHECK(out.message == kUnreachable);
  }
  CHECK(f.telemetry->samples == 0);

  f.rapl->cap_unreachable = false;
  f.clock.advance(5min);
  CHECK(f.actuator.reconcile(100.0).ok());
  f.rapl->cap_unreachable = true;
  auto again = step(f, 6, 100);
  CHECK(again.at == std::vector<long>{0, 5});  // backoff reset by the success
}

TEST_CASE("HTTP route, auto mode: a 503 keeps RAPL and posts no DVFS action; next pass recovers") {
  joulie::test::StubServer server;
  HttpClientPool pool;
  ManualClock clock;
  ActuatorContext ctx;
  ctx.clock = &clock;
  ctx.pool = &pool;
  ctx.host_allowed = false;
  RouteConfig route;
  route.control = ControlRoute::http;
  route.control_endpoint = server.url("/control/{node}");
  route.source = SourceType::http;
  route.telemetry_endpoint = server.url("/telemetry/{node}");
  NodeActuator actuator("n1", ctx);
  actuator.set_route(route);

  clock.advance(20s);
  REQUIRE(actuator.reconcile(120.0).ok());
  server.reply_to_rapl(503, R"({"message":"restarting"})");
  clock.advance(20s);
  auto out = actuator.reconcile(120.0);
  CHECK(out.backend == Backend::rapl);
  CHECK(out.result == ApplyResult::error);
  CHECK(out.message ==
        "RAPL control endpoint unreachable, will be retried: rapl.set_power_cap_watts failed: "
        "simulator answered HTTP 503: restarting");
  server.reply_to_rapl(0, "");
  clock.advance(20s);
  auto back = actuator.reconcile(120.0);
  CHECK(back.backend == Backend::rapl);
  CHECK(back.result == ApplyResult::applied);
  auto bodies = server.bodies();
  REQUIRE(bodies.size() == 3);
  for (const auto& body : bodies) {
    CHECK(body.find("\"action\":\"rapl.set_power_cap_watts\"") != std::string::npos);
  }
}
