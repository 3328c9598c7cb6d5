#pragma once
// Flags shared by every mode (docs/design.md#command-line-and-exit-codes) and the environment seam
// the parser reads through.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "joulie/common/log.hpp"

namespace joulie::config {

// Returns the value of an environment variable, nullopt when unset. Injected so that tests
// never touch the real environment; main() passes a getenv-backed lookup.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
EnvLookup process_env();

enum class OutputFormat { text, json };

struct GlobalConfig {
  std::vector<std::string> kubeconfig;  // --kubeconfig / KUBECONFIG, ':'-separated; empty = default
  std::string context;                  // --context / KUBE_CONTEXT; empty = current context
  log::Format log_format = log::Format::text;
  log::Level log_level = log::Level::info;
  std::string metrics_addr;  // --metrics-addr / METRICS_ADDR; operator ":8081", agent ":8080"
  double kube_qps = 20;
  int kube_burst = 40;
  // --kube-list-page-size / KUBE_LIST_PAGE_SIZE: list limit of every informer; 0 = no pagination.
  // Operator 1000, agent 500.
  int64_t kube_list_page_size = 500;
};

}  // namespace joulie::config
