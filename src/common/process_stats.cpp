#include "process_stats.hpp"

#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace joulie::metrics::detail {
namespace {

std::optional<double> to_number(std::string_view token) {
  double value = 0;
  const auto* end = token.data() + token.size();
  auto [ptr, ec] = std::from_chars(token.data(), end, value);
  if (ec != std::errc() || ptr != end) {
    return std::nullopt;
  }
  return value;
}

std::vector<std::string_view> split_spaces(std::string_view text) {
  std::vector<std::string_view> tokens;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) {
      ++i;
    }
    size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t' && text[i] != '\n') {
      ++i;
    }
    if (i > start) {
      tokens.push_back(text.substr(start, i - start));
    }
  }
  return tokens;
}

// The value after "<key>" on the line that starts with it, e.g. "VmRSS:" or "btime".
std::optional<std::string_view> line_value(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) {
      eol = text.size();
    }
    std::string_view line = text.substr(pos, eol - pos);
    if (line.substr(0, key.size()) == key) {
      return line.substr(key.size());
    }
    pos = eol + 1;
  }
  return std::nullopt;
}

std::optional<std::string> slurp(const char* path) {
  std::ifstream in(path);
  if (!in) {
    return std::nullopt;
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

std::optional<StatFields> parse_proc_stat(std::string_view text) {
  size_t close = text.rfind(')');
  if (close == std::string_view::npos) {
    return std::nullopt;
  }
  // Token 0 after the command name is field 3 (state).
  auto tokens = split_spaces(text.substr(close + 1));
  constexpr size_t utime = 14 - 3, stime = 15 - 3, starttime = 22 - 3;
  if (tokens.size() <= starttime) {
    return std::nullopt;
  }
  auto u = to_number(tokens[utime]);
  auto s = to_number(tokens[stime]);
  auto st = to_number(tokens[starttime]);
  if (!u || !s || !st) {
    return std::nullopt;
  }
  return StatFields{*u, *s, *st};
}

std::optional<double> parse_vm_rss_bytes(std::string_view text) {
  auto value = line_value(text, "VmRSS:");
  if (!value) {
    return std::nullopt;
  }
  auto tokens = split_spaces(*value);
  if (tokens.empty()) {
    return std::nullopt;
  }
  auto kb = to_number(tokens[0]);
  if (!kb) {
    return std::nullopt;
  }
  // The kernel always reports "kB" (KiB) here.
  return *kb * 1024.0;
}

std::optional<double> parse_boot_time(std::string_view text) {
  auto value = line_value(text, "btime ");
  if (!value) {
    return std::nullopt;
  }
  auto tokens = split_spaces(*value);
  if (tokens.empty()) {
    return std::nullopt;
  }
  return to_number(tokens[0]);
}

std::optional<ProcessStats> read_process_stats() {
  auto stat = slurp("/proc/self/stat");
  auto status = slurp("/proc/self/status");
  auto system_stat = slurp("/proc/stat");
  if (!stat || !status || !system_stat) {
    return std::nullopt;
  }
  auto fields = parse_proc_stat(*stat);
  auto rss = parse_vm_rss_bytes(*status);
  auto boot = parse_boot_time(*system_stat);
  long ticks = sysconf(_SC_CLK_TCK);
  if (!fields || !rss || !boot || ticks <= 0) {
    return std::nullopt;
  }
  const double hz = static_cast<double>(ticks);
  ProcessStats stats;
  stats.resident_memory_bytes = *rss;
  stats.cpu_seconds = (fields->utime_ticks + fields->stime_ticks) / hz;
  stats.start_time_seconds = *boot + fields->starttime_ticks / hz;
  return stats;
}

}  // namespace joulie::metrics::detail
