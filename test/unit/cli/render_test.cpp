#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include "cli/render.hpp"

using namespace joulie::cli;
using std::chrono::seconds;

TEST_CASE("ages as kubectl prints them") {
  CHECK(human_duration(seconds(-3)) == "0s");
  CHECK(human_duration(seconds(45)) == "45s");
  CHECK(human_duration(seconds(119)) == "119s");
  CHECK(human_duration(seconds(303)) == "5m3s");
  CHECK(human_duration(seconds(600)) == "10m");
  CHECK(human_duration(seconds(65 * 60)) == "65m");
  CHECK(human_duration(seconds(5 * 3600 + 180)) == "5h3m");
  CHECK(human_duration(seconds(26 * 3600)) == "26h");
  CHECK(human_duration(seconds(3 * 86400 + 4 * 3600)) == "3d4h");
  CHECK(human_duration(seconds(12 * 86400)) == "12d");
}

TEST_CASE("tables pad columns to the widest cell") {
  CHECK(table({{"NODE", "CAP"}, {"worker-10", "120W"}, {"a", "-"}}) ==
        "NODE        CAP\n"
        "worker-10   120W\n"
        "a           -\n");
}

TEST_CASE("watts") {
  CHECK(watts_text(std::nullopt) == "-");
  CHECK(watts_text(120.0) == "120W");
  CHECK(watts_text(95.25) == "95.2W");
}

TEST_CASE("YAML output reads back as the same document") {
  rapidjson::Document d;
  d.Parse(R"({"cluster":{"paused":true,"policy":"static_partition","reason":"a: b","n":3,
    "empty":[],"none":{},"v":null,"num":"42"},"nodes":[{"name":"n1","reasons":["x","y"]},
    {"name":"true"}]})");
  REQUIRE_FALSE(d.HasParseError());
  CHECK(to_yaml(d) ==
        "cluster:\n"
        "  paused: true\n"
        "  policy: static_partition\n"
        "  reason: \"a: b\"\n"
        "  n: 3\n"
        "  empty: []\n"
        "  none: {}\n"
        "  v: null\n"
        "  num: \"42\"\n"
        "nodes:\n"
        "  - name: n1\n"
        "    reasons:\n"
        "      - x\n"
        "      - y\n"
        "  - name: \"true\"\n");
}
