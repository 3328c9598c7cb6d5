#pragma once
// The plugin's commands and the reads they share (private to src/cli).

#include <rapidjson/document.h>

#include <memory>
#include <optional>
#include <string>

#include "joulie/common/result.hpp"
#include "joulie/kube/api.hpp"
#include "options.hpp"
#include "status.hpp"

namespace joulie::cli {

struct StatusData {
  rapidjson::Document nodes, npps, pods;
  std::optional<rapidjson::Document> lease, control;
};
Result<StatusData> read_status(kube::Api& api, const Options& o);
StatusView view_of(const StatusData& d);

void print(const std::string& text);
int fail(const std::string& message);  // "error: ..." on stderr, exit 1

int cmd_plan(kube::Api& api, const Options& o);
int cmd_explain(kube::Api& api, const Options& o);

}  // namespace joulie::cli
