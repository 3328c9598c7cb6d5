#pragma once
// Output helpers of the plugin (private to src/cli): kubectl-style tables, ages, JSON and YAML.

#include <rapidjson/document.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace joulie::cli {

// kubectl's age format: 45s, 5m3s, 65m, 5h3m, 26h, 3d4h, 12d.
std::string human_duration(std::chrono::seconds d);

// Columns separated by three spaces, each padded to its widest cell (the first row is the
// header, upper case by convention). No colour: the output is the same on a terminal or a pipe.
std::string table(const std::vector<std::vector<std::string>>& rows);

std::string to_json(const rapidjson::Value& value);  // indented, ends with a newline
std::string to_yaml(const rapidjson::Value& value);  // block style, ends with a newline

// "120W", "-" when absent.
std::string watts_text(const std::optional<double>& w);

}  // namespace joulie::cli
