#include "joulie/api/fnv.hpp"

#include <limits>

namespace joulie::api {

std::uint32_t shard_of(std::string_view node_name, std::uint32_t shards) {
  return shards <= 1 ? 0 : fnv1a32(node_name) % shards;
}

std::optional<std::uint32_t> shard_id_from_pod_name(std::string_view pod_name) {
  const auto dash = pod_name.rfind('-');
  if (dash == std::string_view::npos || dash + 1 == pod_name.size()) {
    return std::nullopt;
  }
  std::uint64_t id = 0;
  for (char c : pod_name.substr(dash + 1)) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    id = id * 10 + static_cast<std::uint64_t>(c - '0');
    if (id > std::numeric_limits<std::uint32_t>::max()) {
      return std::nullopt;
    }
  }
  return static_cast<std::uint32_t>(id);
}

}  // namespace joulie::api
