#include "joulie/policy/time_zone.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace joulie::policy {

namespace {

Error bad(std::string message) { return Error(Errc::parse, std::move(message)); }

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) {
    --q;
  }
  return q;
}
std::int64_t floor_mod(std::int64_t a, std::int64_t b) { return a - floor_div(a, b) * b; }

// Howard Hinnant's civil-date algorithms (proleptic Gregorian).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = floor_div(y, 400);
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t year;
  unsigned month;
  unsigned day;
};
Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = floor_div(z, 146097);
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2 ? 1 : 0), m, d};
}

bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Day number (days since 1970-01-01) on which a rule falls in `year`.
std::int64_t rule_day(const PosixTz::Rule& r, std::int64_t year) {
  switch (r.kind) {
    case PosixTz::Rule::Kind::julian_no_leap: {
      std::int64_t doy = r.day - 1;  // 1..365, February 29 never counted
      if (is_leap(year) && r.day >= 60) {
        ++doy;
      }
      return days_from_civil(year, 1, 1) + doy;
    }
    case PosixTz::Rule::Kind::julian_zero:
      return days_from_civil(year, 1, 1) + r.day;
    case PosixTz::Rule::Kind::month_week_day:
      break;
  }
  const auto month = static_cast<unsigned>(r.month);
  const std::int64_t first = days_from_civil(year, month, 1);
  const std::int64_t first_weekday = floor_mod(first + 4, 7);  // 0 = Sunday
  std::int64_t day = 1 + floor_mod(r.weekday - first_weekday, 7) + (r.week - 1) * 7;
  while (day > static_cast<std::int64_t>(days_in_month(year, month))) {
    day -= 7;
  }
  return first + day - 1;
}

// ---- POSIX TZ string parsing --------------------------------------------------------------------

class TzReader {
 public:
  explicit TzReader(std::string_view s) : s_(s) {}
  bool done() const { return i_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[i_]; }
  bool eat(char c) {
    if (peek() == c) {
      ++i_;
      return true;
    }
    return false;
  }

  std::optional<std::string> name() {
    std::string out;
    if (eat('<')) {
      while (!done() && peek() != '>') {
        out += s_[i_++];
      }
      if (!eat('>') || out.empty()) {
        return std::nullopt;
      }
      return out;
    }
    while (!done() && std::isalpha(static_cast<unsigned char>(peek())) != 0) {
      out += s_[i_++];
    }
    if (out.size() < 3) {
      return std::nullopt;
    }
    return out;
  }

  std::optional<std::int64_t> number(int max_digits) {
    std::int64_t v = 0;
    int digits = 0;
    while (!done() && std::isdigit(static_cast<unsigned char>(peek())) != 0 &&
           digits < max_digits) {
      v = v * 10 + (s_[i_++] - '0');
      ++digits;
    }
    if (digits == 0) {
      return std::nullopt;
    }
    return v;
  }

  // [+-]hh[:mm[:ss]] in seconds.
  std::optional<std::int64_t> hms(int max_hours) {
    std::int64_t sign = 1;
    if (eat('-')) {
      sign = -1;
    } else {
      eat('+');
    }
    auto h = number(3);
    if (!h || *h > max_hours) {
      return std::nullopt;
    }
    std::int64_t total = *h * 3600;
    if (eat(':')) {
      auto m = number(2);
      if (!m || *m > 59) {
        return std::nullopt;
      }
      total += *m * 60;
      if (eat(':')) {
        auto sec = number(2);
        if (!sec || *sec > 59) {
          return std::nullopt;
        }
        total += *sec;
      }
    }
    return sign * total;
  }

  std::optional<PosixTz::Rule> rule() {
    PosixTz::Rule r;
    if (eat('M')) {
      auto m = number(2);
      if (!m || *m < 1 || *m > 12 || !eat('.')) {
        return std::nullopt;
      }
      auto w = number(1);
      if (!w || *w < 1 || *w > 5 || !eat('.')) {
        return std::nullopt;
      }
      auto d = number(1);
      if (!d || *d > 6) {
        return std::nullopt;
      }
      r.kind = PosixTz::Rule::Kind::month_week_day;
      r.month = static_cast<int>(*m);
      r.week = static_cast<int>(*w);
      r.weekday = static_cast<int>(*d);
    } else if (eat('J')) {
      auto n = number(3);
      if (!n || *n < 1 || *n > 365) {
        return std::nullopt;
      }
      r.kind = PosixTz::Rule::Kind::julian_no_leap;
      r.day = static_cast<int>(*n);
    } else {
      auto n = number(3);
      if (!n || *n > 365) {
        return std::nullopt;
      }
      r.kind = PosixTz::Rule::Kind::julian_zero;
      r.day = static_cast<int>(*n);
    }
    if (eat('/')) {
      auto t = hms(167);
      if (!t) {
        return std::nullopt;
      }
      r.time = *t;
    }
    return r;
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

std::uint32_t be32(std::string_view b, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3]));
}
std::int64_t be64(std::string_view b, std::size_t at) {
  const std::uint64_t hi = be32(b, at);
  const std::uint64_t lo = be32(b, at + 4);
  return static_cast<std::int64_t>((hi << 32) | lo);
}

struct Header {
  char version = 0;
  std::uint32_t isut = 0, isstd = 0, leap = 0, time = 0, type = 0, chars = 0;
};

std::optional<Header> read_header(std::string_view b, std::size_t at) {
  if (b.size() < at + 44 || b.substr(at, 4) != "TZif") {
    return std::nullopt;
  }
  Header h;
  h.version = b[at + 4];
  h.isut = be32(b, at + 20);
  h.isstd = be32(b, at + 24);
  h.leap = be32(b, at + 28);
  h.time = be32(b, at + 32);
  h.type = be32(b, at + 36);
  h.chars = be32(b, at + 40);
  return h;
}

std::size_t block_size(const Header& h, std::size_t time_size) {
  return static_cast<std::size_t>(h.time) * time_size + h.time + std::size_t{h.type} * 6 + h.chars +
         static_cast<std::size_t>(h.leap) * (time_size + 4) + h.isstd + h.isut;
}

}  // namespace

Result<PosixTz> PosixTz::parse(std::string_view text) {
  TzReader r(text);
  PosixTz tz;
  auto std_name = r.name();
  if (!std_name) {
    return bad(fmt::format("TZ string \"{}\": bad standard-time name", text));
  }
  tz.std_abbr = *std_name;
  auto std_off = r.hms(24);
  if (!std_off) {
    return bad(fmt::format("TZ string \"{}\": bad UTC offset", text));
  }
  tz.std_offset = -*std_off;
  if (r.done()) {
    return tz;
  }
  auto dst_name = r.name();
  if (!dst_name) {
    return bad(fmt::format("TZ string \"{}\": bad daylight-time name", text));
  }
  tz.dst_abbr = *dst_name;
  tz.dst_offset = tz.std_offset + 3600;
  if (r.peek() != ',' && !r.done()) {
    auto dst_off = r.hms(24);
    if (!dst_off) {
      return bad(fmt::format("TZ string \"{}\": bad daylight-time offset", text));
    }
    tz.dst_offset = -*dst_off;
  }
  if (r.done()) {
    // No rules: POSIX leaves them implementation-defined; use the US rules like glibc.
    tz.dst_start = {Rule::Kind::month_week_day, 3, 2, 0, 0, 7200};
    tz.dst_end = {Rule::Kind::month_week_day, 11, 1, 0, 0, 7200};
    return tz;
  }
  if (!r.eat(',')) {
    return bad(fmt::format("TZ string \"{}\": expected ',' before the rules", text));
  }
  auto start = r.rule();
  if (!start || !r.eat(',')) {
    return bad(fmt::format("TZ string \"{}\": bad daylight-time start rule", text));
  }
  auto end = r.rule();
  if (!end || !r.done()) {
    return bad(fmt::format("TZ string \"{}\": bad daylight-time end rule", text));
  }
  tz.dst_start = *start;
  tz.dst_end = *end;
  return tz;
}

std::pair<std::int64_t, std::string_view> PosixTz::at(std::int64_t t) const {
  if (!dst_abbr) {
    return {std_offset, std_abbr};
  }
  const std::int64_t year = civil_from_days(floor_div(t + std_offset, 86400)).year;
  // Rule times are local wall-clock: the start in standard time, the end in daylight time.
  // DST all year ("EST5EDT,0/0,J365/25" style) is covered by start ≤ t < end over the year.
  auto in_dst = [&](std::int64_t y) {
    const std::int64_t start = rule_day(dst_start, y) * 86400 + dst_start.time - std_offset;
    const std::int64_t end = rule_day(dst_end, y) * 86400 + dst_end.time - dst_offset;
    if (start < end) {
      return t >= start && t < end;
    }
    return !(t >= end && t < start);  // southern hemisphere: DST spans the new year
  };
  if (in_dst(year)) {
    return {dst_offset, *dst_abbr};
  }
  return {std_offset, std_abbr};
}

TimeZone TimeZone::utc() { return TimeZone(); }

Result<TimeZone> TimeZone::from_tzif(std::string name, std::string_view b) {
  auto h1 = read_header(b, 0);
  if (!h1) {
    return bad(fmt::format("time zone {}: not a TZif file", name));
  }
  TimeZone tz;
  tz.name_ = std::move(name);
  Header h = *h1;
  std::size_t at = 44;
  std::size_t time_size = 4;
  if (h.version >= '2') {
    const std::size_t v1 = block_size(h, 4);
    auto h2 = read_header(b, at + v1);
    if (!h2) {
      return bad(fmt::format("time zone {}: truncated TZif file", tz.name_));
    }
    h = *h2;
    at += v1 + 44;
    time_size = 8;
  }
  if (h.type == 0 || h.type > 256 || h.chars == 0 || b.size() < at + block_size(h, time_size)) {
    return bad(fmt::format("time zone {}: truncated or malformed TZif file", tz.name_));
  }
  tz.transitions_.reserve(h.time);
  for (std::uint32_t i = 0; i < h.time; ++i) {
    tz.transitions_.push_back(time_size == 8 ? be64(b, at + i * 8)
                                             : static_cast<std::int32_t>(be32(b, at + i * 4)));
  }
  at += std::size_t{h.time} * time_size;
  for (std::uint32_t i = 0; i < h.time; ++i) {
    const auto type = static_cast<std::uint8_t>(b[at + i]);
    if (type >= h.type) {
      return bad(fmt::format("time zone {}: transition type out of range", tz.name_));
    }
    tz.transition_types_.push_back(type);
  }
  at += h.time;
  const std::string_view chars = b.substr(at + std::size_t{h.type} * 6, h.chars);
  for (std::uint32_t i = 0; i < h.type; ++i) {
    Type t;
    t.offset = static_cast<std::int32_t>(be32(b, at + i * 6));
    t.dst = b[at + i * 6 + 4] != 0;
    const auto idx = static_cast<unsigned char>(b[at + i * 6 + 5]);
    if (idx >= chars.size()) {
      return bad(fmt::format("time zone {}: abbreviation index out of range", tz.name_));
    }
    const std::string_view rest = chars.substr(idx);
    t.abbr = std::string(rest.substr(0, rest.find('\0')));
    tz.types_.push_back(std::move(t));
  }
  at += block_size(h, time_size) - std::size_t{h.time} * (time_size + 1);
  if (!std::is_sorted(tz.transitions_.begin(), tz.transitions_.end())) {
    return bad(fmt::format("time zone {}: transitions out of order", tz.name_));
  }
  if (time_size == 8 && at < b.size() && b[at] == '\n') {
    const std::size_t end = b.find('\n', at + 1);
    if (end != std::string_view::npos && end > at + 1) {
      auto footer = PosixTz::parse(b.substr(at + 1, end - at - 1));
      if (!footer.ok()) {
        return bad(fmt::format("time zone {}: {}", tz.name_, footer.error().message));
      }
      tz.footer_ = std::move(*footer);
    }
  }
  return tz;
}

std::pair<std::int64_t, std::string> TimeZone::offset_at(std::int64_t t) const {
  if (types_.empty()) {
    return {0, "UTC"};
  }
  if (transitions_.empty() || t < transitions_.front()) {
    if (transitions_.empty() && footer_) {
      auto [off, abbr] = footer_->at(t);
      return {off, std::string(abbr)};
    }
    // Before the first transition: RFC 8536 says type 0 (the first non-DST type in practice).
    return {types_[0].offset, types_[0].abbr};
  }
  if (t >= transitions_.back() && footer_) {
    auto [off, abbr] = footer_->at(t);
    return {off, std::string(abbr)};
  }
  const auto it = std::upper_bound(transitions_.begin(), transitions_.end(), t);
  const auto index = static_cast<std::size_t>(it - transitions_.begin()) - 1;
  const Type& type = types_[transition_types_[index]];
  return {type.offset, type.abbr};
}

LocalTime TimeZone::local(SystemTime utc) const {
  const std::int64_t t = std::chrono::floor<std::chrono::seconds>(utc.time_since_epoch()).count();
  auto [offset, abbr] = offset_at(t);
  const std::int64_t local = t + offset;
  const std::int64_t days = floor_div(local, 86400);
  const std::int64_t secs = local - days * 86400;
  const Civil c = civil_from_days(days);
  LocalTime out;
  out.time_zone = name_;
  out.year = static_cast<int>(c.year);
  out.month = static_cast<int>(c.month);
  out.day = static_cast<int>(c.day);
  out.weekday = static_cast<int>(floor_mod(days + 3, 7));  // 1970-01-01 was a Thursday (3)
  out.minute_of_day = static_cast<int>(secs / 60);
  out.second = static_cast<int>(secs % 60);
  out.utc_offset_seconds = static_cast<int>(offset);
  out.abbreviation = std::move(abbr);
  return out;
}

bool valid_zone_name(std::string_view name) {
  if (name.empty() || name.size() > 255 || name.front() == '/' || name.back() == '/') {
    return false;
  }
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_' && c != '+' && c != '-' &&
        c != '/' && c != '.') {
      return false;
    }
  }
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t slash = name.find('/', start);
    const std::string_view part = name.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty() || part == "." || part == ".." || part.front() == '.') {
      return false;
    }
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  return true;
}

}  // namespace joulie::policy
