// hardwareClasses in the policy file: parsing, strict validation (file:line: key), and the
// per-node caps they give (watts, fractions of the package maximum, window overrides).
#include <catch2/catch.hpp>

#include <string>

#include "joulie/config/policy_file.hpp"
#include "joulie/policy/hardware_class.hpp"

using joulie::config::parse_policy_file;
using namespace joulie::policy;

// The unity build compiles this file with others of its area as one unit: its helpers live in
// a namespace of their own (docs/testing.md, "Unity build").
namespace hardware_classes_test {

namespace {

joulie::Result<joulie::config::LoadedPolicyFile> parse(const std::string& text) {
  return parse_policy_file(text, "policy.yaml", {});
}

std::string refused(const std::string& text) {
  auto r = parse(text);
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

const char* kFile = R"yaml(policy: context_aware_v1
performance: {performanceCapWatts: 400, ecoCapWatts: 150}
windows:
  - name: night
    days: [Mon]
    start: "22:00"
    end: "06:00"
    ecoCapWatts: 100
    hardwareClasses:
      - {name: big, ecoCapFraction: 0.3}
hardwareClasses:
  - name: big
    selector: "node.kubernetes.io/instance-type in (c7.24xlarge, c7.48xlarge)"
    performanceCapFraction: 1.0
    ecoCapFraction: 0.5
    min: 2
  - name: small
    selector: "node.kubernetes.io/instance-type=c7.8xlarge"
    ecoCapWatts: 160
)yaml";

}  // namespace

TEST_CASE("hardware classes: parsed with their selectors, caps and minimums", "[classes]") {
  auto r = parse(kFile);
  INFO((r.ok() ? std::string() : r.error().message));
  REQUIRE(r.ok());
  const auto& classes = r->file.hardware_classes;
  REQUIRE(classes.size() == 2);
  CHECK(classes[0].name == "big");
  CHECK(classes[0].performance_cap == CapValue{1.0, true});
  CHECK(classes[0].eco_cap == CapValue{0.5, true});
  CHECK(classes[0].min == 2);
  CHECK(classes[1].performance_cap == std::nullopt);
  CHECK(classes[1].eco_cap == CapValue{160, false});
  CHECK(class_of(classes, {{"node.kubernetes.io/instance-type", "c7.48xlarge"}}) == 0U);
  CHECK(class_of(classes, {{"node.kubernetes.io/instance-type", "c7.8xlarge"}}) == 1U);
  CHECK(class_of(classes, {{"node.kubernetes.io/instance-type", "m7.large"}}) == std::nullopt);
  REQUIRE(r->file.windows.size() == 1);
  CHECK(r->file.windows[0].class_eco_caps ==
        std::vector<std::pair<std::string, CapValue>>{{"big", CapValue{0.3, true}}});
  // apply_file carries them into the configuration.
  CHECK(apply_file(PolicyConfig{}, r->file).hardware_classes.size() == 2);
}

TEST_CASE("hardware classes: every mistake names the line and the key", "[classes]") {
  const std::string head = "hardwareClasses:\n";
  CHECK(refused(head + "  - {name: a, selector: \"t=a\", colour: red}\n") ==
        "policy.yaml:2: hardwareClasses[0].colour: unknown key (known: name, selector, "
        "performanceCapWatts, performanceCapFraction, ecoCapWatts, ecoCapFraction, min)");
  CHECK(
      refused(head + "  - {name: a, selector: \"t=a\", ecoCapWatts: 100, ecoCapFraction: 0.5}\n") ==
      "policy.yaml:2: hardwareClasses[0].ecoCapFraction: set one of ecoCapWatts and "
      "ecoCapFraction, not both");
  CHECK(refused(head + "  - {name: a, selector: \"t=a\", ecoCapFraction: 1.5}\n") ==
        "policy.yaml:2: hardwareClasses[0].ecoCapFraction: must be a fraction of the package "
        "maximum in (0, 1], got 1.5");
  CHECK(refused(head + "  - {name: a, selector: \"t=a\", performanceCapWatts: 0.5}\n") ==
        "policy.yaml:2: hardwareClasses[0].performanceCapWatts: must be between 10 and 100000 W "
        "(the NodePowerProfile's range), got 0.5");
  CHECK(refused(head + "  - {name: a, ecoCapWatts: 100}\n") ==
        "policy.yaml:2: hardwareClasses[0].selector: required key missing");
  CHECK(refused(head + "  - {name: a, selector: \"\"}\n").find("hardwareClasses[0].selector") !=
        std::string::npos);
  CHECK(refused(head + "  - {name: a, selector: \"t in (\"}\n")
            .find("policy.yaml:2: hardwareClasses[0].selector:") == 0);
  CHECK(refused(head + "  - {name: a, selector: \"t=a\"}\n  - {name: a, selector: \"t=b\"}\n") ==
        "policy.yaml:3: hardwareClasses[1].name: repeats the name of hardwareClasses[0]");
  CHECK(refused(head + "  - {name: a, selector: \"t=a\", min: -1}\n") ==
        "policy.yaml:2: hardwareClasses[0].min: must be at least 0, got -1");
  CHECK(refused("windows:\n  - {name: w, days: [Mon], start: \"01:00\", end: \"02:00\",\n"
                "     hardwareClasses: [{name: ghost, ecoCapWatts: 90}]}\n") ==
        "policy.yaml:3: windows[0].hardwareClasses[0].name: no hardware class named \"ghost\"");
  CHECK(refused("windows:\n  - {name: w, days: [Mon], start: \"01:00\", end: \"02:00\",\n"
                "     hardwareClasses: [{name: a, ecoCapWatts: 90, min: 1}]}\n")
            .find("windows[0].hardwareClasses[0].min: unknown key") != std::string::npos);
}

TEST_CASE("hardware classes: per-node caps", "[classes]") {
  HardwareClass big;
  big.name = "big";
  big.performance_cap = CapValue{1.0, true};
  big.eco_cap = CapValue{0.5, true};
  // A 420 W package: performance at its maximum, eco at half.
  auto caps = caps_for_node(&big, nullptr, 420.0, 5000, 120);
  CHECK(caps.performance_watts == 420);
  CHECK(caps.eco_watts == 210);
  CHECK_FALSE(caps.fell_back);
  // Before the agent reported the maximum: the defaults, and it says so.
  caps = caps_for_node(&big, nullptr, std::nullopt, 5000, 120);
  CHECK(caps.performance_watts == 5000);
  CHECK(caps.eco_watts == 120);
  CHECK(caps.fell_back);
  // A window's entry for the class wins over the class's own eco cap.
  TimeWindow night;
  night.name = "night";
  night.class_eco_caps = {{"big", CapValue{0.3, true}}};
  caps = caps_for_node(&big, &night, 400.0, 5000, 100);
  CHECK(caps.eco_watts == Approx(120));
  // A class in watts ignores the maximum; no class: the defaults (window's eco cap included).
  HardwareClass small;
  small.name = "small";
  small.eco_cap = CapValue{160, false};
  caps = caps_for_node(&small, &night, 230.0, 5000, 100);
  CHECK(caps.eco_watts == 160);
  CHECK(caps.performance_watts == 5000);
  caps = caps_for_node(nullptr, &night, 230.0, 5000, 100);
  CHECK(caps.eco_watts == 100);
  // A tiny fraction never gives less than the NodePowerProfile's minimum of 10 W.
  CHECK(resolve_cap(CapValue{0.001, true}, 100.0, 120).watts == 10.0);
}

}  // namespace hardware_classes_test
