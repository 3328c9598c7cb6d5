#pragma once
// JSON from the API server: parsed with RapidJSON, objects only, with bounded nesting depth so a
// hostile or broken body (deeply nested arrays, multi-MiB garbage) is an error, never a crash.

#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "joulie/common/result.hpp"

namespace joulie::kube {

inline constexpr int kMaxJsonDepth = 256;

// Errc::parse for malformed JSON, a top-level value that is not an object, or nesting deeper
// than max_depth. The message gives the byte offset, never the content.
Result<rapidjson::Document> parse_object(std::string_view text, int max_depth = kMaxJsonDepth);

std::string to_json(const rapidjson::Value& value);

}  // namespace joulie::kube
