// The agent's view of the cluster: NodePowerProfile selection per node (conflicts), invalid
// objects kept for reporting, TelemetryProfile resolution.
#include <catch2/catch.hpp>

#include "../kube/fake_api.hpp"
#include "joulie/agent/desired_state.hpp"

using joulie::kube::testing::parse_json;
using namespace joulie::agent;

namespace {

NppEntry npp(const std::string& name, const std::string& node, const std::string& created,
             const std::string& cap = "150") {
  auto doc = parse_json(R"({"metadata":{"name":")" + name + R"(","uid":"u-)" + name +
                        R"(","generation":1,"creationTimestamp":")" + created +
                        R"("},"spec":{"nodeName":")" + node +
                        R"(","profile":"eco","cpu":{"packagePowerCapWatts":)" + cap + "}}}");
  auto entry = project_node_power_profile(doc, "");
  REQUIRE(entry);
  return *entry;
}

}  // namespace

TEST_CASE("inputs_for picks the node's canonical object and names the conflicting ones") {
  DesiredState state;
  state.upsert_node_power_profile(npp("old-n1", "n1", "2026-01-01T00:00:00Z"));
  state.upsert_node_power_profile(npp("node-n1", "n1", "2026-02-01T00:00:00Z"));
  state.upsert_node_power_profile(npp("node-n2", "n2", "2026-01-01T00:00:00Z"));
  NodeInputs in = state.inputs_for("n1");
  REQUIRE(in.profile);
  CHECK(in.profile->metadata.name == "node-n1");
  CHECK(in.conflicting == std::vector<std::string>{"old-n1"});
  CHECK_FALSE(state.inputs_for("n3").profile);

  // Moving an object to another node is reported for both nodes.
  auto moved = state.upsert_node_power_profile(npp("old-n1", "n3", "2026-01-01T00:00:00Z"));
  CHECK(moved == std::vector<std::string>{"n1", "n3"});
  CHECK(state.inputs_for("n1").conflicting.empty());
  // Alone on n3, the foreign object is still never applied; it is named for reporting.
  CHECK_FALSE(state.inputs_for("n3").profile);
  REQUIRE(state.inputs_for("n3").foreign.size() == 1);
  CHECK(state.inputs_for("n3").foreign[0].metadata.name == "old-n1");

  CHECK(state.remove_node_power_profile("node-n1") == std::vector<std::string>{"n1"});
  CHECK_FALSE(state.inputs_for("n1").profile);
}

TEST_CASE("invalid objects are kept with the reason; objects for other nodes can be filtered") {
  auto bad = parse_json(R"({"metadata":{"name":"node-n1","uid":"u"},
                           "spec":{"nodeName":"n1","profile":"eco","cpu":{"packagePowerCapWatts":-5}}})");
  auto entry = project_node_power_profile(bad, "");
  REQUIRE(entry);
  CHECK_THAT(entry->invalid, Catch::Contains("packagePowerCapWatts"));
  CHECK(entry->npp.spec.node_name == "n1");
  CHECK_FALSE(project_node_power_profile(bad, "n2"));

  auto wrong_type =
      parse_json(R"({"metadata":{"name":"x"},"spec":{"nodeName":"n1","profile":"turbo"}})");
  auto typed = project_node_power_profile(wrong_type, "n1");
  REQUIRE(typed);
  CHECK_FALSE(typed->invalid.empty());

  // Nothing to report on: no name or no node.
  CHECK_FALSE(project_node_power_profile(parse_json(R"({"spec":{"nodeName":"n1"}})"), ""));
  CHECK_FALSE(project_node_power_profile(parse_json(R"({"metadata":{"name":"x"}})"), ""));
  CHECK_FALSE(project_node_power_profile(parse_json("[1,2]"), ""));
}

TEST_CASE("an unreadable status does not hide a usable spec") {
  auto doc = parse_json(R"({"metadata":{"name":"node-n1","uid":"u"},
      "spec":{"nodeName":"n1","profile":"eco","cpu":{"packagePowerCapWatts":120}},
      "status":{"backend":"quantum","result":7}})");
  auto entry = project_node_power_profile(doc, "n1");
  REQUIRE(entry);
  CHECK(entry->invalid.empty());
  CHECK(entry->npp.spec.package_power_cap_watts == 120);
}

TEST_CASE("TelemetryProfiles: node-scoped first, then cluster-scoped; unknown fields ignored") {
  DesiredState state;
  auto cluster = project_telemetry_profile(parse_json(
      R"({"metadata":{"name":"all"},"spec":{"target":{"scope":"cluster"},"futureField":{"x":1}}})"));
  REQUIRE(cluster);
  state.upsert_telemetry_profile(*cluster);
  auto node = project_telemetry_profile(parse_json(
      R"({"metadata":{"name":"n1-tp"},"spec":{"target":{"scope":"node","nodeName":"n1"},
          "controls":{"cpu":{"type":"none"}}}})"));
  REQUIRE(node);
  state.upsert_telemetry_profile(*node);
  CHECK(state.inputs_for("n1").telemetry->metadata.name == "n1-tp");
  CHECK(state.inputs_for("n2").telemetry->metadata.name == "all");
  state.remove_telemetry_profile("all");
  CHECK_FALSE(state.inputs_for("n2").telemetry);
  CHECK_FALSE(project_telemetry_profile(
      parse_json(R"({"metadata":{"name":"bad"},"spec":{"target":{"scope":"galaxy"}}})")));
}
