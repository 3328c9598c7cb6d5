#pragma once
// The flag table of one command and the typed reads with flag > env > default precedence.
// Every read failure becomes the first recorded usage error, so the mode builders read all
// their settings in a straight line and check error() once at the end.

#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "joulie/common/duration.hpp"
#include "joulie/common/result.hpp"
#include "joulie/config/global.hpp"

namespace joulie::config::detail {

struct FlagSpec {
  std::string name;          // without the leading "--"
  std::string env;           // environment variable; empty when the flag has none
  std::string default_text;  // shown in the usage
  std::string help;
  std::string value_name;  // "DURATION", "WATTS", …; empty for boolean flags
  bool boolean() const { return value_name.empty(); }
};

class FlagSet {
 public:
  FlagSet(std::string command, std::vector<FlagSpec> specs);

  // Tokenizes with cxxopts. Accepts --name=value, --name value, -name value (Go style) and
  // bare boolean flags; unknown flags, missing values and positional arguments are errors.
  Status parse(const std::vector<std::string>& args);

  bool help_requested() const { return help_; }
  const FlagSpec* find(std::string_view name) const;
  // The value given on the command line, if any (the last one wins when repeated).
  std::optional<std::string> given(std::string_view name) const;
  // One entry per flag: name, value, env and default.
  std::string usage() const;
  const std::vector<FlagSpec>& specs() const { return specs_; }
  const std::string& command() const { return command_; }

 private:
  std::string command_;
  std::vector<FlagSpec> specs_;
  std::map<std::string, std::string, std::less<>> values_;
  bool help_ = false;
};

// The text a setting was read from and how to name its origin in a message.
struct Setting {
  std::string text;
  std::string origin;  // "--interval" or "--interval (RECONCILE_INTERVAL)"
};

template <typename T>
using Check = std::function<std::optional<std::string>(const T&)>;  // returns why it is invalid

class Resolver {
 public:
  Resolver(const FlagSet& flags, const EnvLookup& env) : flags_(flags), env_(env) {}

  // Flag value, else non-empty environment value, else nullopt (the default applies).
  std::optional<Setting> setting(std::string_view name) const;

  std::string text(std::string_view name, std::string fallback, Check<std::string> check = {});
  Duration duration(std::string_view name, Duration fallback, Check<Duration> check = {});
  double number(std::string_view name, double fallback, Check<double> check = {});
  int64_t integer(std::string_view name, int64_t fallback, Check<int64_t> check = {});
  bool boolean(std::string_view name, bool fallback);
  template <typename E>
  E choice(std::string_view name, E fallback,
           std::initializer_list<std::pair<std::string_view, E>> options);

  // Records "invalid value <text> for <origin>: <why>" unless an error is already recorded.
  void fail(const Setting& setting, std::string_view why);
  // Records a usage error with a message of its own (e.g. a required flag that is missing).
  void fail(std::string message);
  const std::optional<Error>& error() const { return error_; }

 private:
  const FlagSet& flags_;
  const EnvLookup& env_;
  std::optional<Error> error_;
};

template <typename E>
E Resolver::choice(std::string_view name, E fallback,
                   std::initializer_list<std::pair<std::string_view, E>> options) {
  auto s = setting(name);
  if (!s) {
    return fallback;
  }
  std::string wanted;
  for (const auto& [spelling, value] : options) {
    if (s->text == spelling) {
      return value;
    }
    wanted += wanted.empty() ? "" : ", ";
    wanted += spelling;
  }
  fail(*s, "must be one of " + wanted);
  return fallback;
}

// The usage lines of a list of flags (two lines per flag: syntax + help, env + default).
std::string flag_usage(const std::vector<FlagSpec>& specs);

// Checks shared by the modes.
std::optional<std::string> positive_duration(const Duration& d);
std::optional<std::string> non_negative_duration(const Duration& d);
std::optional<std::string> fraction(const double& v);
std::optional<std::string> package_cap_watts(const double& v);
std::optional<std::string> non_negative_watts(const double& v);
std::optional<std::string> listen_address(const std::string& v);
std::optional<std::string> label_key(const std::string& v);

// The defaults of the global flags that differ between the modes.
struct GlobalDefaults {
  std::string_view metrics_addr;
  int64_t list_page_size;
  double kube_qps;
  int64_t kube_burst;
};

// The global flag specs (docs/design.md#command-line-and-exit-codes), with the mode's defaults.
std::vector<FlagSpec> global_flag_specs(const GlobalDefaults& defaults);
// Reads the global flags; errors land in the resolver.
GlobalConfig read_global(Resolver& r, const GlobalDefaults& defaults);

}  // namespace joulie::config::detail
