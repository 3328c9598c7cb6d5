#pragma once
// What `joulie operator --once` prints on stdout (docs/design.md#one-shot-output): exactly one JSON
// object with --output json, a short table otherwise.

#include <string>

#include "joulie/operator/reconciler.hpp"

namespace joulie::operator_mode {

// {"policy":"static_partition","dryRun":false,"managed":4,"performance":2,"nodes":[{"node":"n1",
// "state":"ActivePerformance","profile":"performance","label":"performance","capWatts":5000,
// "perfPods":0,"changed":true,"result":"applied"}, …]} — perfPods is null when pod data was
// unknown; a node whose writes failed also carries "error". With --dry-run, nothing is written
// and "applied" reads "planned". No trailing newline.
std::string format_pass_json(const PassResult& result);

// One header line, then one line per node.
std::string format_pass_text(const PassResult& result);

}  // namespace joulie::operator_mode
