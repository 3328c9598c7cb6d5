#pragma once
// The policy file (`--policy-config PATH` / POLICY_CONFIG, docs/design.md#policy-file): YAML → a
// validated policy::PolicyFile plus the time zone it names. Strict: an unknown or repeated key, a
// bad duration, time, weekday, number or URL, overlapping windows or an unknown time zone is an
// error "FILE:LINE: KEY: why" (the operator exits 2 at start-up; a reload keeps the last good).

#include <functional>
#include <string>
#include <string_view>

#include "joulie/common/result.hpp"
#include "joulie/config/global.hpp"
#include "joulie/policy/policy_file.hpp"
#include "joulie/policy/time_zone.hpp"

namespace joulie::config {

struct LoadedPolicyFile {
  policy::PolicyFile file;
  policy::TimeZone zone;
  std::string content;  // the bytes that were parsed (reload compares them)
};

// Resolves an IANA name to a zone (the file checks that it exists).
using ZoneLoader = std::function<Result<policy::TimeZone>(const std::string& name)>;

// Parses and validates `text`; `file_name` prefixes every error.
Result<LoadedPolicyFile> parse_policy_file(std::string_view text, const std::string& file_name,
                                           const ZoneLoader& zones);

// The zoneinfo directory: $ZONEINFO, else $TZDIR, else /usr/share/zoneinfo.
std::string zoneinfo_root(const EnvLookup& env);
// Reads ROOT/NAME as TZif. "UTC" (and "Etc/UTC") work without any file.
Result<policy::TimeZone> load_zone(const std::string& name, const std::string& root);

// Reads PATH and parses it, zones from `root`.
Result<LoadedPolicyFile> load_policy_file(const std::string& path, const std::string& root);

}  // namespace joulie::config
