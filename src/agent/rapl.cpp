#include "joulie/agent/rapl.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>

#include "joulie/agent/sysfs.hpp"

namespace joulie::agent {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kPackagePrefix = "intel-rapl:";
constexpr std::string_view kMmioPrefix = "intel-rapl-mmio:";
// Real hardware has 2–4 constraints per zone; this only bounds the probe.
constexpr int kMaxConstraints = 16;

std::string watts_text(double watts) { return fmt::format("{:g} W", watts); }

Result<int> long_term_constraint(const fs::path& dir) {
  bool any_name = false;
  for (int k = 0; k < kMaxConstraints; ++k) {
    auto name = sysfs::read_trimmed(dir / fmt::format("constraint_{}_name", k));
    if (!name.ok()) {
      continue;
    }
    any_name = true;
    if (*name == "long_term") {
      return k;
    }
  }
  if (any_name) {
    return Error(Errc::unavailable,
                 fmt::format("{}: no constraint named long_term", dir.filename().string()));
  }
  return 0;
}

// Zone directories (name → path) with a given prefix in `dir`, de-duplicated by real path.
struct FoundZone {
  std::string name;
  fs::path path;
  fs::path real;
  int index;
};

std::vector<FoundZone> list_zones(const fs::path& dir, bool mmio, std::set<fs::path>& seen) {
  std::vector<FoundZone> found;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    return found;
  }
  for (const auto& entry : it) {
    std::string name = entry.path().filename().string();
    auto index = package_zone_index(name, mmio);
    if (!index) {
      continue;
    }
    auto real = sysfs::real_path(entry.path());
    if (!real.ok() || !seen.insert(*real).second) {
      continue;
    }
    found.push_back({name, entry.path(), *real, *index});
  }
  std::sort(found.begin(), found.end(),
            [](const FoundZone& a, const FoundZone& b) { return a.index < b.index; });
  return found;
}

}  // namespace

fs::path RaplZone::limit_file() const {
  return dir / fmt::format("constraint_{}_power_limit_uw", constraint);
}

std::optional<int> package_zone_index(std::string_view name, bool mmio) {
  std::string_view prefix = mmio ? kMmioPrefix : kPackagePrefix;
  if (name.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  std::string_view digits = name.substr(prefix.size());
  if (digits.empty() || digits.size() > 6) {
    return std::nullopt;
  }
  int index = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || index < 0) {
    return std::nullopt;  // "intel-rapl:0:1" stops at the second colon and lands here
  }
  return index;
}

Result<std::vector<RaplZone>> discover_rapl_zones(const fs::path& root) {
  fs::path class_dir = root / "class" / "powercap";
  std::set<fs::path> seen;
  auto packages = list_zones(class_dir, false, seen);
  if (packages.empty()) {
    return Error(Errc::unavailable,
                 fmt::format("no RAPL package zones under {}", class_dir.string()));
  }
  auto mmio = list_zones(class_dir, true, seen);
  std::vector<RaplZone> zones;
  for (auto* group : {&packages, &mmio}) {
    for (const auto& found : *group) {
      RaplZone zone;
      zone.name = found.name;
      zone.dir = found.path;
      zone.mmio = group == &mmio;
      auto constraint = long_term_constraint(found.path);
      if (!constraint.ok()) {
        return constraint.error();
      }
      zone.constraint = *constraint;
      auto max =
          sysfs::read_uint(found.path / fmt::format("constraint_{}_max_power_uw", zone.constraint));
      if (max.ok() && *max > 0) {
        zone.max_power_uw = *max;
      }
      auto min =
          sysfs::read_uint(found.path / fmt::format("constraint_{}_min_power_uw", zone.constraint));
      if (min.ok() && *min > 0) {
        zone.min_power_uw = *min;
      }
      zones.push_back(std::move(zone));
    }
  }
  return zones;
}

CapWrite plan_cap_write(double watts, std::optional<uint64_t> max_power_uw) {
  CapWrite plan;
  double uw = std::round(watts * 1e6);
  constexpr double kLimit = static_cast<double>(std::numeric_limits<int64_t>::max());
  plan.microwatts =
      uw <= 0 ? 0 : (uw >= kLimit ? static_cast<uint64_t>(kLimit) : static_cast<uint64_t>(uw));
  if (max_power_uw && *max_power_uw > 0 && plan.microwatts > *max_power_uw) {
    plan.microwatts = *max_power_uw;
    plan.clamped = true;
  }
  return plan;
}

bool RaplControl::is_rapl_path(const fs::path& path) const {
  fs::path rel = path.lexically_normal().lexically_relative(files_.root().lexically_normal());
  auto it = rel.begin();
  if (it == rel.end() || *it != "class") {
    return false;
  }
  if (++it == rel.end() || *it != "powercap") {
    return false;
  }
  return ++it != rel.end() && it->string().rfind("intel-rapl", 0) == 0;
}

Status RaplControl::available() {
  auto zones = discover_rapl_zones(files_.root());
  return zones.ok() ? Status::success() : Status(zones.error());
}

ControlOutcome RaplControl::apply_cap(double watts) {
  ControlOutcome out;
  out.backend = Backend::rapl;
  if (!std::isfinite(watts) || watts <= 0) {
    out.result = ApplyResult::error;
    out.message = "invalid cap: must be a positive number of watts";
    return out;
  }
  auto zones = discover_rapl_zones(files_.root());
  if (!zones.ok()) {
    out.result = ApplyResult::blocked;
    out.unavailable = true;
    out.message = "RAPL unavailable: " + zones.error().message;
    return out;
  }
  // Checked for every zone before any write: a refused cap leaves the host as it is.
  for (const auto& zone : *zones) {
    CapWrite plan = plan_cap_write(watts, zone.max_power_uw);
    if (zone.min_power_uw && plan.microwatts < *zone.min_power_uw) {
      out.result = ApplyResult::blocked;
      out.refused = true;
      out.message = fmt::format(
          "cap {} refused: below {}'s minimum of {} (constraint_{}_min_power_uw); "
          "nothing written",
          watts_text(watts), zone.name, watts_text(static_cast<double>(*zone.min_power_uw) / 1e6),
          zone.constraint);
      return out;
    }
  }
  std::optional<double> effective;
  std::optional<double> package_max;
  std::vector<std::string> clamp_notes;
  for (const auto& zone : *zones) {
    if (!zone.mmio && zone.max_power_uw) {
      const double max_watts = static_cast<double>(*zone.max_power_uw) / 1e6;
      package_max = package_max ? std::min(*package_max, max_watts) : max_watts;
    }
    CapWrite plan = plan_cap_write(watts, zone.max_power_uw);
    fs::path file = zone.limit_file();
    Status written = files_.write(file, std::to_string(plan.microwatts));
    std::string failure;
    if (!written.ok()) {
      failure = written.error().message;
    } else {
      auto back = sysfs::read_uint(file);
      if (!back.ok()) {
        failure = "read back: " + back.error().message;
      } else if (*back != plan.microwatts) {
        failure = fmt::format("{}: wrote {} uW, read back {} uW (limit locked by firmware?)",
                              file.string(), plan.microwatts, *back);
      }
    }
    if (!failure.empty()) {
      // Leave no zone half-capped: put back what this attempt changed.
      (void)files_.restore([this](const fs::path& p) { return is_rapl_path(p); });
      out.result = ApplyResult::error;
      out.unavailable = true;
      out.message = "RAPL unavailable: " + failure;
      return out;
    }
    double zone_watts = static_cast<double>(plan.microwatts) / 1e6;
    if (plan.clamped) {
      clamp_notes.push_back(fmt::format("{} clamped to {}", zone.name, watts_text(zone_watts)));
    }
    if (!zone.mmio) {
      effective = effective ? std::min(*effective, zone_watts) : zone_watts;
    }
  }
  out.result = ApplyResult::applied;
  out.applied_cap_watts = effective;
  out.package_max_watts = package_max;
  out.message = fmt::format("RAPL package cap {} applied", watts_text(watts));
  if (!clamp_notes.empty()) {
    out.message += fmt::format(" ({} by constraint max)", fmt::join(clamp_notes, ", "));
  }
  return out;
}

ControlOutcome RaplControl::apply_throttle(int, std::optional<double>) {
  return {Backend::rapl, ApplyResult::error, "the RAPL backend does not throttle", std::nullopt};
}

ControlOutcome RaplControl::restore() {
  ControlOutcome out;
  out.backend = Backend::rapl;
  Status restored = files_.restore([this](const fs::path& p) { return is_rapl_path(p); });
  if (!restored.ok()) {
    out.result = ApplyResult::error;
    out.message = "restoring RAPL limits failed: " + restored.error().message;
    return out;
  }
  out.result = ApplyResult::applied;
  out.message = "original RAPL limits restored";
  return out;
}

TelemetrySample RaplEnergyTelemetry::sample() {
  TelemetrySample result;
  result.timestamp = clock_.now();
  SteadyTime now = clock_.monotonic();

  std::set<fs::path> seen;
  auto found = list_zones(root_ / "class" / "powercap", false, seen);
  auto devices = list_zones(root_ / "devices" / "virtual" / "powercap" / "intel-rapl", false, seen);
  found.insert(found.end(), devices.begin(), devices.end());

  zones_.clear();
  std::map<std::string, Previous> current;
  double total = 0;
  bool complete = !found.empty();
  std::string reason = found.empty() ? "no RAPL package zones" : "";
  for (const auto& zone : found) {
    auto energy = sysfs::read_uint(zone.path / "energy_uj");
    if (!energy.ok()) {
      complete = false;
      reason = "energy counter unreadable: " + energy.error().message;
      continue;
    }
    Zone reading{zone.name, *energy, std::nullopt};
    auto prev = previous_.find(zone.real.string());
    if (prev != previous_.end() && now > prev->second.at) {
      uint64_t delta = 0;
      bool valid = true;
      if (*energy >= prev->second.energy_uj) {
        delta = *energy - prev->second.energy_uj;
      } else {
        auto range = sysfs::read_uint(zone.path / "max_energy_range_uj");
        if (range.ok() && *range >= prev->second.energy_uj) {
          delta = (*range - prev->second.energy_uj) + *energy;
        } else {
          valid = false;  // a reset, not a wrap: this interval has no usable delta
        }
      }
      if (valid) {
        double seconds = std::chrono::duration<double>(now - prev->second.at).count();
        reading.watts = static_cast<double>(delta) / 1e6 / seconds;
        total += *reading.watts;
      }
    }
    if (!reading.watts) {
      complete = false;
      if (reason.empty()) {
        reason = "warming up (power needs two energy readings)";
      }
    }
    current[zone.real.string()] = {*energy, now};
    zones_.push_back(std::move(reading));
  }
  previous_ = std::move(current);
  result.packages = std::max<int>(1, static_cast<int>(found.size()));
  if (complete) {
    result.watts = total;
  } else {
    result.missing_reason = reason;
  }
  return result;
}

}  // namespace joulie::agent
