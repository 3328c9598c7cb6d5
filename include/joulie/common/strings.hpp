#pragma once

#include <string>
#include <vector>

namespace joulie {

// "a", "b" -> "a:b" with sep ':' (e.g. a KUBECONFIG list).
inline std::string join(const std::vector<std::string>& parts, char sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) {
      out += sep;
    }
    out += p;
  }
  return out;
}

}  // namespace joulie
