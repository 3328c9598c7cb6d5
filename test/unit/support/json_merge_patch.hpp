#pragma once
// RFC 7386 JSON merge patch on rapidjson values, for test doubles and fuzz checks (the fake API
// server's PATCH and the api_codec fuzz target's round trips). Header-only, rapidjson only, so
// that the clang libFuzzer build can use it as well.

#include <rapidjson/document.h>

namespace joulie::test {

// Applies `patch` to `target`: objects merge member-wise, null removes a member, anything else
// replaces.
inline void json_merge_patch(rapidjson::Value& target, const rapidjson::Value& patch,
                             rapidjson::Document::AllocatorType& alloc) {
  if (!patch.IsObject()) {
    target.CopyFrom(patch, alloc);
    return;
  }
  if (!target.IsObject()) {
    target.SetObject();
  }
  for (const auto& m : patch.GetObject()) {
    if (m.value.IsNull()) {
      target.RemoveMember(m.name);
      continue;
    }
    // HasMember, not FindMember() == MemberEnd(): clang in C++20 warns that rapidjson's iterator
    // comparison is ambiguous with its reversed form.
    if (!target.HasMember(m.name)) {
      rapidjson::Value name(m.name, alloc);
      rapidjson::Value value;
      json_merge_patch(value, m.value, alloc);
      target.AddMember(name, value, alloc);
    } else {
      json_merge_patch(target[m.name], m.value, alloc);
    }
  }
}

}  // namespace joulie::test
