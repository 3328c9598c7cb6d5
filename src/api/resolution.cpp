#include "joulie/api/resolution.hpp"

#include <algorithm>

#include "joulie/api/names.hpp"

namespace joulie::api {
namespace {

template <typename T>
bool by_name(const T* a, const T* b) {
  return a->metadata.name < b->metadata.name;
}

}  // namespace

ProfileSelection select_node_power_profile(std::string_view node,
                                           std::span<const NodePowerProfile> profiles) {
  std::vector<const NodePowerProfile*> candidates;
  for (const auto& p : profiles) {
    if (p.spec.node_name == node) {
      candidates.push_back(&p);
    }
  }
  ProfileSelection out;
  if (candidates.empty()) {
    return out;
  }
  const std::string canonical = canonical_profile_name(node);
  const auto named = std::find_if(candidates.begin(), candidates.end(),
                                  [&](const auto* p) { return p->metadata.name == canonical; });
  // Only the canonical name owns the node: a foreign object alone is never applied, so that
  // deleting the operator's profiles restores the node (docs/operations.md, "One owner").
  out.winner = named != candidates.end() ? *named : nullptr;
  for (const auto* p : candidates) {
    if (p != out.winner) {
      out.losers.push_back(p);
    }
  }
  std::sort(out.losers.begin(), out.losers.end(), by_name<NodePowerProfile>);
  return out;
}

TelemetrySelection resolve_telemetry_profile(std::string_view node,
                                             std::span<const TelemetryProfile> profiles) {
  std::vector<const TelemetryProfile*> node_scoped;
  const TelemetryProfile* first_cluster = nullptr;
  for (const auto& p : profiles) {
    if (p.spec.scope == TargetScope::node && p.spec.node_name == node) {
      node_scoped.push_back(&p);
    } else if (p.spec.scope == TargetScope::cluster &&
               (first_cluster == nullptr || p.metadata.name < first_cluster->metadata.name)) {
      first_cluster = &p;
    }
  }
  TelemetrySelection out;
  if (node_scoped.empty()) {
    out.profile = first_cluster;
    return out;
  }
  std::sort(node_scoped.begin(), node_scoped.end(), by_name<TelemetryProfile>);
  out.profile = node_scoped.front();
  out.duplicates.assign(node_scoped.begin() + 1, node_scoped.end());
  return out;
}

std::string url_escape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                            (byte >= '0' && byte <= '9') || byte == '-' || byte == '.' ||
                            byte == '_' || byte == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0f]);
    }
  }
  return out;
}

std::string expand_endpoint(std::string_view endpoint, std::string_view node) {
  static constexpr std::string_view kPlaceholder = "{node}";
  const std::string escaped = url_escape(node);
  std::string out;
  out.reserve(endpoint.size() + escaped.size());
  std::size_t pos = 0;
  while (true) {
    const auto hit = endpoint.find(kPlaceholder, pos);
    if (hit == std::string_view::npos) {
      out.append(endpoint.substr(pos));
      return out;
    }
    out.append(endpoint.substr(pos, hit - pos));
    out.append(escaped);
    pos = hit + kPlaceholder.size();
  }
}

}  // namespace joulie::api
