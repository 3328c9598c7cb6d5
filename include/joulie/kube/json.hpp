#pragma once
// JSON from the API server: parsed with RapidJSON, objects only, with bounded nesting depth so a
// hostile or broken body (deeply nested arrays, multi-MiB garbage) is an error, never a crash.

#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "joulie/common/result.hpp"

namespace joulie::kube {

inline constexpr int kMaxJsonDepth = 256;

// Errc::parse for malformed JSON, a top-level value that is not an object, nesting deeper than
// max_depth, or an object with two members of the same name (ambiguous: first or last wins
// differ between readers; found by the api_codec fuzz target). The message gives the byte
// offset where there is one, never the content.
//
// Numbers (defined for every input; docs/decisions.md, "JSON numbers"):
// - an integer token (no '.', no exponent) that fits int64 (negative) or uint64 (otherwise) is
//   stored exactly as that integer; "-0" is the integer 0;
// - any other token is a double, correctly rounded (std::from_chars): "-0.0" is -0.0, "0e308"
//   is 0.0, 20-digit integers past uint64 are the nearest double, "1e-400" underflows to 0.0
//   (-0.0 with a minus sign);
// - a value beyond the range of double ("1e309", "1.8e308", a 400-digit integer) is a parse
//   error, not infinity.
// So to_json of a parsed document parses back to the same document and the same text.
Result<rapidjson::Document> parse_object(std::string_view text, int max_depth = kMaxJsonDepth);

std::string to_json(const rapidjson::Value& value);

}  // namespace joulie::kube
