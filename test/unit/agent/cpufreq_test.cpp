#include <catch2/catch.hpp>

#include "fake_sysfs.hpp"
#include "joulie/agent/cpufreq.hpp"

using joulie::Errc;
using joulie::test::FakeSysfs;
using joulie::test::TempDir;
using namespace joulie::agent;

namespace {

CpufreqPolicy policy(uint64_t min, uint64_t max, std::vector<uint64_t> available = {}) {
  CpufreqPolicy p;
  p.name = "policy0";
  p.cpuinfo_min_khz = min;
  p.cpuinfo_max_khz = max;
  p.available_khz = std::move(available);
  return p;
}

}  // namespace

TEST_CASE("throttle maps linearly from max to the floor") {
  auto p = policy(800000, 3000000);
  // floor = clamp(1.5 GHz option, cpuinfo_min, max) = 1.5 GHz
  CHECK(throttle_target_khz(p, 0, 1500000) == 3000000);
  CHECK(throttle_target_khz(p, 100, 1500000) == 1500000);
  CHECK(throttle_target_khz(p, 50, 1500000) == 2250000);
  CHECK(throttle_target_khz(p, 10, 1500000) == 2850000);
  // The option below cpuinfo_min: the floor is cpuinfo_min.
  CHECK(throttle_target_khz(p, 100, 100000) == 800000);
  // The option above max: the floor is max, nothing to throttle.
  CHECK(throttle_target_khz(p, 100, 5000000) == 3000000);
  // Out-of-range levels are clamped.
  CHECK(throttle_target_khz(p, 150, 1500000) == 1500000);
  CHECK(throttle_target_khz(p, -3, 1500000) == 3000000);
}

TEST_CASE("targets round down to an available frequency not below the floor") {
  auto p = policy(800000, 3000000, {3000000, 2400000, 2000000, 1600000, 1200000, 800000});
  std::sort(p.available_khz.begin(), p.available_khz.end());
  CHECK(throttle_target_khz(p, 0, 1500000) == 3000000);
  CHECK(throttle_target_khz(p, 10, 1500000) == 2400000);   // 2.85 GHz → 2.4
  CHECK(throttle_target_khz(p, 50, 1500000) == 2000000);   // 2.25 GHz → 2.0
  CHECK(throttle_target_khz(p, 100, 1500000) == 1600000);  // 1.5 GHz: 1.2 is below the floor
  auto sparse = policy(800000, 3000000, {800000, 3000000});
  // Nothing in [floor, target]: the nearest listed frequency above the target.
  CHECK(throttle_target_khz(sparse, 50, 1500000) == 3000000);
}

TEST_CASE("policies are found and de-duplicated; the per-CPU layout is the fallback") {
  FakeSysfs tree;
  tree.add_cpufreq_policy(0, FakeSysfs::PolicyOptions{800000, 3000000, {}, {0, 1}});
  tree.add_cpufreq_policy(2);
  auto found = discover_cpufreq_policies(tree.root());
  REQUIRE(found.ok());
  REQUIRE(found->size() == 2);
  CHECK((*found)[0].name == "policy0");
  CHECK((*found)[0].cpus == std::vector<std::string>{"0", "1"});

  FakeSysfs old;
  old.add_cpufreq_policy(0, FakeSysfs::PolicyOptions{}, true);
  old.add_cpufreq_policy(1, FakeSysfs::PolicyOptions{}, true);
  auto fallback = discover_cpufreq_policies(old.root());
  REQUIRE(fallback.ok());
  CHECK(fallback->size() == 2);
  CHECK((*fallback)[1].name == "cpu1");

  FakeSysfs empty;
  CHECK(discover_cpufreq_policies(empty.root()).code() == Errc::unavailable);
}

TEST_CASE("inconsistent or garbage cpufreq limits are errors naming the file") {
  FakeSysfs tree;
  tree.add_cpufreq_policy(0);
  tree.write(tree.policy_file(0, "cpuinfo_max_freq"), "fast\n");
  auto bad = discover_cpufreq_policies(tree.root());
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("cpuinfo_max_freq") != std::string::npos);
  tree.write(tree.policy_file(0, "cpuinfo_max_freq"), "500000\n");  // below min
  CHECK_FALSE(discover_cpufreq_policies(tree.root()).ok());
}

TEST_CASE("apply_throttle caps scaling_max_freq of every policy and restore puts it back") {
  FakeSysfs tree;
  TempDir state;
  tree.add_cpufreq_policy(0);
  tree.add_cpufreq_policy(1, FakeSysfs::PolicyOptions{800000, 2000000, {}, {}});
  auto record = std::make_shared<FailSafeRecord>(tree.root(), state.path(), "n");
  HostFiles files(tree.root(), record);
  DvfsControl dvfs(files, 1500000);

  auto out = dvfs.apply_throttle(40, 120.0);
  REQUIRE(out.ok());
  CHECK(out.backend == Backend::dvfs);
  CHECK(out.message == "DVFS throttle 40% applied");
  CHECK(tree.read_number(tree.policy_file(0, "scaling_max_freq")) == 2400000);
  CHECK(tree.read_number(tree.policy_file(1, "scaling_max_freq")) == 1800000);
  // Untouched: min and cpuinfo files.
  CHECK(tree.read_number(tree.policy_file(0, "scaling_min_freq")) == 800000);

  auto freqs = dvfs.frequencies();
  REQUIRE(freqs.size() == 2);
  CHECK(freqs[0].cpu == "0");
  CHECK(freqs[0].max_khz == 2400000u);
  CHECK(freqs[0].cur_khz == 3000000u);

  REQUIRE(dvfs.apply_throttle(0, std::nullopt).ok());
  CHECK(tree.read_number(tree.policy_file(0, "scaling_max_freq")) == 3000000);

  tree.write(tree.policy_file(0, "scaling_max_freq"), "2222222\n");  // someone else's change
  REQUIRE(dvfs.restore().ok());
  CHECK(tree.read(tree.policy_file(0, "scaling_max_freq")) == "3000000\n");  // our original
  CHECK(record->entries().empty());
}

TEST_CASE("the throttle an earlier agent left is read back from the host") {
  FakeSysfs tree;
  TempDir state;
  tree.add_cpufreq_policy(0);
  tree.add_cpufreq_policy(1);
  {
    auto first = std::make_shared<FailSafeRecord>(tree.root(), state.path(), "n");
    HostFiles files(tree.root(), first);
    DvfsControl dvfs(files, 1500000);
    CHECK_FALSE(dvfs.throttle_in_force().has_value());  // nothing written yet
    REQUIRE(dvfs.apply_throttle(60, 120.0).ok());
    // The agent dies here.
  }
  auto second = std::make_shared<FailSafeRecord>(tree.root(), state.path(), "n");
  REQUIRE(second->load().ok());
  HostFiles files(tree.root(), second);
  DvfsControl dvfs(files, 1500000);
  CHECK(dvfs.throttle_in_force() == 60);
  // Someone else's lower frequency on a file we never wrote is not ours to resume.
  FakeSysfs other;
  TempDir other_state;
  other.add_cpufreq_policy(0);
  other.write(other.policy_file(0, "scaling_max_freq"), "2000000\n");
  auto empty = std::make_shared<FailSafeRecord>(other.root(), other_state.path(), "n");
  HostFiles other_files(other.root(), empty);
  CHECK_FALSE(DvfsControl(other_files, 1500000).throttle_in_force().has_value());
}

TEST_CASE("DVFS write failures and missing cpufreq are reported, not thrown") {
  FakeSysfs tree;
  TempDir state;
  auto record = std::make_shared<FailSafeRecord>(tree.root(), state.path(), "n");
  HostFiles files(tree.root(), record);
  DvfsControl dvfs(files, 1500000);
  auto none = dvfs.apply_throttle(10, std::nullopt);
  CHECK(none.result == ApplyResult::blocked);
  CHECK(none.unavailable);
  CHECK_FALSE(dvfs.available().ok());

  tree.add_cpufreq_policy(0);
  tree.lock(tree.policy_file(0, "scaling_max_freq"));
  auto locked = dvfs.apply_throttle(10, std::nullopt);
  CHECK(locked.result == ApplyResult::error);
  CHECK(locked.message.find("scaling_max_freq") != std::string::npos);
  CHECK(dvfs.apply_cap(100).result == ApplyResult::error);
}
