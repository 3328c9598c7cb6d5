#include "field_reader.hpp"

#include <fmt/format.h>

#include <cmath>

#include "joulie/common/duration.hpp"
#include "joulie/kube/json_fields.hpp"

namespace joulie::api::detail {

const rapidjson::Value* FieldReader::member(const rapidjson::Value* parent, std::string_view path) {
  if (failed() || parent == nullptr || !parent->IsObject()) {
    return nullptr;
  }
  const auto dot = path.rfind('.');
  const std::string_view key = dot == std::string_view::npos ? path : path.substr(dot + 1);
  return kube::json::present(parent, key);
}

void FieldReader::fail(Errc code, std::string_view path, std::string_view why) {
  if (!failed()) {
    error_ = Error(code, fmt::format("{}: {}: {}", what_, path, why));
  }
}

const rapidjson::Value* FieldReader::object(const rapidjson::Value* parent, std::string_view path) {
  const auto* v = member(parent, path);
  if (v != nullptr && !v->IsObject()) {
    fail(Errc::parse, path, "must be an object");
    return nullptr;
  }
  return v;
}

const rapidjson::Value* FieldReader::array(const rapidjson::Value* parent, std::string_view path) {
  const auto* v = member(parent, path);
  if (v != nullptr && !v->IsArray()) {
    fail(Errc::parse, path, "must be an array");
    return nullptr;
  }
  return v;
}

std::optional<std::string> FieldReader::string(const rapidjson::Value* parent,
                                               std::string_view path) {
  const auto* v = member(parent, path);
  if (v == nullptr) {
    return std::nullopt;
  }
  if (!v->IsString()) {
    fail(Errc::parse, path, "must be a string");
    return std::nullopt;
  }
  return std::string(v->GetString(), v->GetStringLength());
}

std::optional<double> FieldReader::number(const rapidjson::Value* parent, std::string_view path) {
  const auto* v = member(parent, path);
  if (v == nullptr) {
    return std::nullopt;
  }
  if (!v->IsNumber()) {
    fail(Errc::parse, path, "must be a number");
    return std::nullopt;
  }
  const double d = v->GetDouble();
  if (!std::isfinite(d)) {
    fail(Errc::invalid, path, "must be a finite number");
    return std::nullopt;
  }
  return d;
}

std::optional<std::int64_t> FieldReader::integer(const rapidjson::Value* parent,
                                                 std::string_view path) {
  const auto* v = member(parent, path);
  if (v == nullptr) {
    return std::nullopt;
  }
  if (!v->IsInt64()) {
    fail(Errc::parse, path, "must be an integer");
    return std::nullopt;
  }
  return v->GetInt64();
}

std::optional<SystemTime> FieldReader::time(const rapidjson::Value* parent, std::string_view path) {
  const auto text = string(parent, path);
  if (!text) {
    return std::nullopt;
  }
  auto parsed = parse_rfc3339(*text);
  if (!parsed.ok()) {
    fail(Errc::parse, path, fmt::format("not an RFC 3339 time: \"{}\"", *text));
    return std::nullopt;
  }
  return *parsed;
}

}  // namespace joulie::api::detail
