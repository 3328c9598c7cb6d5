// Status reporting (docs/design.md#agent-reporting-and-metrics): what is written, and that it is
// written only on change.
#include <catch2/catch.hpp>

#include "../kube/fake_api.hpp"
#include "joulie/agent/reporting.hpp"
#include "joulie/api/codec.hpp"
#include "joulie/common/metrics.hpp"

using joulie::ManualClock;
using joulie::kube::resources::node_power_profiles;
using joulie::kube::resources::telemetry_profiles;
using joulie::kube::testing::FakeApi;
using joulie::kube::testing::parse_json;
using joulie::kube::testing::Verb;
using joulie::kube::testing::wait_until;
using namespace joulie::agent;
using namespace std::chrono_literals;
namespace api = joulie::api;

namespace {

Report rapl_report(double cap, std::int64_t generation = 1) {
  return {api::Backend::rapl, api::ApplyResult::applied, "RAPL package cap 180 W applied", cap,
          generation};
}

api::NodePowerProfileStatus server_status(FakeApi& fake, const std::string& name) {
  auto doc = fake.object(node_power_profiles, name);
  REQUIRE(doc);
  auto npp = api::decode_node_power_profile(*doc);
  REQUIRE(npp.ok());
  return npp->status;
}

void put_npp(FakeApi& fake, const std::string& name) {
  fake.put(node_power_profiles,
           R"({"apiVersion":"joulie.io/v1alpha1","kind":"NodePowerProfile","metadata":{"name":")" +
               name + R"(","uid":"u1","generation":1},"spec":{"nodeName":"n1","profile":"eco"}})");
}

}  // namespace

TEST_CASE("status_for fills every field and the Applied condition") {
  ManualClock clock;
  auto status = status_for(rapl_report(180), {}, clock.now());
  CHECK(status.backend == api::Backend::rapl);
  CHECK(status.result == api::ApplyResult::applied);
  CHECK(status.applied_cap_watts == 180);
  CHECK(status.observed_generation == 1);
  CHECK(status.updated_at == clock.now());
  REQUIRE(status.conditions.size() == 1);
  CHECK(status.conditions[0].type == "Applied");
  CHECK(status.conditions[0].status == "True");
  CHECK(status.conditions[0].reason == "Applied");
  CHECK(status.conditions[0].last_transition_time == clock.now());
}

TEST_CASE("lastTransitionTime changes only when the condition status flips") {
  ManualClock clock;
  auto first = status_for(rapl_report(180), {}, clock.now());
  auto t0 = clock.now();
  clock.advance(1min);
  // Same condition status (True), other message: the transition time stays.
  Report other = rapl_report(150);
  other.message = "RAPL package cap 150 W applied";
  auto second = status_for(other, first, clock.now());
  CHECK(second.conditions[0].last_transition_time == t0);
  CHECK(second.updated_at == clock.now());
  clock.advance(1min);
  Report blocked{api::Backend::none, api::ApplyResult::blocked, "nothing usable", std::nullopt, 1};
  auto third = status_for(blocked, second, clock.now());
  CHECK(third.conditions[0].status == "False");
  CHECK(third.conditions[0].reason == "Blocked");
  CHECK(third.conditions[0].last_transition_time == clock.now());
}

TEST_CASE("same_report looks only at backend, result, message, cap and generation") {
  ManualClock clock;
  auto status = status_for(rapl_report(180), {}, clock.now());
  CHECK(same_report(status, rapl_report(180)));
  CHECK_FALSE(same_report(status, rapl_report(150)));
  CHECK_FALSE(same_report(status, rapl_report(180, 2)));
  Report msg = rapl_report(180);
  msg.message += " (clamped)";
  CHECK_FALSE(same_report(status, msg));
  Report backend = rapl_report(180);
  backend.backend = api::Backend::dvfs;
  CHECK_FALSE(same_report(status, backend));
  // Time passing is not a change.
  clock.advance(1h);
  CHECK(same_report(status, rapl_report(180)));
  // The package maximum is reported, and a newly known one is a change worth writing.
  Report with_max = rapl_report(180);
  with_max.package_max_watts = 420;
  CHECK_FALSE(same_report(status, with_max));
  CHECK(status_for(with_max, {}, clock.now()).package_max_power_watts == 420.0);
}

TEST_CASE("every outcome maps to values inside the CRD enums") {
  for (auto result :
       {ApplyResult::none, ApplyResult::applied, ApplyResult::blocked, ApplyResult::error}) {
    for (auto backend : {Backend::none, Backend::rapl, Backend::dvfs}) {
      ControlOutcome outcome{backend, result, "m", std::nullopt};
      Report report = report_from_outcome(outcome, 3);
      auto status = status_for(report, {}, ManualClock().now());
      auto json = api::encode_status_patch(status);
      auto doc = parse_json(json);
      std::string b = doc["status"]["backend"].GetString();
      std::string r = doc["status"]["result"].GetString();
      CHECK((b == "none" || b == "rapl" || b == "dvfs"));
      CHECK((r == "none" || r == "applied" || r == "blocked" || r == "error"));
      CHECK(doc["status"]["observedGeneration"].GetInt64() == 3);
    }
  }
}

TEST_CASE("StatusWriter writes a NodePowerProfile status once per change") {
  FakeApi fake;
  put_npp(fake, "node-n1");
  StatusWriter writer(fake, {});
  writer.start();

  CHECK(writer.report_node_power_profile("node-n1", "u1", {}, rapl_report(180)));
  REQUIRE(writer.flush(5s));
  REQUIRE(fake.patches().size() == 1);
  auto written = server_status(fake, "node-n1");
  CHECK(written.backend == api::Backend::rapl);
  CHECK(written.applied_cap_watts == 180);

  // The same report again, from the writer's memory or from the server's copy: no write.
  CHECK_FALSE(writer.report_node_power_profile("node-n1", "u1", written, rapl_report(180)));
  CHECK_FALSE(writer.report_node_power_profile("node-n1", "u1", {}, rapl_report(180)));
  REQUIRE(writer.flush(5s));
  CHECK(fake.patches().size() == 1);

  // A new generation is a change.
  CHECK(writer.report_node_power_profile("node-n1", "u1", written, rapl_report(180, 2)));
  REQUIRE(writer.flush(5s));
  CHECK(fake.patches().size() == 2);
  CHECK(server_status(fake, "node-n1").observed_generation == 2);
  CHECK(fake.patches()[1].body.find("\"conditions\"") != std::string::npos);
}

TEST_CASE("StatusWriter takes an existing matching status as written (restart: no write)") {
  FakeApi fake;
  put_npp(fake, "node-n1");
  ManualClock clock;
  auto existing = status_for(rapl_report(180), {}, clock.now());
  StatusWriter writer(fake, {});
  writer.start();
  CHECK_FALSE(writer.report_node_power_profile("node-n1", "u1", existing, rapl_report(180)));
  REQUIRE(writer.flush(5s));
  CHECK(fake.patches().empty());
  // A recreated object (new uid) is compared with its own status, not with the old memory.
  CHECK(writer.report_node_power_profile("node-n1", "u2", {}, rapl_report(180)));
  REQUIRE(writer.flush(5s));
  CHECK(fake.patches().size() == 1);
}

TEST_CASE("StatusWriter retries failed writes and keeps only the newest status") {
  FakeApi fake;
  put_npp(fake, "node-n1");
  StatusWriter::Options options;
  options.retry_initial = 10ms;
  options.retry_max = 20ms;
  joulie::metrics::Registry registry;
  options.metrics = &registry;
  StatusWriter writer(fake, options);
  fake.fail_next(Verb::patch, joulie::Error(joulie::Errc::server_error, "boom", 500), 2);
  writer.start();
  writer.report_node_power_profile("node-n1", "u1", {}, rapl_report(180));
  REQUIRE(writer.flush(5s));
  CHECK(writer.failures() == 2);
  CHECK(writer.writes() == 1);
  CHECK(server_status(fake, "node-n1").applied_cap_watts == 180);
  CHECK(registry.expose().find(
            "joulie_agent_status_writes_total{kind=\"nodepowerprofile\",result=\"error\"} 2") !=
        std::string::npos);
}

TEST_CASE("StatusWriter drops the write when the object is gone") {
  FakeApi fake;
  StatusWriter writer(fake, {});
  writer.start();
  writer.report_node_power_profile("node-gone", "u1", {}, rapl_report(180));
  REQUIRE(writer.flush(5s));
  CHECK(writer.pending() == 0);
  CHECK(writer.failures() == 0);
}

TEST_CASE("StatusWriter writes a TelemetryProfile's status.control.cpu only on change") {
  FakeApi fake;
  fake.put(
      telemetry_profiles,
      R"({"metadata":{"name":"tp-n1","uid":"t1"},"spec":{"target":{"scope":"node","nodeName":"n1"}}})");
  StatusWriter writer(fake, {});
  writer.start();
  ManualClock clock;
  auto wanted =
      control_status_for(rapl_report(180), "nodepowerprofile/node-n1 generation 1", clock.now());
  CHECK(writer.report_telemetry_profile("tp-n1", "t1", std::nullopt, wanted));
  REQUIRE(writer.flush(5s));
  clock.advance(1min);
  auto later =
      control_status_for(rapl_report(180), "nodepowerprofile/node-n1 generation 1", clock.now());
  CHECK_FALSE(writer.report_telemetry_profile("tp-n1", "t1", wanted, later));
  REQUIRE(writer.flush(5s));
  REQUIRE(fake.patches().size() == 1);
  auto doc = fake.object(telemetry_profiles, "tp-n1");
  REQUIRE(doc);
  CHECK(std::string((*doc)["status"]["control"]["cpu"]["backend"].GetString()) == "rapl");
  CHECK(std::string((*doc)["status"]["control"]["cpu"]["result"].GetString()) == "applied");
}
