#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "joulie/kube/config.hpp"
#include "kube/base64.hpp"
#include "temp_dir.hpp"

using joulie::Errc;
using joulie::kube::base64_decode;
using joulie::kube::base64_encode;
using joulie::kube::ConfigSources;
using joulie::kube::load_config;
using joulie::kube::load_kubeconfig;
using joulie::test::TempDir;

namespace {

const char* kFirst = R"(apiVersion: v1
kind: Config
current-context: first
clusters:
- name: c1
  cluster:
    server: https://first.example:6443/
    certificate-authority: certs/ca.pem
    tls-server-name: api.internal
- name: shared
  cluster:
    server: https://from-first:1
contexts:
- name: first
  context: {cluster: c1, user: u1, namespace: team-a}
- name: other
  context: {cluster: c2, user: u2}
users:
- name: u1
  user:
    client-certificate: certs/client.pem
    client-key: certs/client-key.pem
)";

const char* kSecond = R"(apiVersion: v1
kind: Config
current-context: second
clusters:
- name: shared
  cluster:
    server: https://from-second:2
- name: c2
  cluster:
    server: http://plain.example:8080
    insecure-skip-tls-verify: true
users:
- name: u2
  user:
    tokenFile: tokens/t
    token: static-token
- name: u1
  user:
    token: never-used
)";

}  // namespace

TEST_CASE("base64: strict decoding round-trips and refuses junk") {
  CHECK(base64_decode("aGVsbG8=").value() == "hello");
  CHECK(base64_decode("aGVs\nbG8h").value() == "hello!");
  CHECK(base64_decode("").value().empty());
  CHECK_FALSE(base64_decode("aGVsbG8"));     // missing padding
  CHECK_FALSE(base64_decode("aGVs*G8="));    // bad character
  CHECK_FALSE(base64_decode("aGVsbG8=xx"));  // data after padding
  for (std::string s : {"", "a", "ab", "abc", "abcd", "\x01\xff\x80"}) {
    CHECK(base64_decode(base64_encode(s)).value() == s);
  }
}

TEST_CASE("kubeconfig: merged files, first definition wins, paths relative to their file") {
  TempDir dir;
  const std::string first = dir.write("a/config", kFirst);
  const std::string second = dir.write("b/config", kSecond);
  dir.write("a/certs/ca.pem", "CA PEM");
  dir.write("a/certs/client.pem", "CERT PEM");
  dir.write("a/certs/client-key.pem", "KEY PEM");

  auto cfg = load_kubeconfig(first + ":" + second, "");
  REQUIRE(cfg.ok());
  CHECK(cfg->server == "https://first.example:6443");  // trailing slash dropped
  CHECK(cfg->ca_pem == "CA PEM");
  CHECK(cfg->tls_server_name == "api.internal");
  CHECK(cfg->client_cert_pem == "CERT PEM");
  CHECK(cfg->client_key_pem == "KEY PEM");
  CHECK(cfg->token.empty());  // u1 from the first file wins entirely
  CHECK(cfg->default_namespace == "team-a");

  // current-context comes from the first file that sets it; --context picks another one whose
  // cluster and user live in the second file, with paths relative to that file.
  auto other = load_kubeconfig(first + ":" + second, "other");
  REQUIRE(other.ok());
  CHECK(other->server == "http://plain.example:8080");
  CHECK(other->insecure_skip_tls_verify);
  CHECK(other->token == "static-token");
  CHECK(other->token_file == dir.file("b/tokens/t"));
  CHECK(other->default_namespace == "default");

  // Order matters: with the second file first, its current-context is used (and missing).
  auto reversed = load_kubeconfig(second + ":" + first, "");
  CHECK(reversed.code() == Errc::invalid_argument);
  CHECK_THAT(reversed.error().message, Catch::Contains("context \"second\" not found"));
}

TEST_CASE("kubeconfig: embedded data and exec plugins") {
  TempDir dir;
  const std::string path = dir.write("config", R"(
current-context: x
clusters:
- name: c
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority-data: )" + base64_encode("CA DATA") +
                                                   R"(
contexts:
- name: x
  context: {cluster: c, user: u}
users:
- name: u
  user:
    client-certificate-data: )" + base64_encode("CERT DATA") +
                                                   R"(
    client-key-data: )" + base64_encode("KEY DATA") +
                                                   R"(
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/plugin
      args: [get-token, --cluster, x]
      env:
      - {name: FOO, value: bar}
      provideClusterInfo: true
)");
  auto cfg = load_kubeconfig(path, "");
  REQUIRE(cfg.ok());
  CHECK(cfg->ca_pem == "CA DATA");
  CHECK(cfg->client_cert_pem == "CERT DATA");
  CHECK(cfg->client_key_pem == "KEY DATA");
  REQUIRE(cfg->exec.has_value());
  CHECK(cfg->exec->command == dir.file("./bin/plugin"));
  CHECK(cfg->exec->args == std::vector<std::string>{"get-token", "--cluster", "x"});
  REQUIRE(cfg->exec->env.size() == 1);
  CHECK(cfg->exec->env[0] == std::make_pair(std::string("FOO"), std::string("bar")));
  CHECK(cfg->exec->provide_cluster_info);
}

TEST_CASE("kubeconfig: clear typed errors") {
  TempDir dir;
  SECTION("broken YAML names file and line") {
    const std::string p = dir.write("broken", "clusters:\n- name: a\n  cluster: {server: [\n");
    auto r = load_kubeconfig(p, "");
    CHECK(r.code() == Errc::parse);
    CHECK_THAT(r.error().message, Catch::StartsWith(p + ":"));
  }
  SECTION("wrong shapes are parse errors, not crashes") {
    for (const char* text :
         {"just a string", "clusters: 5", "clusters: [7]", "clusters:\n- cluster: {}\n",
          "current-context: x\ncontexts:\n- name: x\n  context: {cluster: {a: b}}\n"}) {
      INFO(text);
      auto r = load_kubeconfig(dir.write("shape", text), "");
      CHECK((r.code() == Errc::parse || r.code() == Errc::invalid_argument));
    }
  }
  SECTION("missing context, cluster, user") {
    const std::string p = dir.write("c", R"(
current-context: a
clusters: [{name: c, cluster: {server: "https://x"}}]
contexts:
- {name: a, context: {cluster: nope, user: u}}
- {name: b, context: {cluster: c, user: nobody}}
)");
    CHECK_THAT(load_kubeconfig(p, "zzz").error().message, Catch::Contains("context \"zzz\""));
    CHECK_THAT(load_kubeconfig(p, "").error().message, Catch::Contains("cluster \"nope\""));
    auto r = load_kubeconfig(p, "b");
    CHECK(r.code() == Errc::invalid_argument);
    CHECK_THAT(r.error().message, Catch::Contains("user \"nobody\""));
  }
  SECTION("unreadable files") {
    CHECK(load_kubeconfig(dir.file("missing"), "").code() == Errc::io);
    CHECK(load_kubeconfig(dir.path().string(), "").code() == Errc::io);  // a directory
    const std::string p = dir.write("c", R"(
current-context: a
clusters: [{name: c, cluster: {server: "https://x", certificate-authority: /nonexistent/ca}}]
contexts: [{name: a, context: {cluster: c}}]
)");
    auto r = load_kubeconfig(p, "");
    CHECK(r.code() == Errc::io);
    CHECK_THAT(r.error().message, Catch::Contains("/nonexistent/ca"));
  }
  SECTION("bad base64 names the field") {
    const std::string p = dir.write("c", R"(
current-context: a
clusters: [{name: c, cluster: {server: "https://x", certificate-authority-data: "@@@"}}]
contexts: [{name: a, context: {cluster: c}}]
)");
    auto r = load_kubeconfig(p, "");
    CHECK(r.code() == Errc::parse);
    CHECK_THAT(r.error().message, Catch::Contains("certificate-authority-data"));
  }
  SECTION("bad server and unsupported exec version") {
    const std::string p = dir.write("c", R"(
current-context: a
clusters: [{name: c, cluster: {server: "ftp://x"}}]
contexts: [{name: a, context: {cluster: c}}]
)");
    CHECK(load_kubeconfig(p, "").code() == Errc::invalid_argument);
    const std::string q = dir.write("d", R"(
current-context: a
clusters: [{name: c, cluster: {server: "https://x"}}]
contexts: [{name: a, context: {cluster: c, user: u}}]
users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: x}}}]
)");
    CHECK(load_kubeconfig(q, "").code() == Errc::unsupported);
  }
}

TEST_CASE("kubeconfig: missing entries of a KUBECONFIG list are skipped") {
  TempDir dir;
  const std::string p = dir.write("c", R"(
current-context: a
clusters: [{name: c, cluster: {server: "https://x"}}]
contexts: [{name: a, context: {cluster: c}}]
)");
  CHECK(load_kubeconfig(dir.file("nope") + ":" + p, "").ok());
  CHECK(load_kubeconfig(dir.file("nope") + ":" + dir.file("nope2"), "").code() == Errc::io);
}

TEST_CASE("config sources: kubeconfig, then in-cluster, then ~/.kube/config") {
  TempDir dir;
  dir.write("sa/token", "sa-token\n");
  dir.write("sa/ca.crt", "IN CLUSTER CA");
  dir.write("sa/namespace", "joulie-system");
  dir.write("home/.kube/config", R"(
current-context: h
clusters: [{name: c, cluster: {server: "https://home:1"}}]
contexts: [{name: h, context: {cluster: c}}]
)");
  ConfigSources s;
  s.service_account_dir = dir.file("sa");
  s.home = dir.file("home");

  auto home = load_config(s);
  REQUIRE(home.ok());
  CHECK(home->server == "https://home:1");

  s.service_host = "10.96.0.1";
  s.service_port = "443";
  auto in_cluster = load_config(s);
  REQUIRE(in_cluster.ok());
  CHECK(in_cluster->server == "https://10.96.0.1:443");
  CHECK(in_cluster->token == "sa-token");
  CHECK(in_cluster->token_file == dir.file("sa/token"));
  CHECK(in_cluster->ca_pem == "IN CLUSTER CA");
  CHECK(in_cluster->default_namespace == "joulie-system");

  s.service_host = "fd00::1";
  CHECK(load_config(s)->server == "https://[fd00::1]:443");

  s.kubeconfig = dir.file("home/.kube/config");
  s.context = "h";
  CHECK(load_config(s)->server == "https://home:1");

  ConfigSources empty;
  empty.home = dir.file("nowhere");
  CHECK(load_config(empty).code() == Errc::invalid_argument);

  ConfigSources broken_sa;
  broken_sa.service_host = "10.0.0.1";
  broken_sa.service_port = "443";
  broken_sa.service_account_dir = dir.file("no-sa");
  auto r = load_config(broken_sa);
  CHECK(r.code() == Errc::io);
  CHECK_THAT(r.error().message, Catch::Contains("no-sa/token"));
}
