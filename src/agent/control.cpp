#include "joulie/agent/control.hpp"

namespace joulie::agent {

const char* backend_name(Backend backend) {
  switch (backend) {
    case Backend::none:
      return "none";
    case Backend::rapl:
      return "rapl";
    case Backend::dvfs:
      return "dvfs";
  }
  return "none";
}

const char* result_name(ApplyResult result) {
  switch (result) {
    case ApplyResult::none:
      return "none";
    case ApplyResult::applied:
      return "applied";
    case ApplyResult::blocked:
      return "blocked";
    case ApplyResult::error:
      return "error";
  }
  return "none";
}

}  // namespace joulie::agent
