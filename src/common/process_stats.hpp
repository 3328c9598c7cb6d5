#pragma once
// Reads the process_* metrics from /proc (Linux). The parsers take the file contents so that
// tests can feed them odd inputs (a command name with spaces and parentheses, missing fields).

#include <optional>
#include <string_view>

namespace joulie::metrics::detail {

struct ProcessStats {
  double resident_memory_bytes = 0;
  double cpu_seconds = 0;         // user + system
  double start_time_seconds = 0;  // since the Unix epoch
};

struct StatFields {
  double utime_ticks = 0;
  double stime_ticks = 0;
  double starttime_ticks = 0;  // since boot
};

// /proc/self/stat: fields 14 (utime), 15 (stime) and 22 (starttime). The command name (field 2)
// may contain spaces and ')' so fields are counted from the LAST ')'.
std::optional<StatFields> parse_proc_stat(std::string_view text);
// /proc/self/status: "VmRSS:   1234 kB" → bytes.
std::optional<double> parse_vm_rss_bytes(std::string_view text);
// /proc/stat: "btime 1700000000" → seconds since the epoch.
std::optional<double> parse_boot_time(std::string_view text);

// Reads the real files; nullopt when /proc is unavailable or unreadable.
std::optional<ProcessStats> read_process_stats();

}  // namespace joulie::metrics::detail
