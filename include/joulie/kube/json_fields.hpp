#pragma once
// Reading fields of parsed JSON (API server objects, Status bodies, policy inputs): one member
// lookup with a typed answer, so no reader hand-writes FindMember/Is*/Get* again. Every
// function answers "absent" (nullptr or std::nullopt) when the parent is null or not an object,
// when the member is missing, or when it has another type; it never asserts, whatever the input.
//
// Header-only: the api and policy areas read JSON too but sit beside kube in the layering, so
// they use these without linking the kube library.

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace joulie::kube::json {

// The member `name` of `object`, of any type; nullptr when absent.
inline const rapidjson::Value* member(const rapidjson::Value* object, std::string_view name) {
  if (object == nullptr || !object->IsObject()) {
    return nullptr;
  }
  // A StringRef with an explicit length: names need not be NUL-terminated.
  const auto it = object->FindMember(rapidjson::Value(
      rapidjson::StringRef(name.data(), static_cast<rapidjson::SizeType>(name.size()))));
  return it == object->MemberEnd() ? nullptr : &it->value;
}
inline const rapidjson::Value* member(const rapidjson::Value& object, std::string_view name) {
  return member(&object, name);
}

// A member that is present and not null (an unset optional field may be written as null).
inline const rapidjson::Value* present(const rapidjson::Value* object, std::string_view name) {
  const rapidjson::Value* v = member(object, name);
  return v != nullptr && !v->IsNull() ? v : nullptr;
}
inline const rapidjson::Value* present(const rapidjson::Value& object, std::string_view name) {
  return present(&object, name);
}

// An object-valued member; nullptr when absent or not an object.
inline const rapidjson::Value* object_at(const rapidjson::Value* object, std::string_view name) {
  const rapidjson::Value* v = member(object, name);
  return v != nullptr && v->IsObject() ? v : nullptr;
}
inline const rapidjson::Value* object_at(const rapidjson::Value& object, std::string_view name) {
  return object_at(&object, name);
}

// An array-valued member; nullptr when absent or not an array.
inline const rapidjson::Value* array_at(const rapidjson::Value* object, std::string_view name) {
  const rapidjson::Value* v = member(object, name);
  return v != nullptr && v->IsArray() ? v : nullptr;
}
inline const rapidjson::Value* array_at(const rapidjson::Value& object, std::string_view name) {
  return array_at(&object, name);
}

// A string member, viewing the document's storage (valid while the document lives).
inline std::optional<std::string_view> string_at(const rapidjson::Value* object,
                                                 std::string_view name) {
  const rapidjson::Value* v = member(object, name);
  if (v == nullptr || !v->IsString()) {
    return std::nullopt;
  }
  return std::string_view(v->GetString(), v->GetStringLength());
}
inline std::optional<std::string_view> string_at(const rapidjson::Value& object,
                                                 std::string_view name) {
  return string_at(&object, name);
}

// A string member, or "" when absent or not a string (for fields where absent and empty mean
// the same: names, reasons, messages).
inline std::string_view string_or_empty(const rapidjson::Value* object, std::string_view name) {
  return string_at(object, name).value_or(std::string_view{});
}
inline std::string_view string_or_empty(const rapidjson::Value& object, std::string_view name) {
  return string_or_empty(&object, name);
}

// An integer member that fits int64 (a number with a fraction or beyond int64 is absent).
inline std::optional<std::int64_t> int_at(const rapidjson::Value* object, std::string_view name) {
  const rapidjson::Value* v = member(object, name);
  if (v == nullptr || !v->IsInt64()) {
    return std::nullopt;
  }
  return v->GetInt64();
}
inline std::optional<std::int64_t> int_at(const rapidjson::Value& object, std::string_view name) {
  return int_at(&object, name);
}

// Any number member (integer or not) as a double.
inline std::optional<double> number_at(const rapidjson::Value* object, std::string_view name) {
  const rapidjson::Value* v = member(object, name);
  if (v == nullptr || !v->IsNumber()) {
    return std::nullopt;
  }
  return v->GetDouble();
}
inline std::optional<double> number_at(const rapidjson::Value& object, std::string_view name) {
  return number_at(&object, name);
}

// A boolean member (JSON true/false only; no "true" strings, no numbers).
inline std::optional<bool> bool_at(const rapidjson::Value* object, std::string_view name) {
  const rapidjson::Value* v = member(object, name);
  if (v == nullptr || !v->IsBool()) {
    return std::nullopt;
  }
  return v->GetBool();
}
inline std::optional<bool> bool_at(const rapidjson::Value& object, std::string_view name) {
  return bool_at(&object, name);
}

}  // namespace joulie::kube::json
