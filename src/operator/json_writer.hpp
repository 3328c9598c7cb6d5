#pragma once
// Writing the operator's JSON documents (the pass report of --once, the status on the Lease):
// the few RapidJSON writer helpers both need, written once.

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstdint>
#include <string_view>

// Named json_out, not json: the unity build compiles this beside context.cpp, whose `json` is
// kube::json (reading).
namespace joulie::operator_mode::json_out {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

inline void string(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

inline void key_string(Writer& w, const char* key, std::string_view value) {
  w.Key(key);
  string(w, value);
}

// Whole numbers print as integers (5000, not 5000.0), like the reference.
inline void number(Writer& w, double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9e15) {
    w.Int64(static_cast<std::int64_t>(v));
  } else {
    w.Double(v);
  }
}

}  // namespace joulie::operator_mode::json_out
