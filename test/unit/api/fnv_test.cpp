#include <catch2/catch.hpp>

#include <array>
#include <string>

#include "joulie/api/fnv.hpp"

using joulie::api::fnv1a32;
using joulie::api::shard_id_from_pod_name;
using joulie::api::shard_of;

TEST_CASE("FNV-1a 32 matches Go's hash/fnv vectors") {
  CHECK(fnv1a32("kwok-node-17") == 1950740327u);
  CHECK(fnv1a32("node-a") == 0x04c3b593u);
  CHECK(fnv1a32("") == 0x811c9dc5u);
  // Bytes ≥ 0x80 are hashed as unsigned octets (as Go does for a string's bytes).
  CHECK(fnv1a32("\xff") == ((0x811c9dc5u ^ 0xffu) * 0x01000193u));
  static_assert(fnv1a32("node-a") == 0x04c3b593u, "usable at compile time");
}

TEST_CASE("kwok-node-0..499 spread over 5 shards as in the reference") {
  std::array<int, 5> counts{};
  for (int i = 0; i < 500; ++i) {
    ++counts.at(shard_of("kwok-node-" + std::to_string(i), 5));
  }
  CHECK(counts == std::array<int, 5>{102, 99, 94, 102, 103});
}

TEST_CASE("shard of a name") {
  CHECK(shard_of("kwok-node-17", 5) == 1950740327u % 5);
  CHECK(shard_of("anything", 1) == 0);
  CHECK(shard_of("anything", 0) == 0);  // never divides by zero
}

TEST_CASE("shard id from the StatefulSet pod name") {
  CHECK(shard_id_from_pod_name("joulie-agent-pool-3") == 3u);
  CHECK(shard_id_from_pod_name("pool-0") == 0u);
  CHECK(shard_id_from_pod_name("pool-12") == 12u);
  CHECK_FALSE(shard_id_from_pod_name("joulie-agent-7f9c4").has_value());
  CHECK_FALSE(shard_id_from_pod_name("pool-").has_value());
  CHECK_FALSE(shard_id_from_pod_name("pool").has_value());
  CHECK_FALSE(shard_id_from_pod_name("").has_value());
  CHECK_FALSE(shard_id_from_pod_name("pool-99999999999999999999").has_value());
}
