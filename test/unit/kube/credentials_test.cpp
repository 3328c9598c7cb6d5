#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "joulie/common/clock.hpp"
#include "kube/credentials.hpp"
#include "kube/exec_plugin.hpp"
#include "temp_dir.hpp"

using namespace std::chrono_literals;
using joulie::Errc;
using joulie::ManualClock;
using joulie::kube::ClusterConfig;
using joulie::kube::CredentialSource;
using joulie::kube::ExecConfig;
using joulie::kube::parse_exec_credential;
using joulie::kube::run_exec_plugin;
using joulie::test::TempDir;

namespace {

constexpr const char* kV1 = "client.authentication.k8s.io/v1";

std::string script(TempDir& dir, const std::string& name, const std::string& body) {
  const std::string path = dir.write(name, "#!/bin/sh\n" + body);
  ::chmod(path.c_str(), 0755);
  return path;
}

}  // namespace

TEST_CASE("token file: re-read after the period, kept on read failure") {
  TempDir dir;
  const std::string token = dir.write("token", "first\n");
  ClusterConfig cfg;
  cfg.token_file = token;
  ManualClock clock;
  CredentialSource source(cfg, {1s, 5s}, clock);
  CHECK(source.current()->token == "first");

  dir.write("token", "second");
  clock.advance(500ms);
  CHECK(source.current()->token == "first");  // not due yet
  clock.advance(600ms);
  CHECK(source.current()->token == "second");

  std::remove(token.c_str());
  clock.advance(2s);
  CHECK(source.current()->token == "second");  // a failed read keeps the last good token

  dir.write("token", "third");
  CHECK(source.invalidate());  // after a 401: re-read at once
  CHECK(source.current()->token == "third");
}

TEST_CASE("exec credential: parsing") {
  auto ok = parse_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
          "status":{"token":"t0k","expirationTimestamp":"2030-01-02T03:04:05Z"}})",
      kV1);
  REQUIRE(ok.ok());
  CHECK(ok->token == "t0k");
  CHECK(ok->expiry.has_value());

  CHECK(parse_exec_credential("nope", kV1).code() == Errc::parse);
  CHECK(
      parse_exec_credential(
          R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","status":{"token":"x"}})",
          kV1)
          .code() == Errc::parse);
  CHECK(
      parse_exec_credential(
          R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{}})",
          kV1)
          .code() == Errc::parse);
  CHECK(
      parse_exec_credential(
          R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"clientCertificateData":"x"}})",
          kV1)
          .code() == Errc::parse);
  CHECK(
      parse_exec_credential(
          R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"token":"x","expirationTimestamp":"soon"}})",
          kV1)
          .code() == Errc::parse);
}

TEST_CASE("exec plugin: args, env and KUBERNETES_EXEC_INFO reach the command") {
  TempDir dir;
  ExecConfig exec;
  exec.api_version = kV1;
  exec.command = script(dir, "plugin", R"(
printf '%s' "$KUBERNETES_EXEC_INFO" > "$OUT_DIR/info"
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s-%s"}}' "$1" "$GREETING"
)");
  exec.args = {"arg1"};
  exec.env = {{"GREETING", "hello"}, {"OUT_DIR", dir.path().string()}};
  exec.provide_cluster_info = true;
  ClusterConfig cluster;
  cluster.server = "https://k:6443";
  auto c = run_exec_plugin(exec, cluster, 10s);
  REQUIRE(c.ok());
  CHECK(c->token == "arg1-hello");
  std::ifstream info(dir.file("info"));
  std::string text((std::istreambuf_iterator<char>(info)), {});
  CHECK_THAT(text, Catch::Contains("\"kind\":\"ExecCredential\""));
  CHECK_THAT(text, Catch::Contains("\"server\":\"https://k:6443\""));
  CHECK_THAT(text, Catch::Contains("\"interactive\":false"));
}

TEST_CASE("exec plugin: failures are typed errors with the plugin's message") {
  TempDir dir;
  ExecConfig exec;
  exec.api_version = kV1;
  ClusterConfig cluster;
  SECTION("non-zero exit") {
    exec.command = script(dir, "fail", "echo 'login required' >&2\nexit 3\n");
    auto r = run_exec_plugin(exec, cluster, 10s);
    CHECK(r.code() == Errc::unauthorized);
    CHECK_THAT(r.error().message, Catch::Contains("exit status 3: login required"));
  }
  SECTION("garbage output") {
    exec.command = script(dir, "garbage", "echo '{{{'\n");
    CHECK(run_exec_plugin(exec, cluster, 10s).code() == Errc::unauthorized);
  }
  SECTION("missing command") {
    exec.command = dir.file("does-not-exist");
    CHECK(run_exec_plugin(exec, cluster, 10s).code() == Errc::unauthorized);
  }
  SECTION("hanging plugin is killed at the timeout") {
    exec.command = script(dir, "hang", "exec sleep 30\n");
    const auto start = std::chrono::steady_clock::now();
    auto r = run_exec_plugin(exec, cluster, 300ms);
    CHECK(r.code() == Errc::unauthorized);
    CHECK_THAT(r.error().message, Catch::Contains("no answer"));
    CHECK(std::chrono::steady_clock::now() - start < 5s);
  }
}

TEST_CASE("exec credential source: cached until expiry, re-run after invalidate") {
  TempDir dir;
  const std::string counter = dir.file("count");
  ClusterConfig cfg;
  cfg.exec = ExecConfig{};
  cfg.exec->api_version = kV1;
  cfg.exec->command = script(dir, "plugin",
                             R"(
n=$(cat ")" + counter + R"(" 2>/dev/null || echo 0); n=$((n+1)); echo $n > ")" +
                                 counter + R"("
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"tok-%s","expirationTimestamp":"2100-01-01T00:00:00Z"}}' $n
)");
  ManualClock clock(std::chrono::system_clock::from_time_t(4102444800 - 3600));  // 2099-12-31 23:00
  CredentialSource source(cfg, {1s, 10s}, clock);
  CHECK(source.current()->token == "tok-1");
  CHECK(source.current()->token == "tok-1");  // cached
  clock.advance(30min);
  CHECK(source.current()->token == "tok-1");
  clock.advance(31min);  // past expirationTimestamp
  CHECK(source.current()->token == "tok-2");
  CHECK(source.invalidate());
  CHECK(source.current()->token == "tok-3");
}
