#include <catch2/catch.hpp>

#include "fake_sysfs.hpp"
#include "joulie/agent/failsafe.hpp"
#include "joulie/agent/host_files.hpp"

using joulie::Errc;
using joulie::test::FakeSysfs;
using joulie::test::TempDir;
using namespace joulie::agent;

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::size_t files_in(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) {
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("the original is recorded before the first write and restored after") {
  FakeSysfs tree;
  TempDir state;
  tree.add_rapl_package(0);
  auto record = std::make_shared<FailSafeRecord>(tree.root(), state.path(), "worker-1");
  REQUIRE(record->load().ok());
  HostFiles files(tree.root(), record);

  auto limit = tree.path(tree.rapl_limit_file(0));
  REQUIRE(files.write(limit, "150000000").ok());
  REQUIRE(files.write(limit, "120000000").ok());  // a second write keeps the first original
  CHECK(tree.read(tree.rapl_limit_file(0)) == "120000000");

  auto on_disk = slurp(state.path() / "worker-1.json");
  CHECK(on_disk.find("\"node\":\"worker-1\"") != std::string::npos);
  CHECK(on_disk.find("200000000\\n") != std::string::npos);
  CHECK(on_disk.find("150000000") == std::string::npos);
  CHECK(files_in(state.path()) == 1);  // no temp file left behind

  REQUIRE(record->restore().ok());
  CHECK(tree.read(tree.rapl_limit_file(0)) == "200000000\n");
  CHECK_FALSE(std::filesystem::exists(state.path() / "worker-1.json"));
}

TEST_CASE("a record left by a crash is kept and extended, never overwritten") {
  FakeSysfs tree;
  TempDir state;
  tree.add_rapl_package(0);
  tree.add_rapl_package(1);
  auto limit0 = tree.path(tree.rapl_limit_file(0));
  auto limit1 = tree.path(tree.rapl_limit_file(1));
  {
    auto first = std::make_shared<FailSafeRecord>(tree.root(), state.path(), "n1");
    REQUIRE(first->load().ok());
    HostFiles files(tree.root(), first);
    REQUIRE(files.write(limit0, "100000000").ok());
    // The agent "crashes" here: no restore.
  }
  auto second = std::make_shared<FailSafeRecord>(tree.root(), state.path(), "n1");
  REQUIRE(second->load().ok());
  HostFiles files(tree.root(), second);
  REQUIRE(files.write(limit0, "90000000").ok());  // capped value must not become "original"
  REQUIRE(files.write(limit1, "90000000").ok());  // a new path is added
  auto entries = second->entries();
  CHECK(entries.size() == 2);
  CHECK(entries.at(tree.rapl_limit_file(0)) == "200000000\n");

  RestoreSummary summary = restore_from_state_dir(tree.root(), state.path(), "n1");
  REQUIRE(summary.complete());
  CHECK(summary.restored.size() == 2);
  CHECK_FALSE(summary.originals_unknown);
  CHECK(tree.read(tree.rapl_limit_file(0)) == "200000000\n");
  CHECK(tree.read(tree.rapl_limit_file(1)) == "200000000\n");
  CHECK_FALSE(std::filesystem::exists(state.path() / "n1.json"));
  // Nothing recorded: restoring again is a no-op success.
  CHECK(restore_from_state_dir(tree.root(), state.path(), "n1").complete());
}

TEST_CASE("restore writes back only the selected files and keeps the rest") {
  FakeSysfs tree;
  TempDir state;
  tree.add_rapl_package(0);
  tree.add_cpufreq_policy(0);
  auto record = std::make_shared<FailSafeRecord>(tree.root(), state.path(), "n");
  HostFiles files(tree.root(), record);
  REQUIRE(files.write(tree.path(tree.rapl_limit_file(0)), "1").ok());
  REQUIRE(files.write(tree.path(tree.policy_file(0, "scaling_max_freq")), "2").ok());
  REQUIRE(record
              ->restore([](const std::filesystem::path& p) {
                return p.string().find("cpufreq") != std::string::npos;
              })
              .ok());
  CHECK(tree.read(tree.policy_file(0, "scaling_max_freq")) == "3000000\n");
  CHECK(tree.read(tree.rapl_limit_file(0)) == "1");
  CHECK(record->entries().size() == 1);
  CHECK(std::filesystem::exists(state.path() / "n.json"));
}

TEST_CASE("a failed write leaves no record; a failed restore keeps the entry") {
  FakeSysfs tree;
  TempDir state;
  tree.add_rapl_package(0);
  tree.lock(tree.rapl_limit_file(0));
  auto record = std::make_shared<FailSafeRecord>(tree.root(), state.path(), "n");
  HostFiles files(tree.root(), record);
  CHECK_FALSE(files.write(tree.path(tree.rapl_limit_file(0)), "1").ok());
  CHECK(record->entries().empty());
  CHECK_FALSE(std::filesystem::exists(state.path() / "n.json"));

  tree.add_rapl_package(1);
  REQUIRE(files.write(tree.path(tree.rapl_limit_file(1)), "5").ok());
  tree.lock(tree.rapl_limit_file(1));  // the host locks the file after we wrote it
  auto restored = record->restore();
  CHECK_FALSE(restored.ok());
  CHECK(record->entries().size() == 1);
  CHECK(std::filesystem::exists(state.path() / "n.json"));
}

TEST_CASE("a file that disappeared is dropped from the record on restore") {
  FakeSysfs tree;
  TempDir state;
  tree.add_cpufreq_policy(3);
  auto record = std::make_shared<FailSafeRecord>(tree.root(), state.path(), "n");
  HostFiles files(tree.root(), record);
  REQUIRE(files.write(tree.path(tree.policy_file(3, "scaling_max_freq")), "1000000").ok());
  std::filesystem::remove_all(tree.path("devices/system/cpu/cpufreq/policy3"));
  CHECK(record->restore().ok());
  CHECK_FALSE(std::filesystem::exists(state.path() / "n.json"));
}

TEST_CASE("malformed or hostile records are refused; a restore lifts caps to the maximum") {
  FakeSysfs tree;
  TempDir state;
  tree.add_rapl_package(0);
  tree.add_cpufreq_policy(0);
  auto write_record = [&](const std::string& text) {
    std::ofstream(state.path() / "n.json", std::ios::trunc) << text;
  };
  for (const char* bad :
       {"", "not json", "[]", "{\"files\": 3}", "{\"files\": {\"a\": 1}}",
        "{\"files\": {\"/etc/passwd\": \"x\"}}", "{\"files\": {\"../../etc/passwd\": \"x\"}}",
        "{\"files\": {\"class/../../x\": \"x\"}}"}) {
    INFO(bad);
    write_record(bad);
    tree.write(tree.rapl_limit_file(0), "120000000\n");  // the dead agent's cap
    tree.write(tree.policy_file(0, "scaling_max_freq"), "1500000\n");
    auto record = std::make_shared<FailSafeRecord>(tree.root(), state.path(), "n");
    auto loaded = record->load();
    CHECK(loaded.code() == Errc::parse);
    RestoreSummary summary = restore_from_state_dir(tree.root(), state.path(), "n");
    CHECK(summary.complete());
    CHECK(summary.originals_unknown);
    // The hardware's own maximum, never the last cap.
    CHECK(tree.read(tree.rapl_limit_file(0)) == "250000000\n");
    CHECK(tree.read(tree.policy_file(0, "scaling_max_freq")) == "3000000\n");
    CHECK(std::filesystem::exists(state.path() / "n.json.unusable"));
    CHECK_FALSE(std::filesystem::exists(state.path() / "n.json"));
  }
}

TEST_CASE("node names that would escape the state directory are refused") {
  for (const char* bad : {"", ".", "..", "a/b", "../x"}) {
    INFO(bad);
    CHECK(validate_record_name(bad).code() == Errc::invalid_argument);
  }
  CHECK(validate_record_name("worker-01.example.com").ok());
  TempDir state;
  CHECK_FALSE(restore_from_state_dir("/nonexistent", state.path(), "../etc").complete());
}

TEST_CASE("paths outside the sysfs root are never recorded") {
  FakeSysfs tree;
  TempDir state;
  FailSafeRecord record(tree.root(), state.path(), "n");
  CHECK_FALSE(record.remember("/etc/hostname", "x").ok());
  CHECK_FALSE(record.remember(tree.root() / ".." / "x", "x").ok());
  CHECK(record.entries().empty());
}
