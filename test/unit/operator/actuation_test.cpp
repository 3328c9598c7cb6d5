#include "joulie/operator/actuation.hpp"

#include <catch2/catch.hpp>

#include "fixture.hpp"

using joulie::api::Profile;
using joulie::operator_mode::FieldChange;
using joulie::operator_mode::plan_release_writes;
using joulie::operator_mode::ReleaseInput;
using joulie::operator_mode::Write;
using joulie::operator_mode::WriteKind;

namespace {

// A new node's writes: its profile (canonical name), then its label.
std::vector<Write> new_node_writes(const std::string& node) {
  Write profile;
  profile.kind = WriteKind::create_profile;
  profile.name = joulie::api::canonical_profile_name(node);
  profile.spec.node_name = node;
  profile.spec.profile = Profile::performance;
  profile.spec.package_power_cap_watts = 5000;
  profile.spec.policy_name = "static-partition-v1";
  Write label;
  label.kind = WriteKind::patch_node;
  label.name = node;
  label.label = FieldChange::set("performance");
  return {profile, label};
}

std::vector<WriteKind> kinds(const std::vector<Write>& writes) {
  std::vector<WriteKind> out;
  for (const auto& w : writes) {
    out.push_back(w.kind);
  }
  return out;
}

}  // namespace

TEST_CASE("actuation: release removes marks first, then the profiles; a gone node is not patched") {
  ReleaseInput r{
      "n1", true, "eco", "2026-11-29T10:00:00Z", {"node-n1"}, "eco 2026-11-29T10:00:00.000Z"};
  auto w = plan_release_writes(r);
  REQUIRE(kinds(w) == std::vector{WriteKind::patch_node, WriteKind::delete_profile});
  // The operator's memory annotation goes with its other marks.
  CHECK(joulie::operator_mode::node_patch_body(w[0], "joulie.io/power-profile") ==
        R"({"metadata":{"labels":{"joulie.io/power-profile":null},)"
        R"("annotations":{"joulie.io/draining-since":null,"joulie.io/state-since":null}}})");
  r.node_exists = false;
  CHECK(kinds(plan_release_writes(r)) == std::vector{WriteKind::delete_profile});
}

TEST_CASE("actuation: node patch bodies escape values and touch only what changes") {
  Write w;
  w.kind = WriteKind::patch_node;
  w.name = "n1";
  w.label = FieldChange::set("eco");
  CHECK(joulie::operator_mode::node_patch_body(w, "example.com/p\"x") ==
        R"({"metadata":{"labels":{"example.com/p\"x":"eco"}}})");
}

TEST_CASE("actuation: a stopped gate writes nothing") {
  joulie::operator_mode::testing::Fixture f;
  f.add_node("worker-01");
  bool open = false;
  joulie::operator_mode::ActuationAdapter adapter(f.api, "joulie.io/power-profile",
                                                  [&] { return open; });
  const auto w = new_node_writes("worker-01");
  auto out = adapter.execute(w);
  CHECK_FALSE(out.status.ok());
  CHECK(out.requests == 0);
  CHECK(f.writes.empty());
  open = true;
  out = adapter.execute(w);
  CHECK(out.status.ok());
  CHECK(out.completed == 2);
}
