#pragma once
// Structured logging to stderr, one line per event.
//   text: 2026-11-29T10:00:00.123Z INFO operator: assigned profiles policy=static_partition nodes=4
//   json: {"ts":"…","level":"info","component":"operator","msg":"assigned profiles","policy":…}
// Never pass tokens, keys or certificate data as fields.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

#include "joulie/common/result.hpp"

namespace joulie::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };
enum class Format { text, json };

Result<Level> parse_level(std::string_view text);
Result<Format> parse_format(std::string_view text);

void configure(Format format, Level level);
bool enabled(Level level);

// Replaces stderr (tests). Pass nullptr to restore stderr.
void set_sink(std::function<void(std::string_view line)> sink);

struct Field {
  enum class Kind { string, number, boolean };
  std::string key;
  std::string value;
  Kind kind = Kind::string;

  Field(std::string k, std::string v) : key(std::move(k)), value(std::move(v)) {}
  Field(std::string k, std::string_view v) : key(std::move(k)), value(v) {}
  Field(std::string k, const char* v) : key(std::move(k)), value(v) {}
  Field(std::string k, bool v)
      : key(std::move(k)), value(v ? "true" : "false"), kind(Kind::boolean) {}
  template <typename Int>
  requires(std::is_integral_v<Int> && !std::is_same_v<Int, bool>) Field(std::string k, Int v)
      : key(std::move(k)), value(std::to_string(v)), kind(Kind::number) {}
  Field(std::string k, double v);
  Field(std::string k, const Error& e) : key(std::move(k)), value(e.describe()) {}
};

void write(Level level, std::string_view component, std::string_view msg,
           std::initializer_list<Field> fields = {});

inline void debug(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  if (enabled(Level::debug)) write(Level::debug, c, m, f);
}
inline void info(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::info, c, m, f);
}
inline void warn(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::warn, c, m, f);
}
inline void error(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::error, c, m, f);
}

// Formats one line without writing it (used by write(); exposed for tests).
std::string format_line(Format format, Level level, std::string_view ts, std::string_view component,
                        std::string_view msg, std::initializer_list<Field> fields);

}  // namespace joulie::log
