#pragma once
// Retry timing for 429 and 5xx answers: exponential backoff with jitter, or the server's
// Retry-After when it sends one, within a bounded number of attempts and total time.

#include <chrono>
#include <optional>
#include <string_view>

namespace joulie::kube {

struct RetryOptions {
  int max_attempts = 5;  // including the first one; 1 disables retries
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{10000};
  std::chrono::milliseconds max_total{30000};  // no retry starts after this much time
};

// Delay before retry number `retry` (1 for the first retry): initial * 2^(retry-1), capped at
// max_backoff, scaled by a jitter factor in [0.5, 1] from `jitter01` in [0, 1).
std::chrono::milliseconds backoff_delay(const RetryOptions& options, int retry, double jitter01);

// Retry-After in delta-seconds ("3"); HTTP dates and garbage give nullopt. Capped at 10 min.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view header);

// Whether an HTTP status is worth retrying (429 and 5xx, except 501 Not Implemented).
bool retryable_status(int http_status);

}  // namespace joulie::kube
