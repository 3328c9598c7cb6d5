#include "joulie/config/global.hpp"

#include <cstdlib>

#include "flag_set.hpp"

namespace joulie::config {

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
}

namespace detail {

namespace {

std::string format_qps(double qps) {
  // 100 -> "100", 2.5 -> "2.5": the default as a user would type it.
  std::string text = std::to_string(qps);
  text.erase(text.find_last_not_of('0') + 1);
  if (!text.empty() && text.back() == '.') {
    text.pop_back();
  }
  return text;
}

}  // namespace

std::vector<FlagSpec> global_flag_specs(const GlobalDefaults& defaults) {
  return {
      {"kubeconfig", "KUBECONFIG", "in-cluster, then ~/.kube/config",
       "kubeconfig file(s), several separated by ':'", "PATHS"},
      {"context", "KUBE_CONTEXT", "the kubeconfig's current context", "kubeconfig context to use",
       "NAME"},
      {"log-format", "LOG_FORMAT", "text", "log line format: text or json", "FORMAT"},
      {"log-level", "LOG_LEVEL", "info", "debug, info, warn or error", "LEVEL"},
      {"metrics-addr", "METRICS_ADDR", std::string(defaults.metrics_addr),
       "listen address of /metrics, /healthz and /readyz", "ADDR"},
      {"kube-qps", "KUBE_QPS", format_qps(defaults.kube_qps), "sustained API server request rate",
       "QPS"},
      {"kube-burst", "KUBE_BURST", std::to_string(defaults.kube_burst), "API server request burst",
       "N"},
      {"kube-list-page-size", "KUBE_LIST_PAGE_SIZE", std::to_string(defaults.list_page_size),
       "objects per page of the informers' lists; 0 = one unpaginated list", "N"},
  };
}

GlobalConfig read_global(Resolver& r, const GlobalDefaults& defaults) {
  GlobalConfig g;
  std::string kubeconfig = r.text("kubeconfig", "");
  size_t start = 0;
  while (start <= kubeconfig.size()) {
    size_t colon = kubeconfig.find(':', start);
    if (colon == std::string::npos) {
      colon = kubeconfig.size();
    }
    if (colon > start) {  // empty entries ("a::b", a trailing ':') are ignored like kubectl does
      g.kubeconfig.push_back(kubeconfig.substr(start, colon - start));
    }
    start = colon + 1;
  }
  g.context = r.text("context", "");
  g.log_format = r.choice("log-format", log::Format::text,
                          {{"text", log::Format::text}, {"json", log::Format::json}});
  g.log_level = r.choice("log-level", log::Level::info,
                         {{"debug", log::Level::debug},
                          {"info", log::Level::info},
                          {"warn", log::Level::warn},
                          {"error", log::Level::error}});
  g.metrics_addr = r.text("metrics-addr", std::string(defaults.metrics_addr), listen_address);
  g.kube_qps =
      r.number("kube-qps", defaults.kube_qps, [](const double& v) -> std::optional<std::string> {
        if (!(v > 0)) {
          return "must be greater than 0";
        }
        return std::nullopt;
      });
  g.kube_burst = static_cast<int>(r.integer("kube-burst", defaults.kube_burst,
                                            [](const int64_t& v) -> std::optional<std::string> {
                                              if (v < 1 || v > 1000000) {
                                                return "must be between 1 and 1000000";
                                              }
                                              return std::nullopt;
                                            }));
  // Every page is one rate-limited request (see kOperatorListPageSize). 0 asks for one
  // unpaginated list.
  g.kube_list_page_size = r.integer("kube-list-page-size", defaults.list_page_size,
                                    [](const int64_t& v) -> std::optional<std::string> {
                                      if (v < 0) {
                                        return "must not be negative (0 lists without pages)";
                                      }
                                      return std::nullopt;
                                    });
  return g;
}

}  // namespace detail
}  // namespace joulie::config
