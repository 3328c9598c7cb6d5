#include "joulie/kube/retry.hpp"

#include <algorithm>
#include <cstdint>

namespace joulie::kube {

std::chrono::milliseconds backoff_delay(const RetryOptions& options, int retry, double jitter01) {
  int64_t delay = options.initial_backoff.count();
  for (int i = 1; i < retry && delay < options.max_backoff.count(); ++i) {
    delay *= 2;
  }
  delay = std::min<int64_t>(delay, options.max_backoff.count());
  const double factor = 0.5 + 0.5 * std::clamp(jitter01, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(delay) * factor));
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view header) {
  while (!header.empty() && (header.front() == ' ' || header.front() == '\t')) {
    header.remove_prefix(1);
  }
  while (!header.empty() && (header.back() == ' ' || header.back() == '\t')) {
    header.remove_suffix(1);
  }
  if (header.empty() || header.size() > 9) {
    return std::nullopt;
  }
  int64_t seconds = 0;
  for (char c : header) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    seconds = seconds * 10 + (c - '0');
  }
  return std::chrono::milliseconds(std::min<int64_t>(seconds, 600) * 1000);
}

bool retryable_status(int http_status) {
  return http_status == 429 || (http_status >= 500 && http_status != 501);
}

}  // namespace joulie::kube
