#include "flag_set.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cxxopts.hpp>
#include <memory>

#include "joulie/common/http_endpoint.hpp"

namespace joulie::config::detail {
namespace {

Error usage_error(std::string message) { return Error(Errc::invalid_argument, std::move(message)); }

// cxxopts quotes with typographic quotes; our messages use plain ones.
std::string plain_quotes(std::string text) {
  for (std::string_view fancy : {"\u2018", "\u2019"}) {
    for (size_t pos = text.find(fancy); pos != std::string::npos; pos = text.find(fancy)) {
      text.replace(pos, fancy.size(), "\"");
    }
  }
  return text;
}

}  // namespace

FlagSet::FlagSet(std::string command, std::vector<FlagSpec> specs)
    : command_(std::move(command)), specs_(std::move(specs)) {}

const FlagSpec* FlagSet::find(std::string_view name) const {
  for (const auto& spec : specs_) {
    if (spec.name == name) {
      return &spec;
    }
  }
  return nullptr;
}

std::optional<std::string> FlagSet::given(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) {
    return std::nullopt;
  }
  return it->second;
}

Status FlagSet::parse(const std::vector<std::string>& args) {
  // First pass: put every flag in the canonical "--name=value" / "--name" form and reject what
  // cxxopts would report less clearly (unknown flags, stray words, a missing value).
  std::vector<std::string> canonical;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--" || arg.size() < 2 || arg[0] != '-') {
      return usage_error(
          fmt::format("unexpected argument \"{}\" for \"joulie {}\"", arg, command_));
    }
    std::string_view body = std::string_view(arg).substr(arg[1] == '-' ? 2 : 1);
    auto eq = body.find('=');
    std::string name(body.substr(0, eq));
    if (name == "help" || name == "h") {
      help_ = true;
      continue;
    }
    const FlagSpec* spec = find(name);
    if (spec == nullptr) {
      return usage_error(fmt::format("unknown flag --{} for \"joulie {}\"", name, command_));
    }
    if (eq != std::string_view::npos || spec->boolean()) {
      canonical.push_back("--" + std::string(body));
      continue;
    }
    if (i + 1 >= args.size()) {
      return usage_error(fmt::format("flag --{} needs a value", name));
    }
    canonical.push_back(fmt::format("--{}={}", name, args[++i]));
  }

  cxxopts::Options options("joulie " + command_);
  auto adder = options.add_options();
  for (const auto& spec : specs_) {
    if (spec.boolean()) {
      adder(spec.name, spec.help, cxxopts::value<std::string>()->implicit_value("true"));
    } else {
      adder(spec.name, spec.help, cxxopts::value<std::string>());
    }
  }
  std::vector<const char*> argv;
  argv.push_back("joulie");
  for (const auto& token : canonical) {
    argv.push_back(token.c_str());
  }
  try {
    auto result = options.parse(static_cast<int>(argv.size()), argv.data());
    if (!result.unmatched().empty()) {
      return usage_error(fmt::format("unexpected argument \"{}\" for \"joulie {}\"",
                                     result.unmatched().front(), command_));
    }
    for (const auto& spec : specs_) {
      if (result.count(spec.name) > 0) {
        values_[spec.name] = result[spec.name].as<std::string>();
      }
    }
  } catch (const cxxopts::exceptions::exception& e) {
    return usage_error(plain_quotes(e.what()));
  }
  return Status::success();
}

std::string FlagSet::usage() const { return flag_usage(specs_); }

std::string flag_usage(const std::vector<FlagSpec>& specs) {
  constexpr std::size_t kHelpColumn = 36;
  std::string out;
  for (const auto& spec : specs) {
    std::string left = "  --" + spec.name;
    if (!spec.boolean()) {
      left += " " + spec.value_name;
    }
    // A flag name too long for the column gets its help on the next line, never glued to it.
    if (left.size() + 2 > kHelpColumn) {
      out += fmt::format("{}\n{:<{}}{}\n", left, "", kHelpColumn, spec.help);
    } else {
      out += fmt::format("{:<{}}{}\n", left, kHelpColumn, spec.help);
    }
    std::string where = spec.env.empty() ? std::string("no env") : fmt::format("env {}", spec.env);
    out += fmt::format("{:<{}}[{}; default {}]\n", "", kHelpColumn, where, spec.default_text);
  }
  return out;
}

std::optional<Setting> Resolver::setting(std::string_view name) const {
  const FlagSpec* spec = flags_.find(name);
  if (spec == nullptr) {
    return std::nullopt;
  }
  if (auto value = flags_.given(name)) {
    return Setting{*value, "--" + spec->name};
  }
  if (!spec->env.empty() && env_) {
    auto value = env_(spec->env);
    if (value && !value->empty()) {
      return Setting{*value, fmt::format("--{} ({})", spec->name, spec->env)};
    }
  }
  return std::nullopt;
}

void Resolver::fail(const Setting& setting, std::string_view why) {
  if (error_) {
    return;
  }
  error_ = usage_error(
      fmt::format("invalid value \"{}\" for {}: {}", setting.text, setting.origin, why));
}

void Resolver::fail(std::string message) {
  if (!error_) {
    error_ = usage_error(std::move(message));
  }
}

std::string Resolver::text(std::string_view name, std::string fallback, Check<std::string> check) {
  auto s = setting(name);
  if (!s) {
    return fallback;
  }
  if (check) {
    if (auto why = check(s->text)) {
      fail(*s, *why);
      return fallback;
    }
  }
  return s->text;
}

Duration Resolver::duration(std::string_view name, Duration fallback, Check<Duration> check) {
  auto s = setting(name);
  if (!s) {
    return fallback;
  }
  auto parsed = parse_duration(s->text);
  if (!parsed) {
    fail(*s, parsed.error().message);
    return fallback;
  }
  if (check) {
    if (auto why = check(*parsed)) {
      fail(*s, *why);
      return fallback;
    }
  }
  return *parsed;
}

double Resolver::number(std::string_view name, double fallback, Check<double> check) {
  auto s = setting(name);
  if (!s) {
    return fallback;
  }
  double value = 0;
  const char* end = s->text.data() + s->text.size();
  auto [ptr, ec] = std::from_chars(s->text.data(), end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value)) {
    fail(*s, "not a finite number");
    return fallback;
  }
  if (check) {
    if (auto why = check(value)) {
      fail(*s, *why);
      return fallback;
    }
  }
  return value;
}

int64_t Resolver::integer(std::string_view name, int64_t fallback, Check<int64_t> check) {
  auto s = setting(name);
  if (!s) {
    return fallback;
  }
  int64_t value = 0;
  std::string_view text = s->text;
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
  }
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
    fail(*s, ec == std::errc::result_out_of_range ? "out of range" : "not an integer");
    return fallback;
  }
  if (check) {
    if (auto why = check(value)) {
      fail(*s, *why);
      return fallback;
    }
  }
  return value;
}

bool Resolver::boolean(std::string_view name, bool fallback) {
  auto s = setting(name);
  if (!s) {
    return fallback;
  }
  // Go's strconv.ParseBool spellings, which the reference's Helm values use.
  for (std::string_view yes : {"1", "t", "T", "true", "TRUE", "True"}) {
    if (s->text == yes) {
      return true;
    }
  }
  for (std::string_view no : {"0", "f", "F", "false", "FALSE", "False"}) {
    if (s->text == no) {
      return false;
    }
  }
  fail(*s, "not a boolean (want true or false)");
  return fallback;
}

std::optional<std::string> positive_duration(const Duration& d) {
  if (d <= Duration::zero()) {
    return "must be greater than 0";
  }
  return std::nullopt;
}

std::optional<std::string> non_negative_duration(const Duration& d) {
  if (d < Duration::zero()) {
    return "must not be negative";
  }
  return std::nullopt;
}

std::optional<std::string> fraction(const double& v) {
  if (!(v >= 0.0 && v <= 1.0)) {
    return "must be a fraction between 0 and 1";
  }
  return std::nullopt;
}

std::optional<std::string> positive_watts(const double& v) {
  if (!(v > 0.0)) {
    return "must be a power in watts greater than 0";
  }
  return std::nullopt;
}

std::optional<std::string> non_negative_watts(const double& v) {
  if (!(v >= 0.0)) {
    return "must be a power in watts, 0 or more";
  }
  return std::nullopt;
}

std::optional<std::string> listen_address(const std::string& v) {
  auto parsed = parse_listen_address(v);
  if (!parsed) {
    return parsed.error().message;
  }
  return std::nullopt;
}

std::optional<std::string> label_key(const std::string& v) {
  // Kubernetes: optional DNS-subdomain prefix and '/', then a name of 1-63 characters,
  // alphanumeric at both ends with '-', '_' or '.' inside.
  std::string_view key = v;
  auto slash = key.find('/');
  std::string_view name = key;
  if (slash != std::string_view::npos) {
    std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (prefix.empty() || prefix.size() > 253) {
      return "invalid label key: the prefix must be 1-253 characters";
    }
    for (char c : prefix) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) {
        return "invalid label key: the prefix must be a lowercase DNS subdomain";
      }
    }
  }
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (name.empty() || name.size() > 63 || !alnum(name.front()) || !alnum(name.back())) {
    return "invalid label key: the name must be 1-63 characters, alphanumeric at both ends";
  }
  for (char c : name) {
    if (!alnum(c) && c != '-' && c != '_' && c != '.') {
      return "invalid label key: the name may only hold alphanumerics, '-', '_' and '.'";
    }
  }
  return std::nullopt;
}

}  // namespace joulie::config::detail
