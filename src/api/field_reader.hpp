#pragma once
// Reads typed, optional fields out of untrusted JSON objects, remembering the first problem so
// that decoders stay linear. Every accessor takes the field's full dotted path; the key looked
// up in `parent` is its last segment, and the path is what error messages show.

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "joulie/common/clock.hpp"
#include "joulie/common/result.hpp"

namespace joulie::api::detail {

class FieldReader {
 public:
  // `what` prefixes every message, e.g. NodePowerProfile "node-a".
  explicit FieldReader(std::string what) : what_(std::move(what)) {}

  // nullptr when absent or null (or after an earlier failure); a non-object is Errc::parse.
  const rapidjson::Value* object(const rapidjson::Value* parent, std::string_view path);
  const rapidjson::Value* array(const rapidjson::Value* parent, std::string_view path);
  std::optional<std::string> string(const rapidjson::Value* parent, std::string_view path);
  // Finite numbers only.
  std::optional<double> number(const rapidjson::Value* parent, std::string_view path);
  std::optional<std::int64_t> integer(const rapidjson::Value* parent, std::string_view path);
  std::optional<SystemTime> time(const rapidjson::Value* parent, std::string_view path);

  // Records an error (the first one wins) naming `path`.
  void fail(Errc code, std::string_view path, std::string_view why);
  // Adopts an error from a parser (enum names): keeps its message, names the path.
  void fail(std::string_view path, const Error& error) { fail(error.code, path, error.message); }

  void rename(std::string what) { what_ = std::move(what); }
  bool failed() const { return error_.has_value(); }
  const Error& error() const { return *error_; }

 private:
  const rapidjson::Value* member(const rapidjson::Value* parent, std::string_view path);

  std::string what_;
  std::optional<Error> error_;
};

}  // namespace joulie::api::detail
