// Temporary: operator mode lands in a following commit.
#include "joulie/common/log.hpp"
#include "joulie/operator/run.hpp"

namespace joulie::operator_mode {
int run_operator(const config::OperatorConfig& /*config*/) {
  log::error("operator", "operator mode not built yet");
  return 1;
}
}  // namespace joulie::operator_mode
