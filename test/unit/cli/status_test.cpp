#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "cli/status.hpp"
#include "joulie/common/duration.hpp"

using namespace joulie::cli;

namespace {

rapidjson::Document parse(const char* text) {
  rapidjson::Document d;
  d.Parse(text);
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

const char* kNodes = R"({"items":[
  {"metadata":{"name":"a","labels":{"joulie.io/power-profile":"performance"}}},
  {"metadata":{"name":"b","labels":{"joulie.io/power-profile":"draining-performance"},
    "annotations":{"joulie.io/draining-since":"2026-12-01T10:00:00Z","joulie.io/pin":"eco"}}},
  {"metadata":{"name":"c","labels":{"joulie.io/power-profile":"eco"}}},
  {"metadata":{"name":"unmanaged"}}, 42]})";

const char* kNpps = R"({"items":[
  {"metadata":{"name":"node-a","generation":2,"labels":{"joulie.io/managed-by":"operator"}},
   "spec":{"nodeName":"a","profile":"performance","cpu":{"packagePowerCapWatts":400}},
   "status":{"observedGeneration":2,"backend":"rapl","result":"applied","appliedCapWatts":400,
     "conditions":[{"type":"Applied","status":"True","lastTransitionTime":"2026-12-01T11:00:00Z"}]}},
  {"metadata":{"name":"node-b","generation":3,"labels":{"joulie.io/managed-by":"operator"}},
   "spec":{"nodeName":"b","profile":"performance","cpu":{"packagePowerCapWatts":400}},
   "status":{"observedGeneration":2,"backend":"dvfs","result":"applied"}},
  {"metadata":{"name":"node-c","generation":1,"labels":{"joulie.io/managed-by":"operator"}},
   "spec":{"nodeName":"c","profile":"eco","cpu":{"packagePowerCapWatts":"lots"}}},
  {"metadata":{"name":"hand-made"},"spec":{"nodeName":"unmanaged","profile":"eco"}}]})";

const char* kPods = R"({"items":[
  {"metadata":{"name":"p1"},"spec":{"nodeName":"b","nodeSelector":{"joulie.io/power-profile":"performance"}},
   "status":{"phase":"Running"}},
  {"metadata":{"name":"p2"},"spec":{"nodeSelector":{"joulie.io/power-profile":"performance"}},
   "status":{"phase":"Pending"}},
  {"metadata":{"name":"done"},"spec":{"nodeName":"a","nodeSelector":{"joulie.io/power-profile":"performance"}},
   "status":{"phase":"Succeeded"}},
  {"metadata":{"name":"general"},"spec":{"nodeName":"a"},"status":{"phase":"Running"}}]})";

}  // namespace

TEST_CASE("status rows come from the operator's NodePowerProfiles and the nodes") {
  auto nodes = parse(kNodes);
  auto npps = parse(kNpps);
  auto pods = parse(kPods);
  StatusInputs in;
  in.nodes = &nodes;
  in.npps = &npps;
  in.pods = &pods;
  StatusView v = build_status(in);
  REQUIRE(v.nodes.size() == 3);  // the hand-made profile is not the operator's
  CHECK(v.nodes[0].name == "a");
  CHECK(v.nodes[0].state == "ActivePerformance");
  CHECK(v.nodes[0].applied_cap == 400);
  CHECK(v.nodes[0].result == "applied");
  CHECK(v.nodes[0].since.has_value());
  CHECK(v.nodes[1].state == "DrainingPerformance");
  CHECK(v.nodes[1].pin == "eco");
  CHECK(v.nodes[1].result == "pending");  // observedGeneration 2 < generation 3
  CHECK(v.nodes[1].perf_pods == 1);
  CHECK(*v.nodes[1].since == *joulie::parse_rfc3339("2026-12-01T10:00:00Z"));
  CHECK(v.nodes[2].result == "not reported");
  CHECK_FALSE(v.nodes[2].cap.has_value());  // a mistyped cap reads as absent
  CHECK(v.not_reported == std::vector<std::string>{"c"});
  CHECK(v.supply == 1);
  CHECK(v.demand == 2);
  CHECK(v.pending == 1);
  CHECK_FALSE(v.published);
  CHECK_FALSE(v.paused);
}

TEST_CASE("status reads the pause switch and the operator's published state") {
  auto nodes = parse(kNodes);
  auto npps = parse(kNpps);
  auto control = parse(R"({"data":{"paused":"true","pausedBy":"alice","reason":"incident"}})");
  auto lease = parse(R"({"spec":{"holderIdentity":"op-1","renewTime":"2026-12-01T12:00:00.000000Z"},
    "metadata":{"annotations":{"joulie.io/status":
    "{\"lastPass\":\"2026-12-01T11:59:58Z\",\"passSeconds\":0.01,\"policy\":\"queue_aware_v1\",\"window\":\"night\",\"paused\":true,\"controlWatched\":true,\"performance\":3,\"signals\":[{\"name\":\"pue\",\"health\":\"error\",\"source\":\"prom\"}]}"}}})");
  StatusInputs in;
  in.nodes = &nodes;
  in.npps = &npps;
  in.control = &control;
  in.lease = &lease;
  StatusView v = build_status(in);
  CHECK(v.paused);
  CHECK(v.paused_by == "alice");
  CHECK(v.published);
  CHECK(v.operator_paused);
  CHECK(v.leader == "op-1");
  CHECK(v.policy == "queue_aware_v1");
  CHECK(v.window == "night");
  CHECK(v.planned_performance == 3);
  REQUIRE(v.signals.size() == 1);
  CHECK(v.signals[0].health == "error");

  const auto now = *joulie::parse_rfc3339("2026-12-01T12:00:05Z");
  std::string text = render_status(v, Output::table, now);
  CHECK(text.find("PAUSED by alice: incident") != std::string::npos);
  CHECK(text.find("the operator has acted on it") != std::string::npos);
  CHECK(text.find("Policy:   queue_aware_v1 (window night)") != std::string::npos);
  CHECK(text.find("Leader:   op-1 (lease renewed 5s ago), last pass 7s ago") != std::string::npos);
  CHECK(text.find("Signals:  pue=error") != std::string::npos);
}

TEST_CASE("a malformed published state is ignored, not a crash") {
  auto lease = parse(R"({"metadata":{"annotations":{"joulie.io/status":"{not json"}}})");
  StatusInputs in;
  in.lease = &lease;
  StatusView v = build_status(in);
  CHECK_FALSE(v.published);
  CHECK(v.nodes.empty());
}

TEST_CASE("time in state is the operator's memory; a node before its profile is listed") {
  // a: the operator's record says performance since 09:00 (it wins over the agent's condition);
  // d: a first downgrade's eco label and record, no NodePowerProfile yet; e: a record for
  // another state than the label shows is not this state's start.
  auto nodes = parse(R"({"items":[
    {"metadata":{"name":"a","labels":{"joulie.io/power-profile":"performance"},
      "annotations":{"joulie.io/state-since":"performance 2026-12-01T09:00:00.000Z"}}},
    {"metadata":{"name":"d","labels":{"joulie.io/power-profile":"eco"},
      "annotations":{"joulie.io/state-since":"eco 2026-12-01T12:00:00.000Z"}}},
    {"metadata":{"name":"e","labels":{"joulie.io/power-profile":"eco"},
      "annotations":{"joulie.io/state-since":"performance 2026-12-01T12:00:00.000Z"}}}]})");
  auto npps = parse(kNpps);
  StatusInputs in;
  in.nodes = &nodes;
  in.npps = &npps;
  StatusView v = build_status(in);
  std::map<std::string, NodeRow> rows;
  for (const auto& n : v.nodes) rows[n.name] = n;
  CHECK(*rows["a"].since == *joulie::parse_rfc3339("2026-12-01T09:00:00Z"));
  REQUIRE(rows.count("d") == 1);
  CHECK(rows["d"].state == "ActiveEco");
  CHECK(rows["d"].profile == "-");
  CHECK(rows["d"].result == "no profile yet");
  CHECK(*rows["d"].since == *joulie::parse_rfc3339("2026-12-01T12:00:00Z"));
  CHECK_FALSE(rows["e"].since.has_value());
  // No agent can report before the profile exists: not counted as an agent that has not.
  CHECK(std::find(v.not_reported.begin(), v.not_reported.end(), "d") == v.not_reported.end());
}

TEST_CASE("measured power fills the POWER column where Prometheus knows it") {
  auto nodes = parse(kNodes);
  auto npps = parse(kNpps);
  StatusInputs in;
  in.nodes = &nodes;
  in.npps = &npps;
  StatusView v = build_status(in);
  set_measured_power(v, {{"a", 312.5}, {"b", std::nan("")}, {"elsewhere", 99}});
  CHECK(v.nodes[0].power == 312.5);
  CHECK_FALSE(v.nodes[1].power.has_value());  // NaN is not a measurement
  CHECK_FALSE(v.nodes[2].power.has_value());
  const auto now = *joulie::parse_rfc3339("2026-12-01T12:00:00Z");
  const std::string table = render_status(v, Output::table, now);
  CHECK(table.find("POWER") != std::string::npos);
  CHECK(table.find("312.5W") != std::string::npos);
  const std::string json = render_status(v, Output::json, now);
  CHECK(json.find("\"measuredPowerWatts\": 312.5") != std::string::npos);
  v.power_source = "http://prom:9090";
  v.power_error = "connection refused";
  CHECK(render_status(v, Output::table, now)
            .find("Power:    unknown (http://prom:9090: connection refused)") != std::string::npos);
}
