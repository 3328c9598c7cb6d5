#include "joulie/api/names.hpp"

#include <fmt/format.h>

#include "joulie/api/fnv.hpp"

namespace joulie::api {
namespace {

constexpr std::string_view kPrefix = "node-";

bool is_plain_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

char to_lower_ascii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

void trim_dashes(std::string& s) {
  const auto first = s.find_first_not_of('-');
  if (first == std::string::npos) {
    s.clear();
    return;
  }
  const auto last = s.find_last_not_of('-');
  s = s.substr(first, last - first + 1);
}

}  // namespace

std::string canonical_profile_name(std::string_view node) {
  bool plain =
      !node.empty() && node.back() != '-' && kPrefix.size() + node.size() <= kMaxObjectNameLength;
  for (char c : node) {
    plain = plain && is_plain_char(c);
  }
  if (plain) {
    std::string name;  // (called several times per node and pass: no format string)
    name.reserve(kPrefix.size() + node.size());
    return name.append(kPrefix).append(node);
  }

  // Not usable verbatim (other characters, empty, trailing '-', too long): a readable form
  // plus the hash of the original name keeps distinct nodes apart.
  std::string readable;
  readable.reserve(node.size());
  for (char c : node) {
    const char lower = to_lower_ascii(c);
    readable.push_back(is_plain_char(lower) ? lower : '-');
  }
  trim_dashes(readable);
  const std::string hash = fmt::format("{:08x}", fnv1a32(node));
  const std::size_t room = kMaxObjectNameLength - kPrefix.size() - 1 - hash.size();
  if (readable.size() > room) {
    readable.resize(room);
    trim_dashes(readable);
  }
  if (readable.empty()) {
    return fmt::format("{}{}", kPrefix, hash);
  }
  return fmt::format("{}{}-{}", kPrefix, readable, hash);
}

}  // namespace joulie::api
