#pragma once
// Client-side token bucket (client-go's QPS/burst): `burst` requests may go at once, then `qps`
// per second. Reservations may drive the bucket negative so concurrent callers queue in order.

#include <chrono>
#include <mutex>

#include "joulie/common/clock.hpp"

namespace joulie::kube {

class TokenBucket {
 public:
  // qps <= 0 disables limiting.
  TokenBucket(double qps, int burst, const Clock& clock);

  // Takes one token and returns how long the caller must wait before sending (zero if none).
  std::chrono::nanoseconds reserve();

 private:
  const double qps_;
  const double burst_;
  const Clock& clock_;
  std::mutex mutex_;
  double tokens_;
  SteadyTime last_;
};

}  // namespace joulie::kube
