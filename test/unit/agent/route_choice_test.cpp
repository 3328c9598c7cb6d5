// Route choice (docs/design.md#choosing-the-route) and what a node step reports for each route.
#include <catch2/catch.hpp>

#include "../kube/fake_api.hpp"
#include "fake_sysfs.hpp"
#include "joulie/agent/node_controller.hpp"
#include "joulie/agent/route_choice.hpp"
#include "joulie/api/codec.hpp"

using joulie::ManualClock;
using joulie::test::FakeSysfs;
using joulie::test::TempDir;
using namespace joulie::agent;
using namespace std::chrono_literals;
namespace api = joulie::api;

namespace {

api::TelemetryProfile profile(const std::string& spec_json) {
  auto doc = joulie::kube::testing::parse_json(R"({"metadata":{"name":"tp","uid":"t"},"spec":)" +
                                               spec_json + "}");
  auto tp = api::decode_telemetry_profile(doc);
  REQUIRE(tp.ok());
  return *tp;
}

NodeInputs inputs_with_cap(std::optional<double> cap) {
  NodeInputs inputs;
  api::NodePowerProfile npp;
  npp.metadata.name = "node-n1";
  npp.metadata.uid = "u1";
  npp.metadata.generation = 1;
  npp.spec.node_name = "n1";
  npp.spec.profile = api::Profile::eco;
  npp.spec.package_power_cap_watts = cap;
  inputs.profile = npp;
  return inputs;
}

struct Bench {
  FakeSysfs sysfs;
  TempDir state;
  ManualClock clock;
  NodeControllerContext context;
  Bench() {
    context.actuator.sysfs_root = sysfs.root();
    context.actuator.state_dir = state.path();
    context.actuator.clock = &clock;
    context.interval = 20s;
  }
};

}  // namespace

TEST_CASE("no TelemetryProfile: host control and host power source") {
  RouteConfig route = route_from_profile(nullptr);
  CHECK(route.control == ControlRoute::host);
  CHECK(route.source == SourceType::host);
  CHECK(route.mode == ControlMode::automatic);
}

TEST_CASE("a TelemetryProfile chooses the control route, mode, endpoints and timeouts") {
  auto tp = profile(R"({"target":{"scope":"cluster"},
      "sources":{"cpu":{"type":"http","http":{"endpoint":"http://sim/telemetry/{node}","timeoutSeconds":7}}},
      "controls":{"cpu":{"type":"http","http":{"endpoint":"http://sim/control/{node}","mode":"dvfs"}}}})");
  RouteConfig route = route_from_profile(&tp);
  CHECK(route.control == ControlRoute::http);
  CHECK(route.mode == ControlMode::dvfs);
  CHECK(route.control_endpoint == "http://sim/control/{node}");
  CHECK(route.control_timeout == 2s);
  CHECK(route.source == SourceType::http);
  CHECK(route.telemetry_endpoint == "http://sim/telemetry/{node}");
  CHECK(route.telemetry_timeout == 7s);

  CHECK(route_from_profile(&tp) == route);  // pure
  auto none = profile(R"({"target":{"scope":"cluster"},"controls":{"cpu":{"type":"none"}},
                          "sources":{"cpu":{"type":"prometheus","prometheus":{"endpoint":"http://p","query":"q"}}}})");
  CHECK(route_from_profile(&none).control == ControlRoute::none);
  CHECK(route_from_profile(&none).source == SourceType::prometheus);
}

TEST_CASE("controls.cpu none: nothing applied, result none, message says why") {
  Bench b;
  b.sysfs.add_rapl_package(0);
  auto before = b.sysfs.read(b.sysfs.rapl_limit_file(0));
  NodeController node("n1", b.context);
  NodeInputs inputs = inputs_with_cap(180);
  inputs.telemetry =
      profile(R"({"target":{"scope":"node","nodeName":"n1"},"controls":{"cpu":{"type":"none"}}})");
  auto step = node.step(inputs, true, b.clock.monotonic());
  REQUIRE(step.outcome);
  CHECK(step.outcome->result == ApplyResult::none);
  CHECK(step.outcome->backend == Backend::none);
  CHECK_THAT(step.outcome->message, Catch::Contains("disabled by the TelemetryProfile"));
  CHECK(b.sysfs.read(b.sysfs.rapl_limit_file(0)) == before);
}

TEST_CASE("host route: the RAPL cap is written and reported as (rapl, applied)") {
  Bench b;
  b.sysfs.add_rapl_package(0);
  b.sysfs.add_rapl_package(1);
  NodeController node("n1", b.context);
  auto step = node.step(inputs_with_cap(180), true, b.clock.monotonic());
  REQUIRE(step.outcome);
  CHECK(step.outcome->backend == Backend::rapl);
  CHECK(step.outcome->result == ApplyResult::applied);
  CHECK(b.sysfs.read_number(b.sysfs.rapl_limit_file(0)) == 180000000);
  CHECK(b.sysfs.read_number(b.sysfs.rapl_limit_file(1)) == 180000000);
  CHECK(node.holds_settings());

  // Not due yet: only sampling, no re-application; due after the interval.
  b.clock.advance(1s);
  CHECK(node.step(inputs_with_cap(180), false, b.clock.monotonic()).kind != StepKind::applied);
  b.clock.advance(20s);
  CHECK(node.step(inputs_with_cap(180), false, b.clock.monotonic()).kind == StepKind::applied);

  // The NodePowerProfile goes away: the original limits come back.
  auto released = node.step(NodeInputs{}, true, b.clock.monotonic());
  CHECK(released.kind == StepKind::released);
  CHECK(b.sysfs.read_number(b.sysfs.rapl_limit_file(0)) == 200000000);
  CHECK_FALSE(node.holds_settings());
}

TEST_CASE("no NodePowerProfile at start: the host is left alone") {
  Bench b;
  b.sysfs.add_rapl_package(0);
  NodeController node("n1", b.context);
  auto step = node.step(NodeInputs{}, true, b.clock.monotonic());
  CHECK(step.kind == StepKind::idle);
  CHECK_FALSE(std::filesystem::exists(b.state.path() / "n1.json"));
}

TEST_CASE("prometheus sources: endpoint and query reach the route, {node} kept for expansion") {
  auto tp = profile(R"({"target":{"scope":"cluster"},
      "sources":{"cpu":{"type":"prometheus","prometheus":{"endpoint":"http://p:9090",
                        "query":"node_power{node=\"{node}\"}"}},
                 "thermal":{"type":"prometheus","prometheus":{"endpoint":"http://t:9090",
                        "query":"temp{node=\"{node}\"}"}}}})");
  RouteConfig route = route_from_profile(&tp);
  CHECK(route.source == SourceType::prometheus);
  CHECK(route.telemetry_endpoint == "http://p:9090");
  CHECK(route.telemetry_query == R"(node_power{node="{node}"})");
  CHECK(route.thermal == SourceType::prometheus);
  CHECK(route.thermal_endpoint == "http://t:9090");
  CHECK(route.thermal_query == R"(temp{node="{node}"})");
  CHECK_THAT(describe_route(route), Catch::Contains("source=prometheus"));
}

TEST_CASE("prometheus power source with RAPL locked and no client pool: blocked, says why") {
  Bench b;  // no RAPL zones: DVFS is the only backend, and it needs a power input
  FakeSysfs::PolicyOptions policy;
  b.sysfs.add_cpufreq_policy(0, policy);
  NodeController node("n1", b.context);
  NodeInputs inputs = inputs_with_cap(150);
  inputs.telemetry = profile(R"({"target":{"scope":"cluster"},
      "sources":{"cpu":{"type":"prometheus","prometheus":{"endpoint":"http://p","query":"q"}}}})");
  auto step = node.step(inputs, true, b.clock.monotonic());
  REQUIRE(step.outcome);
  CHECK(step.outcome->result == ApplyResult::blocked);
  CHECK_THAT(step.outcome->message, Catch::Contains("DVFS has no power input"));
}

TEST_CASE("pool mode never uses host control: a node without an HTTP route is blocked") {
  Bench b;
  b.sysfs.add_rapl_package(0);
  b.context.actuator.host_allowed = false;
  auto before = b.sysfs.read(b.sysfs.rapl_limit_file(0));
  NodeController node("n1", b.context);
  auto step = node.step(inputs_with_cap(150), true, b.clock.monotonic());
  REQUIRE(step.outcome);
  CHECK(step.outcome->result == ApplyResult::blocked);
  CHECK(step.outcome->backend == Backend::none);
  CHECK(b.sysfs.read(b.sysfs.rapl_limit_file(0)) == before);
}

TEST_CASE("simulate-only touches nothing and reports (none, applied, simulate-only)") {
  Bench b;
  b.sysfs.add_rapl_package(0);
  b.context.simulate_only = true;
  auto before = b.sysfs.read(b.sysfs.rapl_limit_file(0));
  NodeController node("n1", b.context);
  auto step = node.step(inputs_with_cap(120), true, b.clock.monotonic());
  REQUIRE(step.outcome);
  CHECK(step.outcome->backend == Backend::none);
  CHECK(step.outcome->result == ApplyResult::applied);
  CHECK(step.outcome->message == "simulate-only");
  CHECK(b.sysfs.read(b.sysfs.rapl_limit_file(0)) == before);
  CHECK_FALSE(std::filesystem::exists(b.state.path() / "n1.json"));
  CHECK_FALSE(node.release().has_value());
}

TEST_CASE("an invalid NodePowerProfile is reported as an error and holds the settings") {
  Bench b;
  b.sysfs.add_rapl_package(0);
  NodeController node("n1", b.context);
  REQUIRE(node.step(inputs_with_cap(180), true, b.clock.monotonic()).outcome->ok());
  NodeInputs bad = inputs_with_cap(std::nullopt);
  bad.profile_invalid = "spec.cpu.packagePowerCapWatts: must be at least 1 (got -5)";
  auto step = node.step(bad, true, b.clock.monotonic());
  REQUIRE(step.outcome);
  CHECK(step.outcome->result == ApplyResult::error);
  CHECK_THAT(step.outcome->message, Catch::Contains("invalid NodePowerProfile"));
  CHECK(b.sysfs.read_number(b.sysfs.rapl_limit_file(0)) == 180000000);
}
