#include "joulie/policy/context.hpp"

namespace joulie::policy {

std::string_view to_string(SignalHealth health) {
  switch (health) {
    case SignalHealth::ok:
      return "ok";
    case SignalHealth::stale:
      return "stale";
    case SignalHealth::missing:
      return "missing";
    case SignalHealth::error:
      return "error";
  }
  return "missing";
}

double age_seconds(const Signal& signal, SystemTime now) {
  const auto age = std::chrono::duration<double>(now - signal.sampled_at).count();
  return age > 0 ? age : 0;
}

}  // namespace joulie::policy
