#include <fmt/format.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/process_stats.hpp"
#include "joulie/common/metrics.hpp"

using joulie::metrics::Registry;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A registry exercising every kind, label escaping, empty families and special floats.
void populate(Registry& registry) {
  registry.add_process_metrics();
  auto& transitions = registry.counter("joulie_operator_state_transitions_total",
                                       "State transitions.\nSecond line with a \\ backslash.",
                                       {"node", "from_state", "to_state", "result"});
  transitions.with({"n1", "ActivePerformance", "DrainingPerformance", "applied"}).inc();
  transitions.with({"n2", "DrainingPerformance", "ActiveEco", "forced"}).inc(3);
  registry.counter("joulie_operator_reconcile_errors_total", "Failed passes.").with({}).inc(0);
  auto& state = registry.gauge("joulie_operator_node_state", "Node state.", {"node", "state"});
  state.with({"quote\"back\\slash\nnewline", "ActiveEco"}).set(1);
  state.with({"n1", "ActivePerformance"}).set(std::numeric_limits<double>::quiet_NaN());
  state.with({"n2", "ActiveEco"}).set(std::numeric_limits<double>::infinity());
  state.with({"n3", "ActiveEco"}).set(-std::numeric_limits<double>::infinity());
  state.with({"bad\xff utf8", "ActiveEco"}).set(1e-9);
  registry.gauge("joulie_operator_is_leader", "Leader?").with({}).set(1);
  registry.gauge("joulie_empty_family", "No series yet.", {"node"});
  auto& duration =
      registry.histogram("joulie_operator_reconcile_duration_seconds", "Pass duration.");
  duration.with({}).observe(0.003);
  duration.with({}).observe(0.2);
  duration.with({}).observe(42);
  registry.histogram("joulie_request_seconds", "Per verb.", {"verb"}, {1, 0.5, 0.5, 2})
      .with({"get"})
      .observe(0.7);
}

}  // namespace

TEST_CASE("exposition has HELP/TYPE lines, escaped labels and sorted families") {
  Registry registry;
  populate(registry);
  std::string text = registry.expose();

  CHECK(contains(text,
                 "# HELP joulie_operator_state_transitions_total State transitions.\\nSecond "
                 "line with a \\\\ backslash.\n"));
  CHECK(contains(text, "# TYPE joulie_operator_state_transitions_total counter\n"));
  CHECK(contains(
      text,
      "joulie_operator_state_transitions_total{node=\"n2\",from_state=\"DrainingPerformance\","
      "to_state=\"ActiveEco\",result=\"forced\"} 3\n"));
  CHECK(contains(text, "joulie_operator_reconcile_errors_total 0\n"));
  CHECK(contains(text,
                 "joulie_operator_node_state{node=\"quote\\\"back\\\\slash\\nnewline\","
                 "state=\"ActiveEco\"} 1\n"));
  CHECK(
      contains(text, "joulie_operator_node_state{node=\"n1\",state=\"ActivePerformance\"} NaN\n"));
  CHECK(contains(text, "joulie_operator_node_state{node=\"n2\",state=\"ActiveEco\"} +Inf\n"));
  CHECK(contains(text, "joulie_operator_node_state{node=\"n3\",state=\"ActiveEco\"} -Inf\n"));
  CHECK(contains(text, "joulie_operator_node_state{node=\"bad\xef\xbf\xbd utf8\""));
  // A family without series still announces itself.
  CHECK(contains(text,
                 "# HELP joulie_empty_family No series yet.\n# TYPE joulie_empty_family gauge\n"));
  CHECK_FALSE(contains(text, "joulie_empty_family{"));

  // Families appear sorted by name, so scrapes diff cleanly.
  CHECK(text.find("# TYPE joulie_empty_family") < text.find("# TYPE joulie_operator_is_leader"));
  CHECK(text.find("# TYPE joulie_operator_is_leader") <
        text.find("# TYPE process_cpu_seconds_total"));
  // Series inside a family are sorted by label values.
  CHECK(text.find("node=\"n1\",state") < text.find("node=\"n2\",state"));
}

TEST_CASE("histograms expose cumulative buckets, +Inf, sum and count") {
  Registry registry;
  auto& family = registry.histogram("joulie_pass_seconds", "Passes.", {"policy"}, {0.1, 1, 10});
  auto& h = family.with({"static_partition"});
  h.observe(0.05);
  h.observe(0.1);  // upper bounds are inclusive
  h.observe(0.5);
  h.observe(100);
  h.observe(std::numeric_limits<double>::quiet_NaN());  // ignored
  CHECK(h.cumulative_counts() == std::vector<uint64_t>{2, 3, 3, 4});
  CHECK(h.count() == 4);
  CHECK(h.sum() == Approx(100.65));

  std::string text = registry.expose();
  CHECK(contains(text, "# TYPE joulie_pass_seconds histogram\n"));
  CHECK(contains(text,
                 "joulie_pass_seconds_bucket{policy=\"static_partition\",le=\"0.1\"} 2\n"
                 "joulie_pass_seconds_bucket{policy=\"static_partition\",le=\"1\"} 3\n"
                 "joulie_pass_seconds_bucket{policy=\"static_partition\",le=\"10\"} 3\n"
                 "joulie_pass_seconds_bucket{policy=\"static_partition\",le=\"+Inf\"} 4\n"
                 "joulie_pass_seconds_sum{policy=\"static_partition\"} 100.65\n"
                 "joulie_pass_seconds_count{policy=\"static_partition\"} 4\n"));
  CHECK(registry.expose() == text);  // stable: nothing changed, nothing moves

  // Unsorted, duplicated and infinite bounds are cleaned up rather than producing bad output.
  joulie::metrics::Histogram messy({5, 1, 1, std::numeric_limits<double>::infinity()});
  CHECK(messy.bounds() == std::vector<double>{1, 5});
  CHECK(messy.cumulative_counts().size() == 3);
  CHECK(Registry::default_buckets().front() == 0.005);
  CHECK(Registry::default_buckets().back() == 10);
}

TEST_CASE("counters never go down; gauges go both ways") {
  Registry registry;
  auto& c = registry.counter("joulie_things_total", "Things.").with({});
  c.inc();
  c.inc(2.5);
  c.inc(-10);
  c.inc(std::numeric_limits<double>::quiet_NaN());
  CHECK(c.value() == 3.5);
  auto& g = registry.gauge("joulie_level", "Level.").with({});
  g.set(10);
  g.add(-12.5);
  CHECK(g.value() == -2.5);
  CHECK(contains(registry.expose(), "joulie_level -2.5\n"));
}

TEST_CASE("registering a name twice returns the same family; misuse is rejected") {
  Registry registry;
  auto& a = registry.counter("joulie_x_total", "X.", {"node"});
  auto& b = registry.counter("joulie_x_total", "X.", {"node"});
  CHECK(&a == &b);
  CHECK_THROWS_AS(registry.gauge("joulie_x_total", "X.", {"node"}), std::invalid_argument);
  CHECK_THROWS_AS(registry.counter("joulie_x_total", "X.", {"zone"}), std::invalid_argument);
  CHECK_THROWS_AS(registry.counter("joulie_no_suffix", "X."), std::invalid_argument);
  CHECK_THROWS_AS(registry.gauge("joulie_gauge_total", "X."), std::invalid_argument);
  CHECK_THROWS_AS(registry.gauge("9bad", "X."), std::invalid_argument);
  CHECK_THROWS_AS(registry.gauge("joulie_ok", "X.", {"bad-label"}), std::invalid_argument);
  CHECK_THROWS_AS(registry.gauge("joulie_ok", "X.", {"__reserved"}), std::invalid_argument);
  CHECK_THROWS_AS(registry.gauge("joulie_ok", "X.", {"node", "node"}), std::invalid_argument);
  CHECK_THROWS_AS(registry.histogram("joulie_h", "X.", {"le"}), std::invalid_argument);
}

TEST_CASE("a label count mismatch does not crash") {
  Registry registry;
  auto& family = registry.gauge("joulie_pair", "Pair.", {"a", "b"});
  family.with({"only-one"}).set(1);
  CHECK(contains(registry.expose(), "joulie_pair{a=\"only-one\",b=\"\"} 1\n"));
}

TEST_CASE("series removal: one tuple, or every series of a node") {
  Registry registry;
  auto& state = registry.gauge("joulie_operator_node_state", "State.", {"node", "state"});
  for (const char* node : {"n1", "n2", "n3"}) {
    for (const char* s : {"ActivePerformance", "DrainingPerformance", "ActiveEco"}) {
      state.with({node, s}).set(0);
    }
  }
  auto& transitions = registry.counter("joulie_t_total", "T.", {"from_state", "node"});
  transitions.with({"ActiveEco", "n3"}).inc();
  transitions.with({"n3", "n1"}).inc();  // "n3" in another label must survive

  state.remove({"n1", "ActiveEco"});
  CHECK(state.series().size() == 8);
  state.remove({"nope", "ActiveEco"});  // unknown tuple: no-op
  CHECK(state.series().size() == 8);

  state.remove_matching("node", "n3");
  transitions.remove_matching("node", "n3");
  transitions.remove_matching("no_such_label", "n1");  // no-op
  std::string text = registry.expose();
  CHECK_FALSE(contains(text, "node=\"n3\""));
  CHECK(contains(text, "joulie_t_total{from_state=\"n3\",node=\"n1\"} 1\n"));
  CHECK(contains(text, "joulie_operator_node_state{node=\"n2\",state=\"ActiveEco\"} 0\n"));
  CHECK_FALSE(contains(text, "node=\"n1\",state=\"ActiveEco\""));

  state.clear();
  CHECK(state.series().empty());
  CHECK(contains(registry.expose(), "# TYPE joulie_operator_node_state gauge\n"));
}

TEST_CASE("process metrics come from /proc/self") {
  Registry registry;
  registry.add_process_metrics();
  std::string text = registry.expose();
  CHECK(contains(text, "# TYPE process_resident_memory_bytes gauge\n"));
  CHECK(contains(text, "# TYPE process_cpu_seconds_total counter\n"));
  CHECK(contains(text, "# TYPE process_start_time_seconds gauge\n"));
  auto& rss = registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  CHECK(rss.with({}).value() > 1024 * 1024);  // a running test binary uses more than 1 MiB
  auto& start = registry.gauge("process_start_time_seconds",
                               "Start time of the process since unix epoch in seconds.");
  double now = static_cast<double>(std::time(nullptr));
  CHECK(start.with({}).value() <= now + 1);
  CHECK(start.with({}).value() > now - 24 * 3600 * 365);
}

TEST_CASE("/proc parsers cope with odd command names and missing fields") {
  using namespace joulie::metrics::detail;
  auto fields =
      parse_proc_stat("1234 (a) b (c)) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0 9000 100 200");
  REQUIRE(fields);
  CHECK(fields->utime_ticks == 250);
  CHECK(fields->stime_ticks == 50);
  CHECK(fields->starttime_ticks == 9000);
  CHECK_FALSE(parse_proc_stat("1234 (x) S 1 2 3"));
  CHECK_FALSE(parse_proc_stat(""));
  CHECK_FALSE(parse_proc_stat("1 (x) S 1 2 3 4 5 6 7 8 9 10 abc 50 0 0 20 0 1 0 9000"));

  CHECK(parse_vm_rss_bytes("Name:\tjoulie\nVmRSS:\t    2048 kB\nVmData: 1 kB\n") == 2048.0 * 1024);
  CHECK_FALSE(parse_vm_rss_bytes("Name:\tkthread\n"));
  CHECK(parse_boot_time("cpu  1 2 3\nbtime 1700000000\nprocesses 5\n") == 1700000000.0);
  CHECK_FALSE(parse_boot_time("cpu 1 2 3\n"));
}

TEST_CASE("promtool check metrics accepts the exposition") {
  Registry registry;
  populate(registry);
  std::string text = registry.expose();

  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    WARN("promtool not found on PATH: skipping the promtool check");
    return;
  }
  char path[] = "/tmp/joulie-metrics-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  close(fd);
  std::string out_path = std::string(path) + ".out";
  std::string cmd = "promtool check metrics < " + std::string(path) + " > " + out_path + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::string output = read_all(out_path);
  std::remove(path);
  std::remove(out_path.c_str());
  INFO("exposition:\n" << text << "\npromtool said:\n" << output);
  CHECK(rc == 0);
  CHECK(output.empty());
}

TEST_CASE("concurrent updates, registrations and scrapes stay consistent") {
  Registry registry;
  registry.add_process_metrics();
  auto& hits = registry.counter("joulie_hits_total", "Hits.", {"node"});
  auto& h = registry.histogram("joulie_lat_seconds", "Latency.", {"node"});
  constexpr int threads = 4;
  constexpr int per_thread = 5000;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        hits.with({"shared"}).inc();
        h.with({"shared"}).observe(0.01);
        // Churn: create and remove a private series while scrapes run.
        auto node = fmt::format("n{}", t);
        hits.with({node}).inc();
        if (i % 100 == 0) {
          hits.remove_matching("node", node);
          registry.gauge(fmt::format("joulie_dyn_{}", i % 7), "Dynamic.").with({}).set(i);
        }
      }
    });
  }
  std::thread scraper([&] {
    for (int i = 0; i < 50; ++i) {
      CHECK(contains(registry.expose(), "# TYPE joulie_hits_total counter\n"));
    }
  });
  for (auto& w : workers) {
    w.join();
  }
  scraper.join();
  CHECK(hits.with({"shared"}).value() == threads * per_thread);
  CHECK(h.with({"shared"}).count() == threads * per_thread);
  CHECK(h.with({"shared"}).cumulative_counts().back() == threads * per_thread);
}
