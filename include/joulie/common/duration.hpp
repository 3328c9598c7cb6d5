#pragma once
// Go/Kubernetes duration syntax: "500ms", "20s", "1m", "1h30m", "1.5h", "0".

#include <chrono>
#include <string>
#include <string_view>

#include "joulie/common/result.hpp"

namespace joulie {

using Duration = std::chrono::nanoseconds;

// Accepts an optional sign, then one or more <number><unit> with units ns, us, µs, ms, s, m, h.
// "0" alone is accepted. Anything else is Errc::parse with a message naming the bad text.
Result<Duration> parse_duration(std::string_view text);

// Go's time.Duration.String(): "1h30m0s", "500ms", "0s".
std::string format_duration(Duration d);

// RFC 3339 with milliseconds and Z ("2026-11-29T10:00:00.123Z").
std::string format_rfc3339(std::chrono::system_clock::time_point t, bool millis = true);
// Accepts "Z" or "+hh:mm" offsets and optional fractional seconds.
Result<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

}  // namespace joulie
