#include "joulie/agent/cpufreq.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "joulie/agent/sysfs.hpp"

namespace joulie::agent {
namespace fs = std::filesystem;

namespace {

std::optional<int> numbered(std::string_view name, std::string_view prefix) {
  if (name.substr(0, prefix.size()) != prefix || name.size() == prefix.size() ||
      name.size() > prefix.size() + 6) {
    return std::nullopt;
  }
  int value = 0;
  for (char c : name.substr(prefix.size())) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + (c - '0');
  }
  return value;
}

// Directories named <prefix><N> under `dir`, sorted by N.
std::vector<std::pair<int, fs::path>> numbered_dirs(const fs::path& dir, std::string_view prefix) {
  std::vector<std::pair<int, fs::path>> found;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    return found;
  }
  for (const auto& entry : it) {
    if (auto n = numbered(entry.path().filename().string(), prefix)) {
      found.emplace_back(*n, entry.path());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::istringstream in{std::string(text)};
  std::string word;
  while (in >> word) {
    words.push_back(word);
  }
  return words;
}

Result<CpufreqPolicy> read_policy(std::string name, const fs::path& dir, int index) {
  CpufreqPolicy policy;
  policy.name = std::move(name);
  policy.dir = dir;
  auto min = sysfs::read_uint(dir / "cpuinfo_min_freq");
  if (!min.ok()) {
    return min.error();
  }
  auto max = sysfs::read_uint(dir / "cpuinfo_max_freq");
  if (!max.ok()) {
    return max.error();
  }
  if (*max == 0 || *min > *max) {
    return Error(Errc::parse, fmt::format("{}: cpuinfo_min_freq {} above cpuinfo_max_freq {}",
                                          dir.string(), *min, *max));
  }
  policy.cpuinfo_min_khz = *min;
  policy.cpuinfo_max_khz = *max;
  if (auto available = sysfs::read_file(dir / "scaling_available_frequencies"); available.ok()) {
    for (const auto& word : split_words(*available)) {
      auto khz = sysfs::parse_uint(word, (dir / "scaling_available_frequencies").string());
      if (!khz.ok()) {
        return khz.error();
      }
      policy.available_khz.push_back(*khz);
    }
    std::sort(policy.available_khz.begin(), policy.available_khz.end());
  }
  if (auto cpus = sysfs::read_file(dir / "affected_cpus"); cpus.ok()) {
    policy.cpus = split_words(*cpus);
  }
  if (policy.cpus.empty()) {
    policy.cpus.push_back(std::to_string(index));
  }
  return policy;
}

}  // namespace

Result<std::vector<CpufreqPolicy>> discover_cpufreq_policies(const fs::path& root) {
  fs::path cpu_dir = root / "devices" / "system" / "cpu";
  std::set<fs::path> seen;
  std::vector<CpufreqPolicy> policies;
  auto add = [&](std::string name, const fs::path& dir, int index) -> Status {
    auto real = sysfs::real_path(dir);
    if (!real.ok() || !seen.insert(*real).second) {
      return Status::success();
    }
    auto policy = read_policy(std::move(name), dir, index);
    if (!policy.ok()) {
      return policy.error();
    }
    policies.push_back(std::move(*policy));
    return Status::success();
  };
  for (const auto& [index, dir] : numbered_dirs(cpu_dir / "cpufreq", "policy")) {
    if (Status added = add(dir.filename().string(), dir, index); !added.ok()) {
      return added.error();
    }
  }
  if (policies.empty()) {
    for (const auto& [index, dir] : numbered_dirs(cpu_dir, "cpu")) {
      std::error_code ec;
      if (!fs::is_directory(dir / "cpufreq", ec)) {
        continue;
      }
      if (Status added = add(fmt::format("cpu{}", index), dir / "cpufreq", index); !added.ok()) {
        return added.error();
      }
    }
  }
  if (policies.empty()) {
    return Error(Errc::unavailable, fmt::format("no cpufreq policies under {}", cpu_dir.string()));
  }
  return policies;
}

uint64_t throttle_target_khz(const CpufreqPolicy& policy, int pct, uint64_t min_freq_option_khz) {
  pct = std::clamp(pct, 0, 100);
  uint64_t max = policy.cpuinfo_max_khz;
  uint64_t floor = std::clamp(min_freq_option_khz, std::min(policy.cpuinfo_min_khz, max), max);
  // Integer arithmetic: exact at p=0 (max) and p=100 (floor).
  uint64_t target = max - (max - floor) * static_cast<uint64_t>(pct) / 100;
  if (policy.available_khz.empty()) {
    return target;
  }
  std::optional<uint64_t> best;
  for (uint64_t khz : policy.available_khz) {
    if (khz >= floor && khz <= target) {
      best = khz;  // ascending: the last match is the largest
    }
  }
  if (best) {
    return *best;
  }
  // No listed frequency in [floor, target]: the nearest one above the target, else the target.
  for (uint64_t khz : policy.available_khz) {
    if (khz >= target) {
      return khz;
    }
  }
  return target;
}

bool DvfsControl::is_cpufreq_path(const fs::path& path) const {
  fs::path rel = path.lexically_normal().lexically_relative(files_.root().lexically_normal());
  return rel.generic_string().rfind("devices/system/cpu/", 0) == 0;
}

Status DvfsControl::available() {
  auto policies = discover_cpufreq_policies(files_.root());
  return policies.ok() ? Status::success() : Status(policies.error());
}

ControlOutcome DvfsControl::apply_cap(double) {
  return {Backend::dvfs, ApplyResult::error, "the DVFS backend applies throttle levels, not caps",
          std::nullopt};
}

ControlOutcome DvfsControl::apply_throttle(int pct, std::optional<double> cap_watts) {
  ControlOutcome out;
  out.backend = Backend::dvfs;
  out.applied_cap_watts = cap_watts;
  auto policies = discover_cpufreq_policies(files_.root());
  if (!policies.ok()) {
    out.result = policies.code() == Errc::unavailable ? ApplyResult::blocked : ApplyResult::error;
    out.unavailable = true;
    out.message = "DVFS unavailable: " + policies.error().message;
    return out;
  }
  for (const auto& policy : *policies) {
    uint64_t target = throttle_target_khz(policy, pct, min_freq_option_khz_);
    fs::path file = policy.dir / "scaling_max_freq";
    std::string failure;
    if (Status written = files_.write(file, std::to_string(target)); !written.ok()) {
      failure = written.error().message;
    } else if (auto back = sysfs::read_uint(file); !back.ok()) {
      failure = "read back: " + back.error().message;
    } else if (*back > target) {
      failure = fmt::format("{}: wrote {} kHz, read back {} kHz", file.string(), target, *back);
    }
    if (!failure.empty()) {
      out.result = ApplyResult::error;
      out.unavailable = true;
      out.message = "DVFS write failed: " + failure;
      return out;
    }
  }
  out.result = ApplyResult::applied;
  out.message = fmt::format("DVFS throttle {}% applied", std::clamp(pct, 0, 100));
  return out;
}

ControlOutcome DvfsControl::restore() {
  ControlOutcome out;
  out.backend = Backend::dvfs;
  Status restored = files_.restore([this](const fs::path& p) { return is_cpufreq_path(p); });
  if (!restored.ok()) {
    out.result = ApplyResult::error;
    out.message = "restoring cpufreq limits failed: " + restored.error().message;
    return out;
  }
  out.result = ApplyResult::applied;
  out.message = "original cpufreq limits restored";
  return out;
}

std::optional<int> DvfsControl::throttle_in_force() const {
  FailSafeRecord* record = files_.record();
  auto policies = discover_cpufreq_policies(files_.root());
  if (record == nullptr || !policies.ok()) {
    return std::nullopt;
  }
  std::optional<int> level;
  for (const auto& policy : *policies) {
    fs::path file = policy.dir / "scaling_max_freq";
    auto current = sysfs::read_uint(file);
    if (!record->recorded(file) || !current.ok() || *current >= policy.cpuinfo_max_khz) {
      continue;
    }
    int pct = 0;
    while (pct < 100 && throttle_target_khz(policy, pct, min_freq_option_khz_) > *current) {
      ++pct;
    }
    level = std::max(level.value_or(0), pct);
  }
  return level;
}

std::vector<CpuFrequency> DvfsControl::frequencies() const {
  std::vector<CpuFrequency> result;
  auto policies = discover_cpufreq_policies(files_.root());
  if (!policies.ok()) {
    return result;
  }
  for (const auto& policy : *policies) {
    auto cur = sysfs::read_uint(policy.dir / "scaling_cur_freq");
    auto max = sysfs::read_uint(policy.dir / "scaling_max_freq");
    for (const auto& cpu : policy.cpus) {
      CpuFrequency f;
      f.cpu = cpu;
      if (cur.ok()) {
        f.cur_khz = *cur;
      }
      if (max.ok()) {
        f.max_khz = *max;
      }
      result.push_back(std::move(f));
    }
  }
  return result;
}

}  // namespace joulie::agent
