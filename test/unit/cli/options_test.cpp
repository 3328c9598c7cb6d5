#include <catch2/catch.hpp>

#include "cli/options.hpp"
#include "joulie/cli/plugin.hpp"

using namespace joulie::cli;

TEST_CASE("the plugin is recognised by its program name") {
  CHECK(is_plugin_program("kubectl-joulie"));
  CHECK(is_plugin_program("/usr/local/bin/kubectl-joulie"));
  CHECK_FALSE(is_plugin_program("joulie"));
  CHECK_FALSE(is_plugin_program("/opt/kubectl-joulie/joulie"));
  CHECK_FALSE(is_plugin_program("kubectl-joulie-old"));
}

TEST_CASE("kubectl-style flags in any position") {
  auto o = parse_options(
      {"status", "--kubeconfig", "/a:/b", "--context=prod", "-o", "wide", "-n", "power"});
  REQUIRE(o.ok());
  CHECK(o->command == "status");
  CHECK(o->kubeconfig == std::vector<std::string>{"/a", "/b"});
  CHECK(o->context == "prod");
  CHECK(o->output == Output::wide);
  CHECK(o->ns == "power");

  auto e = parse_options({"-o", "json", "explain", "worker-1"});
  REQUIRE(e.ok());
  CHECK(e->positional == std::vector<std::string>{"worker-1"});
  CHECK(e->output == Output::json);

  // kubectl's short forms with the value attached.
  auto s = parse_options({"status", "-ojson", "-njoulie"});
  REQUIRE(s.ok());
  CHECK(s->output == Output::json);
  CHECK(s->ns == "joulie");
  auto y = parse_options({"status", "-o=yaml", "--prometheus", "http://prom:9090"});
  REQUIRE(y.ok());
  CHECK(y->output == Output::yaml);
  CHECK(y->prometheus == "http://prom:9090");

  auto p = parse_options({"pause", "--reason", "incident 42", "--wait=false", "--timeout", "5s"});
  REQUIRE(p.ok());
  CHECK(p->reason == "incident 42");
  CHECK_FALSE(p->wait);
  CHECK(p->timeout == std::chrono::seconds(5));
}

TEST_CASE("usage errors") {
  struct Row {
    std::vector<std::string> args;
    const char* message;
  };
  const std::vector<Row> rows = {
      {{"frobnicate"}, "unknown command \"frobnicate\""},
      {{"status", "-o", "toml"}, "allowed formats are: json,wide,yaml"},
      {{"status", "--bogus"}, "unknown flag: --bogus"},
      {{"status", "extra"}, "status takes no arguments"},
      {{"explain"}, "explain needs exactly one NODE"},
      {{"explain", "a", "b"}, "explain needs exactly one NODE"},
      {{"status", "--context"}, "flag needs an argument: --context"},
      {{"pause", "--timeout", "soon"}, "--timeout \"soon\""},
      {{"pause", "--wait=maybe"}, "--wait: want true or false"},
      {{"status", "--policy-config", "x.yaml"}, "--policy-config applies to plan and explain"},
      {{"plan", "--prometheus", "http://p"}, "--prometheus applies to status only"},
      {{"status", "-oxml"}, "allowed formats are: json,wide,yaml"},
  };
  for (const auto& row : rows) {
    INFO(row.message);
    auto o = parse_options(row.args);
    REQUIRE_FALSE(o.ok());
    CHECK(o.error().message.find(row.message) != std::string::npos);
  }
}

TEST_CASE("no command or help prints the usage") {
  CHECK(parse_options({})->help);
  CHECK(parse_options({"help"})->help);
  CHECK(parse_options({"status", "--help"})->help);
  CHECK(usage().find("kubectl joulie pause") != std::string::npos);
}
