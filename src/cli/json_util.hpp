#pragma once
// Lenient readers of API objects for the plugin: a missing or mistyped field is absent, never a
// crash (the objects come from the network).

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace joulie::cli {

inline const rapidjson::Value* field(const rapidjson::Value* v, std::string_view name) {
  if (v == nullptr || !v->IsObject()) return nullptr;
  auto it = v->FindMember(rapidjson::Value(
      rapidjson::StringRef(name.data(), static_cast<rapidjson::SizeType>(name.size()))));
  return it == v->MemberEnd() ? nullptr : &it->value;
}

inline std::optional<std::string> text(const rapidjson::Value* v, std::string_view name) {
  const rapidjson::Value* f = field(v, name);
  if (f == nullptr || !f->IsString()) return std::nullopt;
  return std::string(f->GetString(), f->GetStringLength());
}

inline std::optional<double> number(const rapidjson::Value* v, std::string_view name) {
  const rapidjson::Value* f = field(v, name);
  if (f == nullptr || !f->IsNumber()) return std::nullopt;
  return f->GetDouble();
}

inline std::optional<bool> boolean(const rapidjson::Value* v, std::string_view name) {
  const rapidjson::Value* f = field(v, name);
  if (f == nullptr || !f->IsBool()) return std::nullopt;
  return f->GetBool();
}

// The objects of a List (items), skipping anything that is not an object.
inline std::vector<const rapidjson::Value*> items(const rapidjson::Value* list) {
  std::vector<const rapidjson::Value*> out;
  const rapidjson::Value* array = field(list, "items");
  if (array == nullptr || !array->IsArray()) return out;
  for (const auto& item : array->GetArray()) {
    if (item.IsObject()) out.push_back(&item);
  }
  return out;
}

}  // namespace joulie::cli
