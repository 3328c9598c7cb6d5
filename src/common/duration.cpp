#include "joulie/common/duration.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <ctime>
#include <limits>

namespace joulie {
namespace {

struct Unit {
  std::string_view name;
  double nanos;
};

constexpr Unit kUnits[] = {
    {"ns", 1.0}, {"us", 1e3}, {"\xC2\xB5s", 1e3}, {"\xCE\xBCs", 1e3},
    {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},        {"h", 3600e9},
};

Error bad(std::string_view text, std::string_view why) {
  return Error(Errc::parse, fmt::format("invalid duration \"{}\": {}", text, why));
}

}  // namespace

Result<Duration> parse_duration(std::string_view text) {
  std::string_view s = text;
  if (s.empty()) {
    return bad(text, "empty");
  }
  bool negative = false;
  if (s.front() == '-' || s.front() == '+') {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {
    return Duration::zero();
  }
  if (s.empty()) {
    return bad(text, "no number");
  }
  long double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    long double value = 0;
    bool digits = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      value = value * 10 + (s[i] - '0');
      digits = true;
      ++i;
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      long double scale = 0.1L;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        value += (s[i] - '0') * scale;
        scale /= 10;
        digits = true;
        ++i;
      }
    }
    if (!digits) {
      return bad(text, "expected a number");
    }
    size_t j = i;
    while (j < s.size() && !(s[j] >= '0' && s[j] <= '9') && s[j] != '.') {
      ++j;
    }
    std::string_view unit = s.substr(i, j - i);
    if (unit.empty()) {
      return bad(text, "missing unit (use ns, us, ms, s, m or h)");
    }
    const Unit* found = nullptr;
    for (const auto& u : kUnits) {
      if (u.name == unit) {
        found = &u;
        break;
      }
    }
    if (found == nullptr) {
      return bad(text, fmt::format("unknown unit \"{}\"", unit));
    }
    total += value * found->nanos;
    if (total > static_cast<long double>(std::numeric_limits<int64_t>::max())) {
      return bad(text, "out of range");
    }
    s.remove_prefix(j);
  }
  auto nanos = static_cast<int64_t>(std::llround(static_cast<double>(total)));
  return Duration(negative ? -nanos : nanos);
}

std::string format_duration(Duration d) {
  int64_t ns = d.count();
  if (ns == 0) {
    return "0s";
  }
  std::string sign = ns < 0 ? "-" : "";
  uint64_t u = ns < 0 ? static_cast<uint64_t>(-(ns + 1)) + 1 : static_cast<uint64_t>(ns);
  if (u < 1000) {
    return fmt::format("{}{}ns", sign, u);
  }
  if (u < 1000000) {
    return fmt::format("{}{}µs", sign, static_cast<double>(u) / 1e3);
  }
  if (u < 1000000000) {
    return fmt::format("{}{}ms", sign, static_cast<double>(u) / 1e6);
  }
  uint64_t hours = u / 3600000000000ULL;
  u -= hours * 3600000000000ULL;
  uint64_t minutes = u / 60000000000ULL;
  u -= minutes * 60000000000ULL;
  double seconds = static_cast<double>(u) / 1e9;
  std::string out = sign;
  if (hours > 0) {
    out += fmt::format("{}h", hours);
  }
  if (hours > 0 || minutes > 0) {
    out += fmt::format("{}m", minutes);
  }
  out += fmt::format("{}s", seconds);
  return out;
}

std::string format_rfc3339(std::chrono::system_clock::time_point t, bool millis) {
  using namespace std::chrono;
  auto since = t.time_since_epoch();
  auto secs = duration_cast<seconds>(since);
  auto ms = duration_cast<milliseconds>(since - secs).count();
  if (ms < 0) {
    ms += 1000;
    secs -= seconds(1);
  }
  std::time_t tt = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  if (millis) {
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  }
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

Result<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) {
  auto fail = [&] { return Error(Errc::parse, fmt::format("invalid RFC 3339 time \"{}\"", text)); };
  auto num = [&](size_t pos, size_t len, int& out) {
    if (pos + len > text.size()) {
      return false;
    }
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (text[i] < '0' || text[i] > '9') {
        return false;
      }
      v = v * 10 + (text[i] - '0');
    }
    out = v;
    return true;
  };
  int year, mon, day, hour, min, sec;
  if (text.size() < 20 || !num(0, 4, year) || text[4] != '-' || !num(5, 2, mon) || text[7] != '-' ||
      !num(8, 2, day) || (text[10] != 'T' && text[10] != 't') || !num(11, 2, hour) ||
      text[13] != ':' || !num(14, 2, min) || text[16] != ':' || !num(17, 2, sec)) {
    return fail();
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) {
    return fail();
  }
  // system_clock counts nanoseconds in 64 bits: outside ~1678..2261 the conversion overflows
  // (undefined behaviour, found by fuzzing). No Kubernetes or simulator time is out there.
  if (year < 1678 || year > 2261) {
    return fail();
  }
  size_t pos = 19;
  int64_t frac_ns = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int64_t scale = 100000000;
    size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      frac_ns += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) {
      return fail();
    }
  }
  int offset_min = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int oh, om;
    if (!num(pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !num(pos + 4, 2, om)) {
      return fail();
    }
    offset_min = (oh * 60 + om) * (text[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return fail();
  }
  if (pos != text.size()) {
    return fail();
  }
  // Calendar arithmetic, not timegm (which takes the time-zone lock and normalises through
  // struct tm; the pass reads thousands of these). A day past the month's end counts on into
  // the next month and second 60 into the next minute, as timegm does.
  namespace c = std::chrono;
  const c::sys_days first{
      c::year_month_day(c::year(year), c::month(static_cast<unsigned>(mon)), c::day(1))};
  const auto tp = c::time_point_cast<c::system_clock::duration>(
      first + c::days(day - 1) + c::hours(hour) + c::minutes(min) + c::seconds(sec) -
      c::minutes(offset_min));
  return tp + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                  std::chrono::nanoseconds(frac_ns));
}

}  // namespace joulie
