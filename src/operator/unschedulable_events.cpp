#include "joulie/operator/unschedulable_events.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace joulie::operator_mode {

namespace {

constexpr std::size_t kMaxSelectorEntries = 4;
// Below the API server's 1 KiB message limit, which the recorder would cut mid-sentence.
constexpr std::size_t kMaxMessageBytes = 1000;

// What the pod asks of a node beyond its size, in a few words.
std::string placement_text(const policy::PodRequirement& r, std::string_view profile_key) {
  std::string out;
  std::size_t shown = 0;
  std::size_t hidden = 0;
  for (const auto& [key, value] : r.node_selector) {
    if (key == profile_key) {
      continue;  // every performance pod says this; it is what Joulie supplies
    }
    if (shown == kMaxSelectorEntries) {
      ++hidden;
      continue;
    }
    out += fmt::format("{}{}={}", shown == 0 ? "; nodeSelector " : ", ", key, value);
    ++shown;
  }
  if (hidden > 0) {
    out += fmt::format(" (+{} more)", hidden);
  }
  if (r.has_required_affinity) {
    out += fmt::format("; required node affinity ({} term(s))", r.terms.size());
  }
  if (!r.tolerations.empty()) {
    out += fmt::format("; {} toleration(s)", r.tolerations.size());
  }
  return out;
}

}  // namespace

std::vector<const policy::UnschedulablePod*> UnschedulableNotifier::due(
    const std::vector<policy::UnschedulablePod>& pods, SteadyTime now) {
  // Expired entries go first, so a pod still unschedulable an interval later is told again and
  // the memory holds at most the pods told within one interval.
  std::erase_if(last_sent_,
                [&](const auto& entry) { return now - entry.second >= options_.interval; });
  std::vector<const policy::UnschedulablePod*> out;
  for (const auto& pod : pods) {
    if (last_sent_.contains(pod.pod)) {
      continue;
    }
    if (out.size() >= options_.max_per_pass || last_sent_.size() >= options_.max_remembered) {
      ++deferred_;
      continue;
    }
    last_sent_.emplace(pod.pod, now);
    out.push_back(&pod);
  }
  return out;
}

kube::NodeRef pod_ref(const policy::UnschedulablePod& pod) {
  kube::NodeRef ref;
  ref.kind = "Pod";
  const auto slash = pod.pod.find('/');
  if (slash == std::string::npos) {
    ref.ns = "default";
    ref.name = pod.pod;
  } else {
    ref.ns = pod.pod.substr(0, slash);
    ref.name = pod.pod.substr(slash + 1);
  }
  ref.uid = pod.uid;
  return ref;
}

std::string format_cpu(std::int64_t milli) {
  if (milli % 1000 == 0) {
    return fmt::format("{}", milli / 1000);
  }
  return fmt::format("{}m", milli);
}

std::string format_memory(std::int64_t bytes) {
  static constexpr std::pair<std::int64_t, const char*> kUnits[] = {
      {1LL << 40, "Ti"}, {1LL << 30, "Gi"}, {1LL << 20, "Mi"}, {1LL << 10, "Ki"}};
  if (bytes == 0) {
    return "0";
  }
  for (const auto& [size, suffix] : kUnits) {
    if (bytes % size == 0) {
      return fmt::format("{}{}", bytes / size, suffix);
    }
  }
  return fmt::format("{}", bytes);
}

std::string unschedulable_message(const policy::UnschedulablePod& pod,
                                  std::string_view profile_key) {
  std::string out = fmt::format(
      "fits no managed node even at performance, so no node is made performance for it: {} "
      "It requests cpu {}, memory {}",
      pod.reason, format_cpu(pod.request.cpu_milli), format_memory(pod.request.memory_bytes));
  if (pod.requirement) {
    out += placement_text(*pod.requirement, profile_key);
  }
  if (pod.matching_nodes == 0) {
    out += ". No managed node matches its placement (labels, affinity, taints).";
  } else {
    out += fmt::format(
        ". Of the {} node(s) matching its placement, the most free has cpu {}, memory {} "
        "(allocatable minus the bound pods' requests).",
        pod.matching_nodes, format_cpu(std::max<std::int64_t>(0, pod.most_free.cpu_milli)),
        format_memory(std::max<std::int64_t>(0, pod.most_free.memory_bytes)));
  }
  if (out.size() > kMaxMessageBytes) {
    std::size_t cut = kMaxMessageBytes - 3;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) {
      --cut;  // a UTF-8 character boundary
    }
    out.resize(cut);
    out += "...";
  }
  return out;
}

}  // namespace joulie::operator_mode
