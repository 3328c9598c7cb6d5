#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "joulie/api/names.hpp"
#include "joulie/api/resolution.hpp"

using namespace joulie::api;
using namespace std::chrono_literals;

namespace {

const joulie::SystemTime kT0 = joulie::SystemTime{} + 24h * 365 * 56;

NodePowerProfile npp(std::string name, std::string node, std::optional<joulie::SystemTime> created,
                     Profile profile = Profile::eco) {
  NodePowerProfile p;
  p.metadata.name = std::move(name);
  p.metadata.creation_timestamp = created;
  p.spec.node_name = std::move(node);
  p.spec.profile = profile;
  return p;
}

TelemetryProfile tp(std::string name, TargetScope scope, std::string node = {}) {
  TelemetryProfile p;
  p.metadata.name = std::move(name);
  p.spec.scope = scope;
  p.spec.node_name = std::move(node);
  return p;
}

std::vector<std::string> names(const std::vector<const NodePowerProfile*>& ps) {
  std::vector<std::string> out;
  for (const auto* p : ps) {
    out.push_back(p->metadata.name);
  }
  return out;
}

}  // namespace

TEST_CASE("no object for the node: no desired state") {
  const std::vector<NodePowerProfile> all = {npp("node-b", "b", kT0)};
  const auto sel = select_node_power_profile("a", all);
  CHECK(sel.winner == nullptr);
  CHECK_FALSE(sel.conflict());
}

TEST_CASE("only objects whose spec.nodeName matches count; a foreign name alone never wins") {
  const std::vector<NodePowerProfile> all = {npp("node-a", "b", kT0), npp("custom", "a", kT0 + 1s)};
  const auto sel = select_node_power_profile("a", all);
  CHECK(sel.winner == nullptr);
  CHECK(names(sel.losers) == std::vector<std::string>{"custom"});
}

TEST_CASE("the canonical name wins over older objects; the others are reported") {
  const std::vector<NodePowerProfile> all = {npp("zz-old", "worker-01", kT0 - 1h),
                                             npp("node-worker-01", "worker-01", kT0 + 1h),
                                             npp("aa-old", "worker-01", kT0 - 2h)};
  const auto sel = select_node_power_profile("worker-01", all);
  REQUIRE(sel.winner != nullptr);
  CHECK(sel.winner->metadata.name == "node-worker-01");
  CHECK(names(sel.losers) == std::vector<std::string>{"aa-old", "zz-old"});
  CHECK(sel.conflict());
}

TEST_CASE("without the canonical name nothing wins, however old; with it, it wins") {
  const std::vector<NodePowerProfile> all = {npp("c", "n.1", kT0 + 5s), npp("b", "n.1", kT0),
                                             npp("a", "n.1", kT0),
                                             npp("no-timestamp", "n.1", std::nullopt)};
  const auto sel = select_node_power_profile("n.1", all);
  CHECK(sel.winner == nullptr);
  CHECK(names(sel.losers) == std::vector<std::string>{"a", "b", "c", "no-timestamp"});

  // The canonical name of a non-plain node is the hashed one.
  std::vector<NodePowerProfile> with_canonical = all;
  with_canonical.push_back(npp(canonical_profile_name("n.1"), "n.1", kT0 + 1h));
  const auto sel2 = select_node_power_profile("n.1", with_canonical);
  REQUIRE(sel2.winner != nullptr);
  CHECK(sel2.winner->metadata.name == canonical_profile_name("n.1"));
  CHECK(sel2.losers.size() == 4);
}

TEST_CASE("telemetry: the node-scoped profile for the node wins over cluster ones") {
  const std::vector<TelemetryProfile> all = {tp("a-cluster", TargetScope::cluster),
                                             tp("z-node", TargetScope::node, "n1"),
                                             tp("other-node", TargetScope::node, "n2")};
  const auto sel = resolve_telemetry_profile("n1", all);
  REQUIRE(sel.profile != nullptr);
  CHECK(sel.profile->metadata.name == "z-node");
  CHECK_FALSE(sel.duplicated());
}

TEST_CASE("telemetry: duplicates for one node resolve to the first by name and are reported") {
  const std::vector<TelemetryProfile> all = {tp("m", TargetScope::node, "n1"),
                                             tp("b", TargetScope::node, "n1"),
                                             tp("k", TargetScope::node, "n1")};
  const auto sel = resolve_telemetry_profile("n1", all);
  REQUIRE(sel.profile != nullptr);
  CHECK(sel.profile->metadata.name == "b");
  REQUIRE(sel.duplicates.size() == 2);
  CHECK(sel.duplicates[0]->metadata.name == "k");
  CHECK(sel.duplicates[1]->metadata.name == "m");
}

TEST_CASE("telemetry: otherwise the first cluster-scoped profile by name, otherwise none") {
  const std::vector<TelemetryProfile> all = {tp("sim-b", TargetScope::cluster),
                                             tp("sim-a", TargetScope::cluster),
                                             tp("elsewhere", TargetScope::node, "n2")};
  const auto sel = resolve_telemetry_profile("n1", all);
  REQUIRE(sel.profile != nullptr);
  CHECK(sel.profile->metadata.name == "sim-a");

  const std::vector<TelemetryProfile> only_other = {tp("elsewhere", TargetScope::node, "n2")};
  CHECK(resolve_telemetry_profile("n1", only_other).profile == nullptr);
  CHECK(resolve_telemetry_profile("n1", {}).profile == nullptr);
}

TEST_CASE("URL escaping keeps only unreserved characters") {
  CHECK(url_escape("kwok-node-1") == "kwok-node-1");
  CHECK(url_escape("a.b_c~d") == "a.b_c~d");
  CHECK(url_escape("a b/c?d#e%f") == "a%20b%2Fc%3Fd%23e%25f");
  CHECK(url_escape("{node}") == "%7Bnode%7D");
  CHECK(url_escape("\xC3\xA9") == "%C3%A9");
  CHECK(url_escape("") == "");
}

TEST_CASE("endpoints get {node} replaced by the escaped node name") {
  CHECK(expand_endpoint("http://sim:8080/telemetry/{node}", "kwok-node-7") ==
        "http://sim:8080/telemetry/kwok-node-7");
  CHECK(expand_endpoint("http://sim/{node}/x?n={node}", "a/b") == "http://sim/a%2Fb/x?n=a%2Fb");
  CHECK(expand_endpoint("http://sim/static", "n") == "http://sim/static");
  CHECK(expand_endpoint("http://sim/{nod}{node", "n") == "http://sim/{nod}{node");
  // A node name containing the placeholder is escaped, never expanded again.
  CHECK(expand_endpoint("x/{node}", "{node}") == "x/%7Bnode%7D");
}
