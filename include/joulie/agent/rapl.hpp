#pragma once
// Host RAPL backend (docs/design.md#rapl-backend): package power limits and energy counters in
// powercap sysfs.
//
// Package zones are class/powercap/intel-rapl:<N> (exactly one colon: intel-rapl:N:M are core,
// uncore and dram sub-zones, never written). intel-rapl-mmio:<N> zones get the same limit. In each
// zone the long-term limit is the constraint named "long_term" (constraint 0 when no
// constraint_K_name files exist).

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "joulie/agent/control.hpp"
#include "joulie/agent/host_files.hpp"
#include "joulie/common/clock.hpp"
#include "joulie/common/result.hpp"

namespace joulie::agent {

struct RaplZone {
  std::string name;           // "intel-rapl:0", "intel-rapl-mmio:0"
  std::filesystem::path dir;  // <root>/class/powercap/<name>
  bool mmio = false;
  int constraint = 0;                    // index K of the long-term constraint
  std::optional<uint64_t> max_power_uw;  // constraint_K_max_power_uw when present and > 0
  std::optional<uint64_t> min_power_uw;  // constraint_K_min_power_uw when present and > 0

  std::filesystem::path limit_file() const;
};

// "intel-rapl:3" → 3 for package zones (mmio=false) or "intel-rapl-mmio:0" (mmio=true); other
// names (sub-zones, garbage) → nullopt.
std::optional<int> package_zone_index(std::string_view name, bool mmio);

// Package and mmio zones under <root>/class/powercap, de-duplicated by real path, packages first
// in index order. No package zone → Errc::unavailable. A package zone without a usable long-term
// constraint is an error (we will not guess which limit to write).
Result<std::vector<RaplZone>> discover_rapl_zones(const std::filesystem::path& root);

// µW to write for `watts`: round(watts × 10⁶), clamped to the constraint's max when known.
struct CapWrite {
  uint64_t microwatts = 0;
  bool clamped = false;
};
CapWrite plan_cap_write(double watts, std::optional<uint64_t> max_power_uw);

class RaplControl final : public ControlProvider {
 public:
  explicit RaplControl(HostFiles& files) : files_(files) {}

  // Refuses (blocked, `refused`, nothing written) a cap below any zone's reported minimum.
  // Writes the long-term limit of every package (and mmio) zone and verifies it by reading back.
  // Any failure puts the zones written in this attempt back to their originals and reports the
  // backend unavailable (permission, read-only, firmware lock, EIO) with the reason.
  ControlOutcome apply_cap(double watts) override;
  ControlOutcome apply_throttle(int pct, std::optional<double> cap_watts) override;
  ControlOutcome restore() override;
  Status available() override;

 private:
  bool is_rapl_path(const std::filesystem::path& path) const;
  HostFiles& files_;
};

// Package power from energy_uj deltas (docs/design.md#rapl-backend). Zones are found in
// class/powercap and devices/virtual/powercap/intel-rapl and de-duplicated by real path; counter
// wrap-around is undone with max_energy_range_uj. The first sample (and any sample after a zone
// appears) is "warming up": power needs two readings.
class RaplEnergyTelemetry final : public TelemetryProvider {
 public:
  struct Zone {
    std::string name;  // "intel-rapl:0"
    uint64_t energy_uj = 0;
    std::optional<double> watts;
  };

  RaplEnergyTelemetry(std::filesystem::path root, const Clock& clock)
      : root_(std::move(root)), clock_(clock) {}

  TelemetrySample sample() override;
  // The last readings per package zone (metrics joulie_rapl_energy_uj / _estimated_power_watts).
  const std::vector<Zone>& zones() const { return zones_; }

 private:
  struct Previous {
    uint64_t energy_uj;
    SteadyTime at;
  };
  std::filesystem::path root_;
  const Clock& clock_;
  std::map<std::string, Previous> previous_;  // by real path
  std::vector<Zone> zones_;
};

}  // namespace joulie::agent
