// The agent daemon against an in-memory API: pool sharding membership, the field-selector
// fallback (docs/design.md#what-the-agent-watches), and event-driven application.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <set>

#include "../kube/fake_api.hpp"
#include "fake_sysfs.hpp"
#include "joulie/agent/daemon.hpp"
#include "joulie/api/fnv.hpp"

using joulie::kube::testing::FakeApi;
using joulie::kube::testing::wait_until;
using joulie::test::FakeSysfs;
using joulie::test::TempDir;
using namespace joulie::agent;
using namespace std::chrono_literals;
namespace kube = joulie::kube;

namespace {

std::string node_json(const std::string& name) {
  return fmt::format(R"({{"metadata":{{"name":"{}","labels":{{"joulie.io/managed":"true"}}}}}})",
                     name);
}

std::string npp_json(const std::string& node, double cap) {
  return fmt::format(
      R"({{"metadata":{{"name":"node-{0}","uid":"u-{0}","generation":1,"creationTimestamp":"2026-01-01T00:00:00Z"}},)"
      R"("spec":{{"nodeName":"{0}","profile":"eco","cpu":{{"packagePowerCapWatts":{1}}}}}}})",
      node, cap);
}

DaemonOptions pool_options(joulie::metrics::Registry& registry, std::uint32_t shards,
                           std::uint32_t shard) {
  DaemonOptions o;
  o.pool_mode = true;
  o.pool_shards = shards;
  o.pool_shard_id = shard;
  o.workers = 2;
  o.registry = &registry;
  o.controller.interval = 1h;
  o.informer_backoff.initial = 10ms;
  o.informer_backoff.max = 20ms;
  return o;
}

// The limit in µW, or 0 while the agent is rewriting the file (a write truncates it first).
uint64_t limit_uw(const FakeSysfs& sysfs, int package) {
  try {
    return sysfs.read_number(sysfs.rapl_limit_file(package));
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

TEST_CASE("pool mode: each node belongs to exactly one shard, by FNV-1a of its name") {
  FakeApi fake;
  for (int i = 0; i < 30; ++i) {
    fake.put(kube::resources::nodes, node_json(fmt::format("kwok-node-{}", i)));
  }
  std::set<std::string> seen;
  std::size_t total = 0;
  for (std::uint32_t shard = 0; shard < 3; ++shard) {
    joulie::metrics::Registry registry;
    AgentDaemon daemon(fake, pool_options(registry, 3, shard));
    std::atomic<bool> stop{false};
    REQUIRE(daemon.start(stop));
    REQUIRE(daemon.wait_synced(10s));
    std::size_t expected = 0;
    for (int i = 0; i < 30; ++i) {
      std::string name = fmt::format("kwok-node-{}", i);
      if (joulie::api::shard_of(name, 3) == shard) {
        ++expected;
        CHECK(seen.insert(name).second);  // never owned by two shards
      }
    }
    CHECK(daemon.owned_nodes() == expected);
    total += daemon.owned_nodes();
    CHECK(registry.expose().find(fmt::format("joulie_agent_owned_nodes {}", expected)) !=
          std::string::npos);
    daemon.stop();
  }
  CHECK(total == 30);
  CHECK(seen.size() == 30);
}

TEST_CASE("pool mode: a node without an HTTP route reports blocked on its NodePowerProfile") {
  FakeApi fake;
  fake.put(kube::resources::nodes, node_json("n1"));
  fake.put(kube::resources::node_power_profiles, npp_json("n1", 150));
  joulie::metrics::Registry registry;
  AgentDaemon daemon(fake, pool_options(registry, 1, 0));
  std::atomic<bool> stop{false};
  REQUIRE(daemon.start(stop));
  REQUIRE(daemon.wait_synced(10s));
  daemon.run_pass(false);  // as run() does first: events seen before the sync are applied now
  REQUIRE(wait_until([&] {
    auto doc = fake.object(kube::resources::node_power_profiles, "node-n1");
    return doc && doc->HasMember("status");
  }));
  auto doc = fake.object(kube::resources::node_power_profiles, "node-n1");
  CHECK(std::string((*doc)["status"]["result"].GetString()) == "blocked");
  CHECK(std::string((*doc)["status"]["backend"].GetString()) == "none");
  CHECK(std::string((*doc)["status"]["conditions"][0]["status"].GetString()) == "False");
  // Passes without any change write nothing more.
  auto patches = fake.patches().size();
  CHECK(daemon.run_pass(true) == 0);
  CHECK(daemon.run_pass(true) == 0);
  REQUIRE(daemon.status_writer().flush(5s));
  CHECK(fake.patches().size() == patches);
  daemon.stop();
}

TEST_CASE("daemonset mode falls back to watching every NodePowerProfile when 400 is returned") {
  FakeApi fake;
  FakeSysfs sysfs;
  sysfs.add_rapl_package(0);
  TempDir state;
  fake.put(kube::resources::node_power_profiles, npp_json("n1", 180));
  fake.put(kube::resources::node_power_profiles, npp_json("other", 90));
  fake.list_hook([](const kube::Resource& r,
                    const kube::ListOptions& options) -> std::optional<joulie::Error> {
    if (r.plural == "nodepowerprofiles" && !options.field_selector.empty()) {
      return joulie::Error(joulie::Errc::bad_request, "field label not supported: spec.nodeName",
                           400, "BadRequest");
    }
    return std::nullopt;
  });
  joulie::metrics::Registry registry;
  DaemonOptions o;
  o.node = "n1";
  o.registry = &registry;
  o.controller.interval = 1h;
  o.controller.actuator.sysfs_root = sysfs.root();
  o.controller.actuator.state_dir = state.path();
  AgentDaemon daemon(fake, o);
  std::atomic<bool> stop{false};
  REQUIRE(daemon.start(stop));
  REQUIRE(daemon.wait_synced(10s));
  daemon.run_pass(false);
  CHECK(daemon.field_selector_fallback());
  for (const auto& call : fake.watch_calls()) {
    CHECK(call.field_selector.empty());
  }
  REQUIRE(wait_until([&] { return limit_uw(sysfs, 0) == 180000000; }));
  CHECK(daemon.owned_nodes() == 1);
  CHECK(registry.expose().find("joulie_agent_field_selector_fallback 1") != std::string::npos);
  daemon.stop();
  CHECK(daemon.release_all().complete());
  CHECK(limit_uw(sysfs, 0) == 200000000);
}

TEST_CASE("daemonset mode watches with the spec.nodeName field selector when it is accepted") {
  FakeApi fake;
  FakeSysfs sysfs;
  TempDir state;
  joulie::metrics::Registry registry;
  DaemonOptions o;
  o.node = "n1";
  o.registry = &registry;
  o.controller.actuator.sysfs_root = sysfs.root();
  o.controller.actuator.state_dir = state.path();
  AgentDaemon daemon(fake, o);
  std::atomic<bool> stop{false};
  REQUIRE(daemon.start(stop));
  REQUIRE(daemon.wait_synced(10s));
  CHECK_FALSE(daemon.field_selector_fallback());
  bool found = false;
  for (const auto& call : fake.list_calls()) {
    found = found || call.field_selector == "spec.nodeName=n1";
  }
  CHECK(found);
  daemon.stop();
}
