#include <catch2/catch.hpp>

#include "fake_sysfs.hpp"
#include "joulie/agent/rapl.hpp"

using joulie::Errc;
using joulie::ManualClock;
using joulie::test::FakeSysfs;
using joulie::test::TempDir;
using namespace joulie::agent;
using namespace std::chrono_literals;

namespace {

// Firmware that accepts writes to one file but keeps its value (a locked limit on some BIOSes).
class IgnoringFirmware final : public HostFiles {
 public:
  IgnoringFirmware(std::filesystem::path root, std::shared_ptr<FailSafeRecord> record,
                   std::filesystem::path ignored)
      : HostFiles(std::move(root), std::move(record)), ignored_(std::move(ignored)) {}

 protected:
  joulie::Status write_raw(const std::filesystem::path& path, std::string_view content) override {
    if (path == ignored_) {
      return joulie::Status::success();
    }
    return HostFiles::write_raw(path, content);
  }

 private:
  std::filesystem::path ignored_;
};

struct Host {
  FakeSysfs tree;
  TempDir state;
  std::shared_ptr<FailSafeRecord> record =
      std::make_shared<FailSafeRecord>(tree.root(), state.path(), "node-a");
};

}  // namespace

TEST_CASE("package zone names have exactly one colon") {
  CHECK(package_zone_index("intel-rapl:0", false) == 0);
  CHECK(package_zone_index("intel-rapl:12", false) == 12);
  CHECK(package_zone_index("intel-rapl-mmio:0", true) == 0);
  for (const char* other : {"intel-rapl:0:0", "intel-rapl:", "intel-rapl:x", "intel-rapl",
                            "intel-rapl-mmio:0", "intel-rapl:-1", "intel-rapl:1a"}) {
    INFO(other);
    CHECK_FALSE(package_zone_index(other, false).has_value());
  }
  CHECK_FALSE(package_zone_index("intel-rapl:0", true).has_value());
}

TEST_CASE("discovery finds packages and mmio zones, never sub-zones") {
  FakeSysfs tree;
  tree.add_rapl_package(1);
  tree.add_rapl_package(0);
  FakeSysfs::RaplOptions mmio;
  mmio.named_constraints = false;
  tree.add_rapl_mmio(0, mmio);
  auto zones = discover_rapl_zones(tree.root());
  REQUIRE(zones.ok());
  REQUIRE(zones->size() == 3);
  CHECK((*zones)[0].name == "intel-rapl:0");
  CHECK((*zones)[1].name == "intel-rapl:1");
  CHECK((*zones)[2].name == "intel-rapl-mmio:0");
  CHECK((*zones)[2].mmio);
  CHECK((*zones)[0].max_power_uw == 250000000u);
}

TEST_CASE("the long-term constraint is found by name, else constraint 0") {
  FakeSysfs tree;
  FakeSysfs::RaplOptions second;
  second.long_term_second = true;
  tree.add_rapl_package(0, second);
  FakeSysfs::RaplOptions unnamed;
  unnamed.named_constraints = false;
  tree.add_rapl_package(1, unnamed);
  auto zones = discover_rapl_zones(tree.root());
  REQUIRE(zones.ok());
  CHECK((*zones)[0].constraint == 1);
  CHECK((*zones)[1].constraint == 0);

  tree.write("class/powercap/intel-rapl:1/constraint_0_name", "short_term\n");
  auto no_long_term = discover_rapl_zones(tree.root());
  REQUIRE_FALSE(no_long_term.ok());
  CHECK(no_long_term.error().message.find("long_term") != std::string::npos);
}

TEST_CASE("no RAPL zones is 'unavailable'") {
  FakeSysfs tree;
  CHECK(discover_rapl_zones(tree.root()).code() == Errc::unavailable);
  Host host;
  HostFiles files(host.tree.root(), host.record);
  RaplControl rapl(files);
  auto out = rapl.apply_cap(100);
  CHECK(out.backend == Backend::rapl);
  CHECK(out.result == ApplyResult::blocked);
  CHECK(out.unavailable);
  CHECK(out.message.find("no RAPL package zones") != std::string::npos);
}

TEST_CASE("cap µW are rounded and clamped to the constraint max") {
  CHECK(plan_cap_write(150, std::nullopt).microwatts == 150000000u);
  CHECK(plan_cap_write(0.0000005, std::nullopt).microwatts == 1u);
  CHECK(plan_cap_write(99.9999994, std::nullopt).microwatts == 99999999u);
  auto clamped = plan_cap_write(300, 250000000);
  CHECK(clamped.microwatts == 250000000u);
  CHECK(clamped.clamped);
  CHECK_FALSE(plan_cap_write(250, 250000000).clamped);
  CHECK_FALSE(plan_cap_write(300, 0).clamped);
}

TEST_CASE("apply_cap writes the long-term limit of every package and mmio zone") {
  Host host;
  FakeSysfs::RaplOptions second;
  second.long_term_second = true;
  host.tree.add_rapl_package(0);
  host.tree.add_rapl_package(1, second);
  host.tree.add_rapl_mmio(0, FakeSysfs::RaplOptions{});
  HostFiles files(host.tree.root(), host.record);
  RaplControl rapl(files);

  auto out = rapl.apply_cap(150);
  REQUIRE(out.result == ApplyResult::applied);
  CHECK(out.backend == Backend::rapl);
  CHECK(out.applied_cap_watts == 150.0);
  CHECK(out.message == "RAPL package cap 150 W applied");
  CHECK(host.tree.read_number(host.tree.rapl_limit_file(0)) == 150000000u);
  CHECK(host.tree.read_number(host.tree.rapl_limit_file(1, 1)) == 150000000u);
  CHECK(host.tree.read_number(host.tree.rapl_limit_file(1, 0)) == 250000000u);  // short term
  CHECK(host.tree.read_number("class/powercap/intel-rapl-mmio:0/constraint_0_power_limit_uw") ==
        150000000u);
  // Sub-zones are never touched.
  CHECK(host.tree.read_number("class/powercap/intel-rapl:0:0/constraint_0_power_limit_uw") == 0u);

  REQUIRE(rapl.restore().ok());
  CHECK(host.tree.read(host.tree.rapl_limit_file(0)) == "200000000\n");
  CHECK(host.tree.read(host.tree.rapl_limit_file(1, 1)) == "200000000\n");
  CHECK(host.record->entries().empty());
}

TEST_CASE("a cap above the constraint max is clamped and says so") {
  Host host;
  host.tree.add_rapl_package(0);
  HostFiles files(host.tree.root(), host.record);
  RaplControl rapl(files);
  auto out = rapl.apply_cap(400);
  REQUIRE(out.ok());
  CHECK(host.tree.read_number(host.tree.rapl_limit_file(0)) == 250000000u);
  CHECK(out.applied_cap_watts == 250.0);
  CHECK(out.message.find("clamped to 250 W") != std::string::npos);
}

TEST_CASE("apply_cap reports the smallest package maximum (hardware-class fractions use it)") {
  Host host;
  FakeSysfs::RaplOptions big;
  big.max_power_uw = 420000000;
  FakeSysfs::RaplOptions small;
  small.max_power_uw = 230000000;
  host.tree.add_rapl_package(0, big);
  host.tree.add_rapl_package(1, small);
  HostFiles files(host.tree.root(), host.record);
  RaplControl rapl(files);
  auto out = rapl.apply_cap(150);
  REQUIRE(out.ok());
  CHECK(out.package_max_watts == 230.0);

  // No constraint max file: unknown, not zero.
  Host bare;
  FakeSysfs::RaplOptions none;
  none.max_power_uw = 0;
  bare.tree.add_rapl_package(0, none);
  HostFiles bare_files(bare.tree.root(), bare.record);
  RaplControl bare_rapl(bare_files);
  auto unknown = bare_rapl.apply_cap(150);
  REQUIRE(unknown.ok());
  CHECK_FALSE(unknown.package_max_watts);
}

TEST_CASE("a cap below any zone's reported minimum is refused before anything is written") {
  Host host;
  host.tree.add_rapl_package(0);
  host.tree.add_rapl_package(1);
  host.tree.write("class/powercap/intel-rapl:1/constraint_0_min_power_uw", "50000000\n");
  HostFiles files(host.tree.root(), host.record);
  RaplControl rapl(files);
  auto out = rapl.apply_cap(40);
  CHECK(out.result == ApplyResult::blocked);
  CHECK(out.refused);
  CHECK_FALSE(out.unavailable);
  CHECK_THAT(out.message, Catch::Contains("below intel-rapl:1's minimum of 50 W"));
  CHECK(host.tree.read(host.tree.rapl_limit_file(0)) == "200000000\n");  // zone 0 untouched too
  CHECK(host.record->entries().empty());
  REQUIRE(rapl.apply_cap(50).ok());  // at the minimum is fine
  CHECK(host.tree.read_number(host.tree.rapl_limit_file(1)) == 50000000u);
}

TEST_CASE("an unwritable limit makes RAPL unavailable and leaves every zone as it was") {
  Host host;
  host.tree.add_rapl_package(0);
  host.tree.add_rapl_package(1);
  host.tree.lock(host.tree.rapl_limit_file(1));
  HostFiles files(host.tree.root(), host.record);
  RaplControl rapl(files);
  auto out = rapl.apply_cap(120);
  CHECK(out.result == ApplyResult::error);
  CHECK(out.unavailable);
  CHECK(out.message.find("RAPL unavailable") != std::string::npos);
  CHECK(out.message.find("intel-rapl:1") != std::string::npos);
  // Package 0 was written first, then put back.
  CHECK(host.tree.read(host.tree.rapl_limit_file(0)) == "200000000\n");
  CHECK(host.tree.read(host.tree.rapl_limit_file(1)) == "200000000\n");
  CHECK(host.record->entries().empty());
}

TEST_CASE("a limit that does not read back (firmware lock) makes RAPL unavailable") {
  Host host;
  host.tree.add_rapl_package(0);
  IgnoringFirmware files(host.tree.root(), host.record,
                         host.tree.path(host.tree.rapl_limit_file(0)));
  RaplControl rapl(files);
  auto out = rapl.apply_cap(120);
  CHECK(out.result == ApplyResult::error);
  CHECK(out.unavailable);
  CHECK(out.message.find("read back 200000000") != std::string::npos);
  CHECK(out.message.find("locked") != std::string::npos);
}

TEST_CASE("garbage in a limit file is a clear error, not a crash") {
  Host host;
  host.tree.add_rapl_package(0);
  HostFiles files(host.tree.root(), host.record);
  RaplControl rapl(files);
  host.tree.write("class/powercap/intel-rapl:0/constraint_0_max_power_uw", "lots\n");
  auto out = rapl.apply_cap(100);  // unreadable max: no clamp, cap still applied
  REQUIRE(out.ok());
  CHECK(host.tree.read_number(host.tree.rapl_limit_file(0)) == 100000000u);
  CHECK(rapl.apply_cap(-5).result == ApplyResult::error);
  CHECK(rapl.apply_cap(std::nan("")).result == ApplyResult::error);
}

TEST_CASE("package power is the energy delta over time, summed over de-duplicated packages") {
  FakeSysfs tree;
  tree.add_rapl_package(0);
  tree.add_rapl_package(1);
  ManualClock clock;
  RaplEnergyTelemetry energy(tree.root(), clock);

  auto first = energy.sample();
  CHECK_FALSE(first.watts.has_value());
  CHECK(first.missing_reason.find("warming up") != std::string::npos);
  REQUIRE(energy.zones().size() == 2);  // class and devices trees name the same two zones

  clock.advance(2s);
  tree.write(tree.rapl_energy_file(0), "201000000\n");  // +200 J in 2 s = 100 W
  tree.write(tree.rapl_energy_file(1), "101000000\n");  // +100 J in 2 s = 50 W
  auto second = energy.sample();
  REQUIRE(second.watts.has_value());
  CHECK(*second.watts == Approx(150.0));
  CHECK(second.packages == 2);
  CHECK(second.timestamp == clock.now());
  CHECK(*energy.zones()[0].watts == Approx(100.0));
  CHECK(energy.zones()[1].energy_uj == 101000000u);
}

TEST_CASE("energy counter wrap-around uses max_energy_range_uj") {
  FakeSysfs tree;
  FakeSysfs::RaplOptions near_top;
  near_top.max_energy_range_uj = 1000000000;
  near_top.energy_uj = 990000000;
  tree.add_rapl_package(0, near_top);
  ManualClock clock;
  RaplEnergyTelemetry energy(tree.root(), clock);
  (void)energy.sample();
  clock.advance(1s);
  tree.write(tree.rapl_energy_file(0), "30000000\n");  // wrapped: 10 J + 30 J
  auto sample = energy.sample();
  REQUIRE(sample.watts.has_value());
  CHECK(*sample.watts == Approx(40.0));
}

TEST_CASE("unreadable energy makes the sample missing with a reason") {
  FakeSysfs tree;
  ManualClock clock;
  RaplEnergyTelemetry none(tree.root(), clock);
  CHECK(none.sample().missing_reason == "no RAPL package zones");

  tree.add_rapl_package(0);
  RaplEnergyTelemetry energy(tree.root(), clock);
  (void)energy.sample();
  clock.advance(1s);
  tree.write(tree.rapl_energy_file(0), "garbage");
  auto sample = energy.sample();
  CHECK_FALSE(sample.watts.has_value());
  CHECK(sample.missing_reason.find("energy counter unreadable") != std::string::npos);
}
