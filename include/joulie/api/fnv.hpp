#pragma once
// FNV-1a 32-bit exactly as Go's hash/fnv New32a, and the pool-mode sharding built on it
// (docs/design.md#agent-configuration): a node belongs to shard fnv1a32(name) mod shards.

#include <cstdint>
#include <optional>
#include <string_view>

namespace joulie::api {

inline constexpr std::uint32_t kFnv32Offset = 0x811c9dc5u;
inline constexpr std::uint32_t kFnv32Prime = 0x01000193u;

constexpr std::uint32_t fnv1a32(std::string_view data) {
  std::uint32_t hash = kFnv32Offset;
  for (char c : data) {
    hash ^= static_cast<std::uint8_t>(c);
    hash *= kFnv32Prime;
  }
  return hash;
}

// The shard owning `node_name`; `shards` must be ≥ 1 (callers validate configuration first;
// 0 is treated as 1 so a bad value can never divide by zero).
std::uint32_t shard_of(std::string_view node_name, std::uint32_t shards);

// The shard id encoded in a StatefulSet pod name ("joulie-agent-pool-3" → 3): the decimal
// digits after the last '-'. nullopt when there is no such suffix or it does not fit.
std::optional<std::uint32_t> shard_id_from_pod_name(std::string_view pod_name);

}  // namespace joulie::api
