#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include <cmath>
#include <limits>
#include <string>

#include "joulie/api/codec.hpp"
#include "joulie/api/names.hpp"
#include "joulie/common/duration.hpp"

using namespace joulie::api;
using joulie::Errc;

namespace {

rapidjson::Document json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

const char* kFullNpp = R"({
  "apiVersion": "joulie.io/v1alpha1", "kind": "NodePowerProfile",
  "metadata": {"name": "node-worker-01", "uid": "u-1", "resourceVersion": "42", "generation": 3,
               "creationTimestamp": "2026-11-29T10:00:00Z",
               "labels": {"joulie.io/managed-by": "operator"}, "futureField": {"x": 1}},
  "spec": {"nodeName": "worker-01", "profile": "eco", "cpu": {"packagePowerCapWatts": 120},
           "policy": {"name": "static-partition-v1"}, "gpu": {"whatever": true}},
  "status": {"observedGeneration": 3, "backend": "rapl", "result": "applied", "message": "ok",
             "appliedCapWatts": 120.5, "updatedAt": "2026-11-29T10:00:05Z",
             "conditions": [{"type": "Applied", "status": "True", "reason": "Applied",
                             "message": "cap set", "lastTransitionTime": "2026-11-29T10:00:05Z",
                             "observedGeneration": 3}]}
})";

}  // namespace

TEST_CASE("a complete NodePowerProfile decodes, unknown fields ignored") {
  auto doc = json(kFullNpp);
  auto r = decode_node_power_profile(doc);
  REQUIRE(r.ok());
  const auto& p = *r;
  CHECK(p.metadata.name == "node-worker-01");
  CHECK(p.metadata.uid == "u-1");
  CHECK(p.metadata.resource_version == "42");
  CHECK(p.metadata.generation == 3);
  CHECK(p.metadata.creation_timestamp == joulie::parse_rfc3339("2026-11-29T10:00:00Z").value());
  CHECK(p.metadata.managed_by_operator());
  CHECK(p.spec.node_name == "worker-01");
  CHECK(p.spec.profile == Profile::eco);
  CHECK(p.spec.package_power_cap_watts == 120.0);
  CHECK(p.spec.policy_name == "static-partition-v1");
  CHECK(p.status.observed_generation == 3);
  CHECK(p.status.backend == Backend::rapl);
  CHECK(p.status.result == ApplyResult::applied);
  CHECK(p.status.message == "ok");
  CHECK(p.status.applied_cap_watts == 120.5);
  REQUIRE(p.status.applied_condition() != nullptr);
  CHECK(p.status.applied_condition()->status == "True");
  CHECK(p.status.applied_condition()->observed_generation == 3);
}

TEST_CASE("a minimal NodePowerProfile decodes with defaults") {
  auto doc = json(R"({"metadata":{"name":"n"},"spec":{"nodeName":"n1","profile":"performance"}})");
  auto r = decode_node_power_profile(doc);
  REQUIRE(r.ok());
  CHECK(r->spec.profile == Profile::performance);
  CHECK_FALSE(r->spec.package_power_cap_watts.has_value());
  CHECK_FALSE(r->spec.policy_name.has_value());
  CHECK_FALSE(r->metadata.creation_timestamp.has_value());
  CHECK_FALSE(r->metadata.managed_by_operator());
  CHECK(r->status.result == ApplyResult::none);
  CHECK(r->status.backend == Backend::none);
  CHECK(r->status.applied_condition() == nullptr);
}

TEST_CASE("managed-by must be exactly operator") {
  auto doc = json(
      R"({"metadata":{"name":"n","labels":{"joulie.io/managed-by":"someone"}},
          "spec":{"nodeName":"n1","profile":"eco"}})");
  auto r = decode_node_power_profile(doc);
  REQUIRE(r.ok());
  CHECK_FALSE(r->metadata.managed_by_operator());
}

TEST_CASE("bad NodePowerProfiles are rejected with the field named") {
  struct Case {
    const char* json;
    Errc code;
    const char* needle;
  };
  const Case cases[] = {
      {R"([])", Errc::parse, "not a JSON object"},
      {R"({"spec":{"nodeName":"n1","profile":"eco"}})", Errc::invalid,
       "metadata.name: is required"},
      {R"({"metadata":{"name":7},"spec":{}})", Errc::parse, "metadata.name: must be a string"},
      {R"({"metadata":{"name":"x"}})", Errc::invalid, "NodePowerProfile \"x\": spec: is required"},
      {R"({"metadata":{"name":"x"},"spec":"eco"})", Errc::parse, "spec: must be an object"},
      {R"({"metadata":{"name":"x"},"spec":{"profile":"eco"}})", Errc::invalid,
       "spec.nodeName: is required"},
      {R"({"metadata":{"name":"x"},"spec":{"nodeName":"","profile":"eco"}})", Errc::invalid,
       "spec.nodeName: is required"},
      {R"({"metadata":{"name":"x"},"spec":{"nodeName":"n"}})", Errc::invalid,
       "spec.profile: is required"},
      {R"({"metadata":{"name":"x"},"spec":{"nodeName":"n","profile":"turbo"}})", Errc::invalid,
       "spec.profile: unknown profile \"turbo\""},
      {R"({"metadata":{"name":"x"},"spec":{"nodeName":"n","profile":"Eco"}})", Errc::invalid,
       "spec.profile"},
      {R"({"metadata":{"name":"x"},"spec":{"nodeName":"n","profile":1}})", Errc::parse,
       "spec.profile: must be a string"},
      {R"({"metadata":{"name":"x"},"spec":{"nodeName":"n","profile":"eco",
          "cpu":{"packagePowerCapWatts":-5}}})",
       Errc::invalid, "spec.cpu.packagePowerCapWatts: must be between 10 and 100000 W (got -5)"},
      {R"({"metadata":{"name":"x"},"spec":{"nodeName":"n","profile":"eco",
          "cpu":{"packagePowerCapWatts":0.5}}})",
       Errc::invalid, "spec.cpu.packagePowerCapWatts"},
      {R"({"metadata":{"name":"x"},"spec":{"nodeName":"n","profile":"eco",
          "cpu":{"packagePowerCapWatts":1}}})",
       Errc::invalid, "spec.cpu.packagePowerCapWatts: must be between 10 and 100000 W (got 1)"},
      {R"({"metadata":{"name":"x"},"spec":{"nodeName":"n","profile":"eco",
          "cpu":{"packagePowerCapWatts":1e300}}})",
       Errc::invalid, "spec.cpu.packagePowerCapWatts: must be between 10 and 100000 W"},
      // Beyond a double's range: not a number we can hold at all.
      {R"({"metadata":{"name":"x"},"spec":{"nodeName":"n","profile":"eco",
          "cpu":{"packagePowerCapWatts":1.8e308}}})",
       Errc::invalid, "spec.cpu.packagePowerCapWatts: must be a finite number"},
      {R"({"metadata":{"name":"x"},"spec":{"nodeName":"n","profile":"eco",
          "cpu":{"packagePowerCapWatts":"120"}}})",
       Errc::parse, "spec.cpu.packagePowerCapWatts: must be a number"},
      {R"({"metadata":{"name":"x"},"spec":{"nodeName":"n","profile":"eco","cpu":[]}})", Errc::parse,
       "spec.cpu: must be an object"},
      {R"({"metadata":{"name":"x"},"spec":{"nodeName":"n","profile":"eco","policy":{"name":3}}})",
       Errc::parse, "spec.policy.name: must be a string"},
      {R"({"metadata":{"name":"x","generation":"3"},"spec":{"nodeName":"n","profile":"eco"}})",
       Errc::parse, "metadata.generation: must be an integer"},
      {R"({"metadata":{"name":"x","creationTimestamp":"yesterday"},
          "spec":{"nodeName":"n","profile":"eco"}})",
       Errc::parse, "metadata.creationTimestamp: not an RFC 3339 time"},
      {R"({"metadata":{"name":"x","labels":{"a":1}},"spec":{"nodeName":"n","profile":"eco"}})",
       Errc::parse, "metadata.labels[a]: must be a string"},
      {R"({"metadata":{"name":"x"},"spec":{"nodeName":"n","profile":"eco"},
          "status":{"backend":"gpu"}})",
       Errc::invalid, "status.backend: unknown backend \"gpu\""},
      {R"({"metadata":{"name":"x"},"spec":{"nodeName":"n","profile":"eco"},
          "status":{"result":"ok"}})",
       Errc::invalid, "status.result"},
      {R"({"metadata":{"name":"x"},"spec":{"nodeName":"n","profile":"eco"},
          "status":{"appliedCapWatts":-1}})",
       Errc::invalid, "status.appliedCapWatts: must not be negative"},
      {R"({"metadata":{"name":"x"},"spec":{"nodeName":"n","profile":"eco"},
          "status":{"conditions":{}}})",
       Errc::parse, "status.conditions: must be an array"},
      {R"({"metadata":{"name":"x"},"spec":{"nodeName":"n","profile":"eco"},
          "status":{"conditions":["Applied"]}})",
       Errc::parse, "status.conditions[0]: must be an object"},
      {R"({"metadata":{"name":"x"},"spec":{"nodeName":"n","profile":"eco"},
          "status":{"conditions":[{"type":"Applied","observedGeneration":1.5}]}})",
       Errc::parse, "status.conditions[0].observedGeneration: must be an integer"},
  };
  for (const auto& c : cases) {
    INFO(c.json);
    auto doc = json(c.json);
    auto r = decode_node_power_profile(doc);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == c.code);
    CHECK_THAT(r.error().message, Catch::Contains(c.needle));
  }
}

TEST_CASE("a NaN cap (only possible in a programmatic document) is rejected") {
  auto doc = json(R"({"metadata":{"name":"x"},"spec":{"nodeName":"n","profile":"eco",
                      "cpu":{"packagePowerCapWatts":1}}})");
  doc["spec"]["cpu"]["packagePowerCapWatts"].SetDouble(std::numeric_limits<double>::quiet_NaN());
  auto r = decode_node_power_profile(doc);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::invalid);
  CHECK_THAT(r.error().message, Catch::Contains("spec.cpu.packagePowerCapWatts"));
}

TEST_CASE("null optional fields count as absent") {
  auto doc = json(R"({"metadata":{"name":"x","labels":null},
                      "spec":{"nodeName":"n","profile":"eco","cpu":null,"policy":{"name":null}},
                      "status":null})");
  auto r = decode_node_power_profile(doc);
  REQUIRE(r.ok());
  CHECK_FALSE(r->spec.package_power_cap_watts.has_value());
  CHECK_FALSE(r->spec.policy_name.has_value());
}

TEST_CASE("spec encoding is compact, ordered and round-trips") {
  NodePowerProfileSpec spec{"worker-01", Profile::eco, 120.0, std::string("queue-aware-v1")};
  const auto text = encode_spec(spec);
  CHECK(text == R"({"nodeName":"worker-01","profile":"eco","cpu":{"packagePowerCapWatts":120},)"
                R"("policy":{"name":"queue-aware-v1"}})");
  CHECK(encode_spec(NodePowerProfileSpec{"n", Profile::performance, 5000.5, std::nullopt}) ==
        R"({"nodeName":"n","profile":"performance","cpu":{"packagePowerCapWatts":5000.5}})");

  const auto created = encode_new_node_power_profile("node-worker-01", spec);
  auto doc = json(created);
  auto back = decode_node_power_profile(doc);
  REQUIRE(back.ok());
  CHECK(back->metadata.name == "node-worker-01");
  CHECK(back->metadata.managed_by_operator());
  CHECK(back->spec == spec);
  CHECK(created.rfind(R"({"apiVersion":"joulie.io/v1alpha1","kind":"NodePowerProfile",)", 0) == 0);
}

TEST_CASE("the spec merge patch clears optionals with null") {
  NodePowerProfileSpec spec{"n1", Profile::performance, std::nullopt, std::nullopt};
  CHECK(encode_spec_patch(spec) ==
        R"({"spec":{"nodeName":"n1","profile":"performance","cpu":null,"policy":null}})");
  spec.package_power_cap_watts = 5000;
  spec.policy_name = "rule-swap-v1";
  CHECK(encode_spec_patch(spec) ==
        R"({"spec":{"nodeName":"n1","profile":"performance","cpu":{"packagePowerCapWatts":5000},)"
        R"("policy":{"name":"rule-swap-v1"}}})");
}

TEST_CASE("status encoding round-trips and the patch nulls unset fields") {
  auto doc = json(kFullNpp);
  auto p = decode_node_power_profile(doc);
  REQUIRE(p.ok());
  const auto text = encode_status(p->status);
  CHECK(text == R"({"observedGeneration":3,"backend":"rapl","result":"applied","message":"ok",)"
                R"("appliedCapWatts":120.5,"updatedAt":"2026-11-29T10:00:05Z","conditions":[)"
                R"({"type":"Applied","status":"True","reason":"Applied","message":"cap set",)"
                R"("lastTransitionTime":"2026-11-29T10:00:05Z","observedGeneration":3}]})");

  const auto patch = encode_status_patch(p->status);
  auto patch_doc = json(patch);
  auto merged = json(R"({"metadata":{"name":"y"},"spec":{"nodeName":"n","profile":"eco"}})");
  merged.AddMember("status", patch_doc["status"], merged.GetAllocator());
  auto back = decode_node_power_profile(merged);
  REQUIRE(back.ok());
  CHECK(back->status == p->status);

  NodePowerProfileStatus blocked;
  blocked.result = ApplyResult::blocked;
  blocked.message = "no RAPL, no cpufreq";
  CHECK(encode_status_patch(blocked) ==
        R"({"status":{"observedGeneration":0,"backend":"none","result":"blocked",)"
        R"("message":"no RAPL, no cpufreq","appliedCapWatts":null,"packageMaxPowerWatts":null,)"
        R"("updatedAt":null,)"
        R"("conditions":[]}})");
  CHECK(encode_status(blocked) == R"({"observedGeneration":0,"backend":"none","result":"blocked",)"
                                  R"("message":"no RAPL, no cpufreq"})");
}

TEST_CASE("status.packageMaxPowerWatts round-trips; a negative one is refused") {
  NodePowerProfileStatus s;
  s.result = ApplyResult::applied;
  s.package_max_power_watts = 420.5;
  CHECK(encode_status(s).find(R"("packageMaxPowerWatts":420.5)") != std::string::npos);
  auto doc = json(R"({"metadata":{"name":"y"},"spec":{"nodeName":"n","profile":"eco"},"status":)" +
                  encode_status(s) + "}");
  auto back = decode_node_power_profile(doc);
  REQUIRE(back.ok());
  CHECK(back->status.package_max_power_watts == 420.5);
  auto bad = json(R"({"metadata":{"name":"y"},"spec":{"nodeName":"n","profile":"eco"},)"
                  R"("status":{"packageMaxPowerWatts":-1}})");
  auto refused = decode_node_power_profile(bad);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("status.packageMaxPowerWatts") != std::string::npos);
}

TEST_CASE("strings are JSON-escaped in encodings") {
  NodePowerProfileStatus s;
  s.message = "quote \" backslash \\ newline \n";
  auto doc = json(encode_status(s));
  CHECK(std::string(doc["message"].GetString()) == s.message);
}

// ---- TelemetryProfile ---------------------------------------------------------------------------

TEST_CASE("a complete TelemetryProfile decodes") {
  auto doc = json(R"({
    "metadata": {"name": "sim", "creationTimestamp": "2026-01-01T00:00:00Z"},
    "spec": {
      "target": {"scope": "node", "nodeName": "kwok-node-1"},
      "sources": {
        "cpu": {"type": "http", "http": {"endpoint": "http://sim/telemetry/{node}", "timeoutSeconds": 5}},
        "gpu": {"type": "none"},
        "thermal": {"type": "prometheus", "prometheus": {"endpoint": "https://prom", "query": "up",
                    "caFile": "/ca.pem", "bearerTokenFile": "/token"}}
      },
      "controls": {
        "cpu": {"type": "http", "http": {"endpoint": "http://sim/control/{node}", "mode": "dvfs"}},
        "gpu": {"type": "http", "http": {"endpoint": "http://sim/gpu", "mode": "clocks"}}
      }
    },
    "status": {"control": {"cpu": {"backend": "http", "result": "applied", "message": "m",
                                   "observed": "dvfs", "updatedAt": "2026-01-01T00:00:01Z"}},
               "snapshot": {"anything": [1, 2, 3]}}
  })");
  auto r = decode_telemetry_profile(doc);
  REQUIRE(r.ok());
  const auto& s = r->spec;
  CHECK(s.scope == TargetScope::node);
  CHECK(s.node_name == "kwok-node-1");
  CHECK(s.cpu_source.type == SourceType::http);
  CHECK(s.cpu_source.http.endpoint == "http://sim/telemetry/{node}");
  CHECK(s.cpu_source.http.timeout_seconds == 5);
  CHECK(s.gpu_source.type == SourceType::none);
  CHECK(s.thermal_source.type == SourceType::prometheus);
  CHECK(s.thermal_source.prometheus.endpoint == "https://prom");
  CHECK(s.thermal_source.prometheus.query == "up");
  CHECK(s.thermal_source.prometheus.ca_file == "/ca.pem");
  CHECK(s.thermal_source.prometheus.bearer_token_file == "/token");
  CHECK(s.context_source.type == SourceType::host);  // left out: host
  CHECK(s.cpu_control.type == ControlType::http);
  CHECK(s.cpu_control.mode == CpuControlMode::dvfs);
  CHECK_FALSE(s.cpu_control.http.timeout_seconds.has_value());
  CHECK(s.gpu_control.mode == GpuControlMode::clocks);
  REQUIRE(r->status.cpu.has_value());
  CHECK(r->status.cpu->result == "applied");
  CHECK(r->status.cpu->observed == "dvfs");
  CHECK_FALSE(r->status.gpu.has_value());
}

TEST_CASE("a cluster TelemetryProfile with nothing but a target means host everything") {
  auto doc = json(R"({"metadata":{"name":"c"},"spec":{"target":{"scope":"cluster"}}})");
  auto r = decode_telemetry_profile(doc);
  REQUIRE(r.ok());
  CHECK(r->spec.scope == TargetScope::cluster);
  CHECK(r->spec.cpu_source.type == SourceType::host);
  CHECK(r->spec.cpu_control.type == ControlType::host);
  CHECK(r->spec.cpu_control.mode == CpuControlMode::automatic);
}

TEST_CASE("bad TelemetryProfiles are rejected with the field named") {
  struct Case {
    const char* json;
    Errc code;
    const char* needle;
  };
  const Case cases[] = {
      {R"({"metadata":{"name":"t"},"spec":{}})", Errc::invalid, "spec.target: is required"},
      {R"({"metadata":{"name":"t"},"spec":{"target":{}}})", Errc::invalid,
       "spec.target.scope: is required"},
      {R"({"metadata":{"name":"t"},"spec":{"target":{"scope":"rack"}}})", Errc::invalid,
       "spec.target.scope: unknown scope \"rack\" (want node|cluster)"},
      {R"({"metadata":{"name":"t"},"spec":{"target":{"scope":"node"}}})", Errc::invalid,
       "spec.target.nodeName: is required when scope is node"},
      {R"({"metadata":{"name":"t"},"spec":{"target":{"scope":"cluster"},
          "sources":{"cpu":{"type":"snmp"}}}})",
       Errc::invalid, "spec.sources.cpu.type: unknown source type \"snmp\""},
      {R"({"metadata":{"name":"t"},"spec":{"target":{"scope":"cluster"},
          "sources":{"thermal":{"http":{"endpoint":"x"}}}}})",
       Errc::invalid, "spec.sources.thermal.type: is required"},
      {R"({"metadata":{"name":"t"},"spec":{"target":{"scope":"cluster"},
          "sources":{"cpu":{"type":"http"}}}})",
       Errc::invalid, "spec.sources.cpu.http.endpoint: is required when type is http"},
      {R"({"metadata":{"name":"t"},"spec":{"target":{"scope":"cluster"},
          "sources":{"cpu":{"type":"http","http":{"endpoint":"e","timeoutSeconds":0}}}}})",
       Errc::invalid, "spec.sources.cpu.http.timeoutSeconds: must be within 1..300 (got 0)"},
      {R"({"metadata":{"name":"t"},"spec":{"target":{"scope":"cluster"},
          "sources":{"cpu":{"type":"http","http":{"endpoint":"e","timeoutSeconds":301}}}}})",
       Errc::invalid, "timeoutSeconds: must be within 1..300 (got 301)"},
      {R"({"metadata":{"name":"t"},"spec":{"target":{"scope":"cluster"},
          "sources":{"cpu":{"type":"http","http":{"endpoint":"e","timeoutSeconds":"5"}}}}})",
       Errc::parse, "spec.sources.cpu.http.timeoutSeconds: must be an integer"},
      {R"({"metadata":{"name":"t"},"spec":{"target":{"scope":"cluster"},
          "controls":{"cpu":{"type":"prometheus"}}}})",
       Errc::invalid, "spec.controls.cpu.type: unknown control type \"prometheus\""},
      {R"({"metadata":{"name":"t"},"spec":{"target":{"scope":"cluster"},
          "controls":{"cpu":{"type":"http","http":{"endpoint":"e","mode":"clocks"}}}}})",
       Errc::invalid, "spec.controls.cpu.http.mode: unknown cpu control mode \"clocks\""},
      {R"({"metadata":{"name":"t"},"spec":{"target":{"scope":"cluster"},
          "controls":{"gpu":{"type":"http","http":{"endpoint":"e","mode":"dvfs"}}}}})",
       Errc::invalid, "spec.controls.gpu.http.mode: unknown gpu control mode \"dvfs\""},
      {R"({"metadata":{"name":"t"},"spec":{"target":{"scope":"cluster"},
          "controls":{"cpu":{"type":"http","http":{"mode":"rapl"}}}}})",
       Errc::invalid, "spec.controls.cpu.http.endpoint: is required when type is http"},
      {R"({"metadata":{"name":"t"},"spec":{"target":{"scope":"cluster"}},
          "status":{"control":{"cpu":{"updatedAt":5}}}})",
       Errc::parse, "status.control.cpu.updatedAt: must be a string"},
  };
  for (const auto& c : cases) {
    INFO(c.json);
    auto doc = json(c.json);
    auto r = decode_telemetry_profile(doc);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == c.code);
    CHECK_THAT(r.error().message, Catch::Contains(c.needle));
    CHECK_THAT(r.error().message, Catch::StartsWith("TelemetryProfile \"t\": "));
  }
}

TEST_CASE("control status patch touches only the controls that are set") {
  TelemetryProfileStatus s;
  s.cpu = ControlStatus{"rapl", "applied", "", "", std::nullopt};
  CHECK(encode_control_status_patch(s) ==
        R"({"status":{"control":{"cpu":{"backend":"rapl","result":"applied","message":"",)"
        R"("observed":"","updatedAt":null}}}})");
}

TEST_CASE("enum wire names round-trip") {
  for (auto v : {Profile::performance, Profile::eco}) {
    CHECK(parse_profile(to_string(v)).value() == v);
  }
  for (auto v : {CpuControlMode::automatic, CpuControlMode::rapl, CpuControlMode::dvfs}) {
    CHECK(parse_cpu_control_mode(to_string(v)).value() == v);
  }
  CHECK(to_string(CpuControlMode::automatic) == "auto");
  CHECK(to_string(GpuControlMode::powercap) == "powercap");
  CHECK(to_string(ApplyResult::blocked) == "blocked");
  CHECK(to_string(Backend::dvfs) == "dvfs");
}
