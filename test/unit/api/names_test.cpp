#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "joulie/api/fnv.hpp"
#include "joulie/api/names.hpp"

using joulie::api::canonical_profile_name;

namespace {

// What a valid Kubernetes object name (DNS-1123 subdomain) looks like.
bool valid_object_name(const std::string& name) {
  if (name.empty() || name.size() > 253) {
    return false;
  }
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) {
      return false;
    }
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return alnum(name.front()) && alnum(name.back());
}

std::string hash_hex(std::string_view s) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", joulie::api::fnv1a32(s));
  return buf;
}

}  // namespace

TEST_CASE("plain node names are prefixed verbatim") {
  CHECK(canonical_profile_name("worker-01") == "node-worker-01");
  CHECK(canonical_profile_name("kwok-node-17") == "node-kwok-node-17");
  CHECK(canonical_profile_name("a") == "node-a");
}

TEST_CASE("other characters become dashes and the original name's hash is appended") {
  CHECK(canonical_profile_name("a.b") == "node-a-b-" + hash_hex("a.b"));
  CHECK(canonical_profile_name("Worker-01") == "node-worker-01-" + hash_hex("Worker-01"));
  CHECK(canonical_profile_name("ip-10-0-0-1.ec2.internal") ==
        "node-ip-10-0-0-1-ec2-internal-" + hash_hex("ip-10-0-0-1.ec2.internal"));
  // Leading and trailing separators are trimmed before the hash is added.
  CHECK(canonical_profile_name(".gpu.") == "node-gpu-" + hash_hex(".gpu."));
}

TEST_CASE("names that differ only in separators or case never collide") {
  const std::set<std::string> names = {canonical_profile_name("a.b"), canonical_profile_name("a-b"),
                                       canonical_profile_name("a_b"), canonical_profile_name("A-B"),
                                       canonical_profile_name("a-B")};
  CHECK(names.size() == 5);
  CHECK(canonical_profile_name("a-b") == "node-a-b");
}

TEST_CASE("names that become empty after trimming keep only the hash") {
  for (const std::string node : {"...", "_", "", "---", "\xC3\xA9"}) {
    INFO(node);
    const auto name = canonical_profile_name(node);
    CHECK(name == "node-" + hash_hex(node));
    CHECK(valid_object_name(name));
  }
}

TEST_CASE("a name with a trailing dash would be invalid verbatim, so it is hashed") {
  const auto name = canonical_profile_name("edge-");
  CHECK(name == "node-edge-" + hash_hex("edge-"));
  CHECK(valid_object_name(name));
}

TEST_CASE("long names are truncated to fit 253 characters, keeping the hash") {
  const std::string long_mixed = "Rack." + std::string(300, 'x');
  const auto name = canonical_profile_name(long_mixed);
  CHECK(name.size() == 253);
  CHECK(name.substr(name.size() - 8) == hash_hex(long_mixed));
  CHECK(name[name.size() - 9] == '-');
  CHECK(name.rfind("node-rack-xxx", 0) == 0);
  CHECK(valid_object_name(name));

  // Already-plain names are used verbatim up to the limit, hashed beyond it.
  const std::string plain_fits(248, 'a');
  CHECK(canonical_profile_name(plain_fits) == "node-" + plain_fits);
  const std::string plain_too_long(249, 'a');
  const auto hashed = canonical_profile_name(plain_too_long);
  CHECK(hashed.size() == 253);
  CHECK(hashed != canonical_profile_name(std::string(250, 'a')));
  CHECK(valid_object_name(hashed));

  // Truncation landing on a separator must not leave a dangling dash before the hash.
  std::string dotted(238, 'b');
  dotted += ".........c";
  const auto cut = canonical_profile_name(dotted);
  CHECK(valid_object_name(cut));
  CHECK(cut.find("--") == std::string::npos);
}
