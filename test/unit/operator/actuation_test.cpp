#include "joulie/operator/actuation.hpp"

#include <catch2/catch.hpp>

#include "fixture.hpp"

using joulie::api::Profile;
using joulie::operator_mode::FieldChange;
using joulie::operator_mode::NodeWriteInput;
using joulie::operator_mode::NppInfo;
using joulie::operator_mode::plan_node_writes;
using joulie::operator_mode::plan_release_writes;
using joulie::operator_mode::ReleaseInput;
using joulie::operator_mode::Write;
using joulie::operator_mode::WriteKind;

namespace {

NodeWriteInput input(std::optional<std::string> label, std::optional<NppInfo> profile,
                     std::string target_label, Profile target, double cap) {
  NodeWriteInput in;
  in.node = "worker-01";
  in.label = std::move(label);
  in.profile = std::move(profile);
  in.target_label = std::move(target_label);
  in.target_spec.node_name = "worker-01";
  in.target_spec.profile = target;
  in.target_spec.package_power_cap_watts = cap;
  in.target_spec.policy_name = "static-partition-v1";
  return in;
}

NppInfo npp(std::string profile, double cap) {
  NppInfo info;
  info.node_name = "worker-01";
  info.profile = std::move(profile);
  info.cap_watts = cap;
  info.policy_name = "static-partition-v1";
  return info;
}

std::vector<WriteKind> kinds(const std::vector<Write>& writes) {
  std::vector<WriteKind> out;
  for (const auto& w : writes) {
    out.push_back(w.kind);
  }
  return out;
}

}  // namespace

TEST_CASE("actuation: nothing differs, nothing to write") {
  auto in = input("eco", npp("eco", 120), "eco", Profile::eco, 120);
  CHECK(plan_node_writes(in).empty());
}

TEST_CASE("actuation: a new node gets its profile (canonical name) before its label") {
  auto w = plan_node_writes(
      input(std::nullopt, std::nullopt, "performance", Profile::performance, 5000));
  REQUIRE(kinds(w) == std::vector{WriteKind::create_profile, WriteKind::patch_node});
  CHECK(w[0].name == "node-worker-01");
  CHECK(w[1].label == FieldChange::set("performance"));
  CHECK_FALSE(w[1].draining_since.touches());
}

TEST_CASE("actuation: downgrade to eco writes the label first") {
  auto w =
      plan_node_writes(input("performance", npp("performance", 5000), "eco", Profile::eco, 120));
  CHECK(kinds(w) == std::vector{WriteKind::patch_node, WriteKind::patch_profile});
}

TEST_CASE("actuation: upgrade writes the profile first") {
  auto w =
      plan_node_writes(input("eco", npp("eco", 120), "performance", Profile::performance, 5000));
  CHECK(kinds(w) == std::vector{WriteKind::patch_profile, WriteKind::patch_node});
}

TEST_CASE("actuation: draining only relabels and stamps the annotation") {
  auto in = input("performance", npp("performance", 5000), "draining-performance",
                  Profile::performance, 5000);
  in.target_draining_since = FieldChange::set("2026-11-29T10:00:00.000Z");
  auto w = plan_node_writes(in);
  REQUIRE(kinds(w) == std::vector{WriteKind::patch_node});
  CHECK(w[0].label == FieldChange::set("draining-performance"));
  CHECK(w[0].draining_since == FieldChange::set("2026-11-29T10:00:00.000Z"));
}

TEST_CASE("actuation: a changed cap alone patches the profile only") {
  auto w = plan_node_writes(input("eco", npp("eco", 100), "eco", Profile::eco, 120));
  CHECK(kinds(w) == std::vector{WriteKind::patch_profile});
}

TEST_CASE("actuation: removing an absent annotation is no write") {
  auto in = input("eco", npp("eco", 120), "eco", Profile::eco, 120);
  in.target_draining_since = FieldChange::remove();
  CHECK(plan_node_writes(in).empty());
  in.draining_since = "2026-11-29T10:00:00Z";
  auto w = plan_node_writes(in);
  REQUIRE(w.size() == 1);
  CHECK(w[0].draining_since == FieldChange::remove());
  CHECK_FALSE(w[0].label.touches());
}

TEST_CASE("actuation: release removes marks first, then the profiles; a gone node is not patched") {
  ReleaseInput r{"n1", true, "eco", "2026-11-29T10:00:00Z", {"node-n1"},
                 "eco 2026-11-29T10:00:00.000Z"};
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
  auto w = plan_node_writes(
      input(std::nullopt, std::nullopt, "performance", Profile::performance, 5000));
  auto out = adapter.execute(w);
  CHECK_FALSE(out.status.ok());
  CHECK(out.requests == 0);
  CHECK(f.writes.empty());
  open = true;
  out = adapter.execute(w);
  CHECK(out.status.ok());
  CHECK(out.completed == 2);
}
