#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "joulie/common/duration.hpp"
#include "joulie/policy/policy_file.hpp"
#include "joulie/policy/time_zone.hpp"

using namespace joulie::policy;

namespace {

// Debian's tzdata (scripts/deps.sh installs it).
TimeZone zone(const std::string& name) {
  std::ifstream in("/usr/share/zoneinfo/" + name, std::ios::binary);
  REQUIRE(in);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  auto tz = TimeZone::from_tzif(name, bytes.str());
  INFO((tz.ok() ? std::string() : tz.error().message));
  REQUIRE(tz.ok());
  return *tz;
}

joulie::SystemTime utc(const char* rfc3339) {
  auto t = joulie::parse_rfc3339(rfc3339);
  REQUIRE(t.ok());
  return *t;
}

std::string wall(const LocalTime& l) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d %s %s", l.year, l.month, l.day,
                l.minute_of_day / 60, l.minute_of_day % 60, l.second,
                std::string(weekday_name(l.weekday)).c_str(), l.abbreviation.c_str());
  return buf;
}

// A minimal TZif v2 file: no transitions, one type, and a footer (a "slim" file for a zone
// whose rules never changed).
std::string slim_tzif(const std::string& footer) {
  auto header = [](char version, std::uint32_t types, std::uint32_t chars) {
    std::string h = "TZif";
    h += version;
    h += std::string(15, '\0');
    auto be32 = [&h](std::uint32_t v) {
      for (int s = 24; s >= 0; s -= 8) {
        h += static_cast<char>((v >> s) & 0xff);
      }
    };
    for (std::uint32_t v : {0U, 0U, 0U, 0U, types, chars}) {
      be32(v);
    }
    return h;
  };
  // One ttinfo: utoff 0, isdst 0, abbreviation index 0 → "LMT".
  const std::string ttinfo = std::string("\0\0\0\0\0\0", 6) + std::string("LMT\0", 4);
  return header('2', 1, 4) + ttinfo + header('2', 1, 4) + ttinfo + "\n" + footer + "\n";
}

}  // namespace

TEST_CASE("Europe/Rome around the 2026 spring change (last Sunday of March, 02:00 → 03:00)") {
  const TimeZone rome = zone("Europe/Rome");
  CHECK(wall(rome.local(utc("2026-03-29T00:59:59Z"))) == "2026-03-29 01:59:59 Sun CET");
  CHECK(wall(rome.local(utc("2026-03-29T01:00:00Z"))) == "2026-03-29 03:00:00 Sun CEST");
  CHECK(rome.local(utc("2026-03-29T01:00:00Z")).utc_offset_seconds == 7200);
  CHECK(rome.local(utc("2026-03-28T12:00:00Z")).utc_offset_seconds == 3600);
}

TEST_CASE("Europe/Rome around the 2026 autumn change (last Sunday of October, 03:00 → 02:00)") {
  const TimeZone rome = zone("Europe/Rome");
  CHECK(wall(rome.local(utc("2026-10-25T00:30:00Z"))) == "2026-10-25 02:30:00 Sun CEST");
  CHECK(wall(rome.local(utc("2026-10-25T00:59:59Z"))) == "2026-10-25 02:59:59 Sun CEST");
  // The hour 02:00–03:00 happens twice.
  CHECK(wall(rome.local(utc("2026-10-25T01:00:00Z"))) == "2026-10-25 02:00:00 Sun CET");
  CHECK(wall(rome.local(utc("2026-10-25T01:30:00Z"))) == "2026-10-25 02:30:00 Sun CET");
  CHECK(wall(rome.local(utc("2026-12-31T23:00:00Z"))) == "2027-01-01 00:00:00 Fri CET");
}

TEST_CASE("times after the file's last transition follow the POSIX footer rule") {
  const TimeZone rome = zone("Europe/Rome");
  // Fat files list transitions up to 2037; 2050 and 2100 come from "CET-1CEST,M3.5.0,M10.5.0/3".
  CHECK(wall(rome.local(utc("2050-03-27T00:59:59Z"))) == "2050-03-27 01:59:59 Sun CET");
  CHECK(wall(rome.local(utc("2050-03-27T01:00:00Z"))) == "2050-03-27 03:00:00 Sun CEST");
  CHECK(wall(rome.local(utc("2100-10-31T00:59:59Z"))) == "2100-10-31 02:59:59 Sun CEST");
  CHECK(wall(rome.local(utc("2100-10-31T01:00:00Z"))) == "2100-10-31 02:00:00 Sun CET");

  // A slim file: no transitions at all, only the footer.
  auto slim = TimeZone::from_tzif("Test/Slim", slim_tzif("CET-1CEST,M3.5.0,M10.5.0/3"));
  INFO((slim.ok() ? std::string() : slim.error().message));
  REQUIRE(slim.ok());
  CHECK(wall(slim->local(utc("2026-03-29T00:59:59Z"))) == "2026-03-29 01:59:59 Sun CET");
  CHECK(wall(slim->local(utc("2026-03-29T01:00:00Z"))) == "2026-03-29 03:00:00 Sun CEST");
  CHECK(wall(slim->local(utc("2026-10-25T01:00:00Z"))) == "2026-10-25 02:00:00 Sun CET");
}

TEST_CASE("southern hemisphere and zones without DST") {
  const TimeZone sydney = zone("Australia/Sydney");
  // AEDT (+11) until the first Sunday of April 2026 at 03:00 local.
  CHECK(wall(sydney.local(utc("2026-04-04T15:59:59Z"))) == "2026-04-05 02:59:59 Sun AEDT");
  CHECK(wall(sydney.local(utc("2026-04-04T16:00:00Z"))) == "2026-04-05 02:00:00 Sun AEST");
  CHECK(wall(sydney.local(utc("2060-01-01T00:00:00Z"))) == "2060-01-01 11:00:00 Thu AEDT");
  const TimeZone tokyo = zone("Asia/Tokyo");
  CHECK(wall(tokyo.local(utc("2026-07-01T00:00:00Z"))) == "2026-07-01 09:00:00 Wed JST");
  CHECK(wall(TimeZone::utc().local(utc("2026-12-03T11:30:00Z"))) == "2026-12-03 11:30:00 Thu UTC");
  CHECK(wall(TimeZone::utc().local(utc("1969-12-31T23:59:59Z"))) == "1969-12-31 23:59:59 Wed UTC");
}

TEST_CASE("POSIX TZ strings") {
  auto rome = PosixTz::parse("CET-1CEST,M3.5.0,M10.5.0/3");
  REQUIRE(rome.ok());
  CHECK(rome->std_offset == 3600);
  CHECK(rome->dst_offset == 7200);
  CHECK(rome->dst_end.time == 3 * 3600);
  auto quoted = PosixTz::parse("<+0330>-3:30");
  REQUIRE(quoted.ok());
  CHECK(quoted->std_abbr == "+0330");
  CHECK(quoted->std_offset == 3 * 3600 + 1800);
  auto julian = PosixTz::parse("EST5EDT,J60/2,300");
  REQUIRE(julian.ok());
  CHECK(julian->dst_start.kind == PosixTz::Rule::Kind::julian_no_leap);
  for (const char* bad : {"", "C1", "CET", "CET-1CEST,M13.1.0,M10.5.0", "CET-1CEST,M3.5.0",
                          "CET-1CEST,M3.5.0,M10.5.0/3x", "<abc-1"}) {
    INFO(bad);
    CHECK_FALSE(PosixTz::parse(bad).ok());
  }
}

TEST_CASE("TZif garbage is an error, never a crash") {
  CHECK_FALSE(TimeZone::from_tzif("x", "").ok());
  CHECK_FALSE(TimeZone::from_tzif("x", "TZif2").ok());
  std::string truncated = slim_tzif("CET-1");
  truncated.resize(60);
  CHECK_FALSE(TimeZone::from_tzif("x", truncated).ok());
  CHECK_FALSE(TimeZone::from_tzif("x", slim_tzif("CET-1CEST,M99")).ok());
}

TEST_CASE("zone names are paths below the zoneinfo root, nothing else") {
  CHECK(valid_zone_name("Europe/Rome"));
  CHECK(valid_zone_name("America/Argentina/Buenos_Aires"));
  CHECK(valid_zone_name("Etc/GMT+3"));
  CHECK(valid_zone_name("UTC"));
  for (const char* bad : {"", "/etc/passwd", "../x", "Europe/../../etc", "Europe//Rome", "a b",
                          "Europe/", ".hidden"}) {
    INFO(bad);
    CHECK_FALSE(valid_zone_name(bad));
  }
}
