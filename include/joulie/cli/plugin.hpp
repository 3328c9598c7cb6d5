#pragma once
// `kubectl joulie` (docs/kubectl-plugin.md): the same binary, run as `kubectl-joulie` (kubectl's
// plugin discovery finds it on PATH) or as `joulie ctl`. Subcommands: status, explain NODE,
// plan, pause, resume. Exit codes as kubectl: 0 success, 1 runtime error, 2 usage error.

#include <string>
#include <string_view>
#include <vector>

namespace joulie::cli {

// Whether argv[0] names the plugin (its base name is kubectl-joulie).
bool is_plugin_program(std::string_view argv0);

// `args` are the arguments after the program name (kubectl-joulie) or after `joulie ctl`.
int run_plugin(const std::vector<std::string>& args);

}  // namespace joulie::cli
