#include "joulie/operator/pass_report.hpp"

#include <catch2/catch.hpp>

#include "fixture.hpp"
#include "joulie/common/duration.hpp"

using joulie::operator_mode::format_pass_json;
using joulie::operator_mode::format_pass_text;
using joulie::operator_mode::testing::Fixture;

TEST_CASE("pass report: --output json is exactly the documented object") {
  Fixture f;
  f.add_node("n1");
  f.add_node("n2");
  f.perf_pods["n2"] = 0;
  auto r = f.pass();
  // The object of docs/design.md#one-shot-output, plus the explain of #context-aware-policy:
  // per-node reasons and top-level context.
  CHECK(format_pass_json(r) ==
        R"({"policy":"static_partition","dryRun":false,"managed":2,"performance":1,"nodes":[)"
        R"({"node":"n1","state":"ActivePerformance","profile":"performance","label":"performance",)"
        R"("capWatts":5000,"perfPods":0,"changed":true,"result":"applied","reasons":[]},)"
        R"({"node":"n2","state":"ActiveEco","profile":"eco","label":"eco","capWatts":120,)"
        R"("perfPods":0,"changed":true,"result":"applied","reasons":[]}],)"
        R"("context":{"timeZone":"UTC","localTime":")" +
            r.context.local_time +
            R"(","abbreviation":"UTC","window":null,"reasons":[],"signals":{}}})");
  CHECK(r.context.local_time.ends_with("+00:00"));
  r = f.pass();
  CHECK(format_pass_json(r).find(R"("changed":false,"result":"unchanged")") != std::string::npos);
}

TEST_CASE("pass report: unknown pod data is null; fractional caps keep their fraction") {
  Fixture f;
  f.add_node("n1");
  f.pods_known = false;
  f.options.policy.performance_cap_watts = 250.5;
  f.restart();
  auto r = f.pass();
  auto json = format_pass_json(r);
  CHECK(json.find(R"("capWatts":250.5,"perfPods":null)") != std::string::npos);
  auto text = format_pass_text(r);
  CHECK(text.find("policy=static_partition dryRun=false managed=1 performance=1") == 0);
  CHECK(text.find("n1") != std::string::npos);
}

TEST_CASE("pass report: a dry run reports the writes it did not make as planned") {
  Fixture f;
  f.add_node("n1");
  f.options.dry_run = true;
  f.restart();
  auto r = f.pass();
  REQUIRE(f.writes.empty());
  const auto json = format_pass_json(r);
  CHECK(json.find(R"("changed":true,"result":"planned")") != std::string::npos);
  CHECK(json.find("applied") == std::string::npos);
  const auto text = format_pass_text(r);
  CHECK(text.find("planned") != std::string::npos);
  CHECK(text.find("applied") == std::string::npos);
}

TEST_CASE("pass report: what holds a node, and until when, only when something does") {
  joulie::operator_mode::PassResult r;
  joulie::operator_mode::NodeOutcome held;
  held.node = "n1";
  held.held_until = *joulie::parse_rfc3339("2026-12-06T10:11:00.0004Z");
  joulie::operator_mode::NodeOutcome waiting;
  waiting.node = "n2";
  waiting.waiting = "eco cap: waiting for the eco label to settle";
  waiting.wait_until = *joulie::parse_rfc3339("2026-12-06T10:12:00.25Z");
  r.nodes = {held, waiting, joulie::operator_mode::NodeOutcome{}};
  const std::string json = format_pass_json(r);
  // Rounded up to the millisecond: a reader never sees a hold end earlier than it does.
  CHECK(json.find(R"("heldUntil":"2026-12-06T10:11:00.001Z")") != std::string::npos);
  CHECK(
      json.find(
          R"("waiting":"eco cap: waiting for the eco label to settle","waitUntil":"2026-12-06T10:12:00.250Z")") !=
      std::string::npos);
  CHECK(json.find("heldUntil") == json.rfind("heldUntil"));  // n2 and the third: none
  CHECK(json.find("waitUntil") == json.rfind("waitUntil"));
  const std::string text = format_pass_text(r);
  CHECK(text.find("    held: minDwell until 2026-12-06T10:11:00Z\n") != std::string::npos);
  CHECK(text.find("    waits: eco cap: waiting for the eco label to settle until "
                  "2026-12-06T10:12:00Z\n") != std::string::npos);
}
