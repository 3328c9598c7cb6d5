#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "joulie/policy/overrides.hpp"

using namespace joulie::policy;
using joulie::api::Profile;

namespace {

// Three nodes as a policy left them: a performance, b and c eco.
PolicyPlan three() {
  PolicyPlan p;
  p.nodes = {{"a", Profile::performance, {}}, {"b", Profile::eco, {}}, {"c", Profile::eco, {}}};
  p.performance_nodes = 1;
  return p;
}

std::vector<Profile> profiles(const PolicyPlan& p) {
  std::vector<Profile> out;
  for (const auto& n : p.nodes) {
    out.push_back(n.profile);
  }
  return out;
}

bool mentions(const std::vector<std::string>& reasons, const std::string& text) {
  for (const auto& r : reasons) {
    if (r.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace

TEST_CASE("pin values") {
  CHECK(parse_pin(std::nullopt) == Pin::none);
  CHECK(parse_pin("") == Pin::none);
  CHECK(parse_pin("none") == Pin::none);
  CHECK(parse_pin("performance") == Pin::performance);
  CHECK(parse_pin("eco") == Pin::eco);
  CHECK(parse_pin("Eco") == Pin::invalid);
  CHECK(parse_pin("draining-performance") == Pin::invalid);
}

TEST_CASE("overrides table") {
  const auto P = Profile::performance;
  const auto E = Profile::eco;
  struct Row {
    const char* what;
    bool paused;
    std::map<std::string, std::string, std::less<>> pins;
    std::vector<Profile> want;
    std::size_t changed;
  };
  const std::vector<Row> rows = {
      {"nothing: the policy's plan as is", false, {}, {P, E, E}, 0},
      {"paused: every node performance", true, {}, {P, P, P}, 2},
      {"pin performance on an eco node", false, {{"b", "performance"}}, {P, P, E}, 1},
      {"pin eco on a performance node", false, {{"a", "eco"}}, {E, E, E}, 1},
      {"pin agreeing with the policy", false, {{"b", "eco"}}, {P, E, E}, 0},
      {"invalid pin ignored", false, {{"b", "turbo"}}, {P, E, E}, 0},
      {"pause wins over a pin eco", true, {{"a", "eco"}}, {P, P, P}, 2},
      {"pin of an unmanaged node has no effect", false, {{"zz", "eco"}}, {P, E, E}, 0},
  };
  for (const auto& row : rows) {
    INFO(row.what);
    PolicyPlan plan = three();
    Overrides o;
    o.paused = row.paused;
    o.pins = row.pins;
    CHECK(apply_overrides(plan, o) == row.changed);
    CHECK(profiles(plan) == row.want);
    CHECK(plan.performance_nodes ==
          std::count(row.want.begin(), row.want.end(), Profile::performance));
  }
}

TEST_CASE("overrides say why in the reasons") {
  PolicyPlan plan = three();
  Overrides o;
  o.pins = {{"a", "eco"}, {"b", "bogus"}};
  apply_overrides(plan, o);
  CHECK(
      mentions(plan.nodes[0].reasons, "pinned eco (joulie.io/pin); the policy wanted performance"));
  CHECK(mentions(plan.nodes[1].reasons, "joulie.io/pin=\"bogus\" ignored"));
  CHECK(plan.nodes[2].reasons.empty());
  CHECK(plan.reasons.empty());

  PolicyPlan paused = three();
  o.paused = true;
  o.pause_note = "alice: incident 42";
  apply_overrides(paused, o);
  CHECK(mentions(paused.reasons, "paused (joulie-control: alice: incident 42)"));
  CHECK(mentions(paused.nodes[2].reasons, "paused"));
  CHECK(mentions(paused.nodes[0].reasons, "pin eco (joulie.io/pin) not applied while paused"));
}

TEST_CASE("a pin or the pause decides instead of minDwell: the node is no longer held") {
  const joulie::SystemTime until = joulie::SystemTime{} + std::chrono::hours(1);
  PolicyPlan p = three();
  p.nodes[0].held_until = until;  // a: minDwell kept it performance
  p.nodes[1].held_until = until;
  Overrides o;
  o.pins = {{"a", "eco"}};
  apply_overrides(p, o);
  CHECK_FALSE(p.nodes[0].held_until.has_value());  // pinned eco: the pin, not the dwell
  CHECK(p.nodes[1].held_until == until);           // untouched
  o.pins.clear();
  o.paused = true;
  apply_overrides(p, o);
  CHECK_FALSE(p.nodes[1].held_until.has_value());
}
