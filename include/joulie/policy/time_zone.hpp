#pragma once
// IANA time zones from TZif data (RFC 8536), for the pass's local time
// (docs/design.md#the-policy-snapshot). g++ 12's libstdc++ has no std::chrono::tzdb, so the
// operator reads /usr/share/zoneinfo itself (src/config/policy_file.cpp); this part is pure: bytes
// in, conversions out.
//
// Both "fat" files (every transition up to 2037) and "slim" ones (transitions up to the last
// rule change, then the POSIX TZ footer string) are handled: times after the last transition
// follow the footer's rule (e.g. "CET-1CEST,M3.5.0,M10.5.0/3").

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "joulie/common/clock.hpp"
#include "joulie/common/result.hpp"
#include "joulie/policy/context.hpp"

namespace joulie::policy {

// A POSIX TZ rule string, the TZif footer ("CET-1CEST,M3.5.0,M10.5.0/3", "<+03>-3", "UTC0").
struct PosixTz {
  struct Rule {  // Mm.w.d/time, Jn/time or n/time
    enum class Kind { month_week_day, julian_no_leap, julian_zero } kind = Kind::month_week_day;
    int month = 0, week = 0, weekday = 0, day = 0;
    std::int64_t time = 7200;  // seconds after local midnight (may be negative or > 24 h)
  };
  std::string std_abbr;
  std::int64_t std_offset = 0;  // seconds EAST of UTC (the POSIX sign inverted)
  std::optional<std::string> dst_abbr;
  std::int64_t dst_offset = 0;
  Rule dst_start, dst_end;

  static Result<PosixTz> parse(std::string_view text);
  // The offset and abbreviation in force at a UTC instant.
  std::pair<std::int64_t, std::string_view> at(std::int64_t unix_seconds) const;
};

class TimeZone {
 public:
  static TimeZone utc();
  // Parses TZif v1..v4 bytes (v2+ use the 64-bit section). `name` is kept for display.
  static Result<TimeZone> from_tzif(std::string name, std::string_view bytes);

  const std::string& name() const { return name_; }
  // The wall clock at a UTC instant.
  LocalTime local(SystemTime utc) const;
  // Offset (seconds east of UTC) and abbreviation at a UTC instant.
  std::pair<std::int64_t, std::string> offset_at(std::int64_t unix_seconds) const;

 private:
  struct Type {
    std::int64_t offset = 0;
    bool dst = false;
    std::string abbr;
  };
  std::string name_ = "UTC";
  std::vector<std::int64_t> transitions_;  // unix seconds, ascending
  std::vector<std::uint8_t> transition_types_;
  std::vector<Type> types_;
  std::optional<PosixTz> footer_;
};

// Syntax of an IANA name as a path below the zoneinfo root: "Europe/Rome", "UTC",
// "America/Argentina/Buenos_Aires"; no "..", no leading "/", only [A-Za-z0-9_+-./].
bool valid_zone_name(std::string_view name);

}  // namespace joulie::policy
