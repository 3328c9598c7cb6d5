#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <ctime>

#include "joulie/common/duration.hpp"

using namespace std::chrono_literals;
using joulie::parse_duration;

TEST_CASE("Go durations parse") {
  CHECK(parse_duration("500ms").value() == 500ms);
  CHECK(parse_duration("20s").value() == 20s);
  CHECK(parse_duration("1m").value() == 1min);
  CHECK(parse_duration("1h30m").value() == 90min);
  CHECK(parse_duration("1.5h").value() == 90min);
  CHECK(parse_duration("0").value() == 0s);
  CHECK(parse_duration("-2s").value() == -2s);
  CHECK(parse_duration("250us").value() == 250us);
  CHECK(parse_duration("3ns").value() == 3ns);
}

TEST_CASE("bad durations are parse errors naming the text") {
  for (const char* bad : {"", "10", "abc", "1x", "m", ".s", "s1", "--1s", "1h-3m"}) {
    auto r = parse_duration(bad);
    INFO(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == joulie::Errc::parse);
    CHECK(r.error().message.find("invalid duration") != std::string::npos);
  }
}

TEST_CASE("durations format like Go") {
  CHECK(joulie::format_duration(0s) == "0s");
  CHECK(joulie::format_duration(500ms) == "500ms");
  CHECK(joulie::format_duration(90min) == "1h30m0s");
  CHECK(joulie::format_duration(20s) == "20s");
}

TEST_CASE("RFC 3339 round trip") {
  auto t = joulie::parse_rfc3339("2026-11-29T10:00:00.123Z");
  REQUIRE(t.ok());
  CHECK(joulie::format_rfc3339(*t) == "2026-11-29T10:00:00.123Z");
  auto offset = joulie::parse_rfc3339("2026-11-29T11:00:00+01:00");
  REQUIRE(offset.ok());
  CHECK(joulie::format_rfc3339(*offset, false) == "2026-11-29T10:00:00Z");
  CHECK_FALSE(joulie::parse_rfc3339("2026-13-01T00:00:00Z").ok());
  CHECK_FALSE(joulie::parse_rfc3339("yesterday").ok());
  CHECK_FALSE(joulie::parse_rfc3339("2026-11-29T10:00:00").ok());
}

TEST_CASE("RFC 3339 times outside the clock's range are rejected, not overflowed") {
  CHECK_FALSE(joulie::parse_rfc3339("1013-11-29T10:00:00Z").ok());
  CHECK_FALSE(joulie::parse_rfc3339("9999-01-01T00:00:00Z").ok());
  CHECK(joulie::parse_rfc3339("2261-01-01T00:00:00Z").ok());
}

TEST_CASE("RFC 3339 parsing agrees with timegm, day and second overflow included") {
  // parse_rfc3339 computes the calendar itself; timegm is the reference it replaced.
  for (int year : {1678, 1970, 2000, 2024, 2100, 2261}) {
    for (int mon = 1; mon <= 12; ++mon) {
      for (int day : {1, 28, 29, 30, 31}) {
        for (int sec : {0, 59, 60}) {
          const std::string text =
              fmt::format("{:04}-{:02}-{:02}T23:59:{:02}.5+01:30", year, mon, day, sec);
          std::tm tm{};
          tm.tm_year = year - 1900;
          tm.tm_mon = mon - 1;
          tm.tm_mday = day;
          tm.tm_hour = 23;
          tm.tm_min = 59;
          tm.tm_sec = sec;
          const auto expected = std::chrono::system_clock::from_time_t(timegm(&tm)) -
                                std::chrono::minutes(90) + std::chrono::milliseconds(500);
          auto parsed = joulie::parse_rfc3339(text);
          INFO(text);
          REQUIRE(parsed.ok());
          CHECK(*parsed == expected);
        }
      }
    }
  }
}
