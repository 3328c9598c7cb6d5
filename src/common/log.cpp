#include "joulie/common/log.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>

#include "joulie/common/duration.hpp"

namespace joulie::log {
namespace {

std::atomic<Level> g_level{Level::info};
std::atomic<Format> g_format{Format::text};
std::mutex g_mutex;
std::function<void(std::string_view)> g_sink;

const char* level_upper(Level l) {
  switch (l) {
    case Level::debug:
      return "DEBUG";
    case Level::info:
      return "INFO";
    case Level::warn:
      return "WARN";
    case Level::error:
      return "ERROR";
  }
  return "INFO";
}
const char* level_lower(Level l) {
  switch (l) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "info";
}

void json_escape(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

bool needs_quotes(std::string_view s) {
  if (s.empty()) return true;
  for (unsigned char c : s) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) return true;
  }
  return false;
}

}  // namespace

Field::Field(std::string k, double v) : key(std::move(k)), kind(Kind::number) {
  if (std::isfinite(v)) {
    value = fmt::format("{}", v);
  } else {
    value = std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf");
    kind = Kind::string;
  }
}

Result<Level> parse_level(std::string_view text) {
  if (text == "debug") return Level::debug;
  if (text == "info") return Level::info;
  if (text == "warn" || text == "warning") return Level::warn;
  if (text == "error") return Level::error;
  return Error(Errc::invalid_argument,
               fmt::format("unknown log level \"{}\" (want debug, info, warn or error)", text));
}

Result<Format> parse_format(std::string_view text) {
  if (text == "text") return Format::text;
  if (text == "json") return Format::json;
  return Error(Errc::invalid_argument,
               fmt::format("unknown log format \"{}\" (want text or json)", text));
}

void configure(Format format, Level level) {
  g_format = format;
  g_level = level;
}

bool enabled(Level level) { return level >= g_level.load(std::memory_order_relaxed); }

void set_sink(std::function<void(std::string_view)> sink) {
  std::lock_guard lock(g_mutex);
  g_sink = std::move(sink);
}

std::string format_line(Format format, Level level, std::string_view ts, std::string_view component,
                        std::string_view msg, std::initializer_list<Field> fields) {
  std::string out;
  out.reserve(128);
  if (format == Format::json) {
    out += "{\"ts\":";
    json_escape(out, ts);
    out += ",\"level\":";
    json_escape(out, level_lower(level));
    out += ",\"component\":";
    json_escape(out, component);
    out += ",\"msg\":";
    json_escape(out, msg);
    for (const auto& f : fields) {
      out.push_back(',');
      json_escape(out, f.key);
      out.push_back(':');
      if (f.kind == Field::Kind::string) {
        json_escape(out, f.value);
      } else {
        out += f.value;
      }
    }
    out += "}\n";
    return out;
  }
  out += ts;
  out.push_back(' ');
  out += level_upper(level);
  out.push_back(' ');
  out += component;
  out += ": ";
  for (char c : msg) {
    out.push_back(c == '\n' ? ' ' : c);
  }
  for (const auto& f : fields) {
    out.push_back(' ');
    out += f.key;
    out.push_back('=');
    if (f.kind == Field::Kind::string && needs_quotes(f.value)) {
      json_escape(out, f.value);
    } else {
      out += f.value;
    }
  }
  out.push_back('\n');
  return out;
}

void write(Level level, std::string_view component, std::string_view msg,
           std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  std::string ts = format_rfc3339(std::chrono::system_clock::now());
  std::string line = format_line(g_format.load(), level, ts, component, msg, fields);
  std::lock_guard lock(g_mutex);
  if (g_sink) {
    g_sink(line);
    return;
  }
  // One write(2) per line so concurrent processes sharing stderr do not interleave mid-line.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace joulie::log
