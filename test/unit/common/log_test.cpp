#include <catch2/catch.hpp>

#include "joulie/common/log.hpp"

using joulie::log::Format;
using joulie::log::Level;

TEST_CASE("text log lines follow the spec shape") {
  auto line =
      joulie::log::format_line(Format::text, Level::info, "2026-11-29T10:00:00.123Z", "operator",
                               "assigned profiles", {{"policy", "static_partition"}, {"nodes", 4}});
  CHECK(line ==
        "2026-11-29T10:00:00.123Z INFO operator: assigned profiles policy=static_partition "
        "nodes=4\n");
}

TEST_CASE("text values with spaces are quoted, json values are typed") {
  auto text = joulie::log::format_line(Format::text, Level::warn, "T", "agent", "m",
                                       {{"why", "read only"}, {"ok", true}});
  CHECK(text == "T WARN agent: m why=\"read only\" ok=true\n");
  auto json = joulie::log::format_line(Format::json, Level::error, "T", "agent", "say \"hi\"",
                                       {{"n", 3}, {"w", 1.5}, {"s", "x\ny"}});
  CHECK(json ==
        "{\"ts\":\"T\",\"level\":\"error\",\"component\":\"agent\",\"msg\":\"say \\\"hi\\\"\","
        "\"n\":3,\"w\":1.5,\"s\":\"x\\ny\"}\n");
}

TEST_CASE("log levels and formats parse") {
  CHECK(joulie::log::parse_level("debug").value() == Level::debug);
  CHECK_FALSE(joulie::log::parse_level("loud").ok());
  CHECK(joulie::log::parse_format("json").value() == Format::json);
  CHECK_FALSE(joulie::log::parse_format("xml").ok());
}
