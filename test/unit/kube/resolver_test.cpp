// The getaddrinfo replacement (src/common/resolver.cpp); this executable is linked with
// -Wl,--wrap=getaddrinfo like the product, so plain getaddrinfo() calls land there.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "joulie/common/net.hpp"
#include "temp_dir.hpp"

using joulie::Errc;
using joulie::test::TempDir;

namespace {

std::vector<std::string> addresses(const addrinfo* ai, int* port = nullptr) {
  std::vector<std::string> out;
  for (; ai != nullptr; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (ai->ai_family == AF_INET) {
      auto* sin = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
      inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
      if (port != nullptr) *port = ntohs(sin->sin_port);
    } else {
      auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
      inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
      if (port != nullptr) *port = ntohs(sin6->sin6_port);
    }
    out.emplace_back(text);
  }
  return out;
}

}  // namespace

TEST_CASE("resolver: numeric literals, ports and passive binds") {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  REQUIRE(getaddrinfo("10.1.2.3", "6443", &hints, &res) == 0);
  int port = 0;
  CHECK(addresses(res, &port) == std::vector<std::string>{"10.1.2.3"});
  CHECK(port == 6443);
  CHECK(res->ai_socktype == SOCK_STREAM);
  freeaddrinfo(res);

  REQUIRE(getaddrinfo("fd00::1", nullptr, &hints, &res) == 0);
  CHECK(addresses(res) == std::vector<std::string>{"fd00::1"});
  freeaddrinfo(res);

  hints.ai_flags = AI_PASSIVE;
  hints.ai_family = AF_INET;
  REQUIRE(getaddrinfo(nullptr, "8080", &hints, &res) == 0);
  CHECK(addresses(res, &port) == std::vector<std::string>{"0.0.0.0"});
  CHECK(port == 8080);
  freeaddrinfo(res);

  hints.ai_flags = AI_NUMERICHOST;
  hints.ai_family = AF_UNSPEC;
  CHECK(getaddrinfo("example.invalid", "80", &hints, &res) == EAI_NONAME);
  CHECK(getaddrinfo("1.2.3.4", "http", &hints, &res) == EAI_SERVICE);  // no /etc/services
  CHECK(getaddrinfo("1.2.3.4", "70000", &hints, &res) == EAI_SERVICE);
}

TEST_CASE("resolver: names come from the hosts file through c-ares") {
  TempDir dir;
  // c-ares reads CARES_HOSTS instead of /etc/hosts when set (tests only).
  const std::string hosts =
      dir.write("hosts", "127.0.0.1 localhost\n10.9.8.7 kapi.joulie.test kapi\n");
  ::setenv("CARES_HOSTS", hosts.c_str(), 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_INET;
  addrinfo* res = nullptr;
  REQUIRE(getaddrinfo("kapi.joulie.test", "443", &hints, &res) == 0);
  int port = 0;
  CHECK(addresses(res, &port) == std::vector<std::string>{"10.9.8.7"});
  CHECK(port == 443);
  freeaddrinfo(res);

  auto r = joulie::net::resolve_host("kapi");
  REQUIRE(r.ok());
  CHECK(r.value().front() == "10.9.8.7");
  CHECK(joulie::net::resolve_host("[::1]").value() == std::vector<std::string>{"::1"});
  ::unsetenv("CARES_HOSTS");
}

TEST_CASE("resolver: an unknown name fails within the lookup budget") {
  TempDir dir;
  const std::string hosts = dir.write("hosts", "127.0.0.1 localhost\n");
  const std::string resolv = dir.write("resolv.conf", "nameserver 127.0.0.1\n");
  ::setenv("CARES_HOSTS", hosts.c_str(), 1);
  joulie::net::set_resolve_timeout(std::chrono::milliseconds(500));
  const auto start = std::chrono::steady_clock::now();
  auto r = joulie::net::resolve_host("nothing-here.joulie.invalid");
  CHECK_FALSE(r.ok());
  CHECK((r.code() == Errc::unavailable || r.code() == Errc::timeout));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
  joulie::net::set_resolve_timeout(std::chrono::milliseconds(5000));
  ::unsetenv("CARES_HOSTS");
}
