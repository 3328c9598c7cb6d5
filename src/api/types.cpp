#include "joulie/api/types.hpp"

#include <fmt/format.h>

#include <array>
#include <utility>

#include "joulie/api/names.hpp"

namespace joulie::api {
namespace {

template <typename E, std::size_t N>
using Names = std::array<std::pair<E, std::string_view>, N>;

constexpr Names<Profile, 2> kProfiles{
    {{Profile::performance, kProfilePerformance}, {Profile::eco, kProfileEco}}};
constexpr Names<Backend, 3> kBackends{
    {{Backend::none, "none"}, {Backend::rapl, "rapl"}, {Backend::dvfs, "dvfs"}}};
constexpr Names<ApplyResult, 4> kResults{{{ApplyResult::none, "none"},
                                          {ApplyResult::applied, "applied"},
                                          {ApplyResult::blocked, "blocked"},
                                          {ApplyResult::error, "error"}}};
constexpr Names<TargetScope, 2> kScopes{
    {{TargetScope::node, "node"}, {TargetScope::cluster, "cluster"}}};
constexpr Names<SourceType, 4> kSourceTypes{{{SourceType::none, "none"},
                                             {SourceType::host, "host"},
                                             {SourceType::http, "http"},
                                             {SourceType::prometheus, "prometheus"}}};
constexpr Names<ControlType, 3> kControlTypes{
    {{ControlType::none, "none"}, {ControlType::host, "host"}, {ControlType::http, "http"}}};
constexpr Names<CpuControlMode, 3> kCpuModes{{{CpuControlMode::automatic, "auto"},
                                              {CpuControlMode::rapl, "rapl"},
                                              {CpuControlMode::dvfs, "dvfs"}}};
constexpr Names<GpuControlMode, 3> kGpuModes{{{GpuControlMode::automatic, "auto"},
                                              {GpuControlMode::powercap, "powercap"},
                                              {GpuControlMode::clocks, "clocks"}}};

template <typename E, std::size_t N>
std::string_view name_of(const Names<E, N>& names, E value) {
  for (const auto& [v, name] : names) {
    if (v == value) {
      return name;
    }
  }
  return "unknown";  // unreachable for valid enumerators
}

template <typename E, std::size_t N>
Result<E> parse_named(const Names<E, N>& names, std::string_view what, std::string_view text) {
  std::string accepted;
  for (const auto& [v, name] : names) {
    if (name == text) {
      return v;
    }
    accepted += accepted.empty() ? "" : "|";
    accepted += name;
  }
  return Error(Errc::invalid, fmt::format("unknown {} \"{}\" (want {})", what, text, accepted));
}

}  // namespace

std::string_view to_string(Profile v) { return name_of(kProfiles, v); }
std::string_view to_string(Backend v) { return name_of(kBackends, v); }
std::string_view to_string(ApplyResult v) { return name_of(kResults, v); }
std::string_view to_string(TargetScope v) { return name_of(kScopes, v); }
std::string_view to_string(SourceType v) { return name_of(kSourceTypes, v); }
std::string_view to_string(ControlType v) { return name_of(kControlTypes, v); }
std::string_view to_string(CpuControlMode v) { return name_of(kCpuModes, v); }
std::string_view to_string(GpuControlMode v) { return name_of(kGpuModes, v); }

Result<Profile> parse_profile(std::string_view t) { return parse_named(kProfiles, "profile", t); }
Result<Backend> parse_backend(std::string_view t) { return parse_named(kBackends, "backend", t); }
Result<ApplyResult> parse_apply_result(std::string_view t) {
  return parse_named(kResults, "result", t);
}
Result<TargetScope> parse_target_scope(std::string_view t) {
  return parse_named(kScopes, "scope", t);
}
Result<SourceType> parse_source_type(std::string_view t) {
  return parse_named(kSourceTypes, "source type", t);
}
Result<ControlType> parse_control_type(std::string_view t) {
  return parse_named(kControlTypes, "control type", t);
}
Result<CpuControlMode> parse_cpu_control_mode(std::string_view t) {
  return parse_named(kCpuModes, "cpu control mode", t);
}
Result<GpuControlMode> parse_gpu_control_mode(std::string_view t) {
  return parse_named(kGpuModes, "gpu control mode", t);
}

bool ObjectMeta::managed_by_operator() const {
  const auto it = labels.find(kManagedByLabel);
  return it != labels.end() && it->second == kManagedByOperator;
}

const Condition* NodePowerProfileStatus::applied_condition() const {
  for (const auto& c : conditions) {
    if (c.type == kConditionApplied) {
      return &c;
    }
  }
  return nullptr;
}

}  // namespace joulie::api
