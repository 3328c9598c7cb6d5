#include <algorithm>

#include "joulie/kube/informer.hpp"

namespace joulie::kube {

const std::string& InternedString::empty() {
  static const std::string empty_string;
  return empty_string;
}

InternedString StringInterner::intern(std::string_view text) {
  if (text.empty()) {
    return {};
  }
  std::lock_guard lock(mutex_);
  auto it = pool_.find(text);
  if (it != pool_.end()) {
    if (auto live = it->second.lock()) {
      return InternedString(std::move(live));
    }
    auto fresh = std::make_shared<const std::string>(text);
    it->second = fresh;
    return InternedString(std::move(fresh));
  }
  auto fresh = std::make_shared<const std::string>(text);
  pool_.emplace(std::string(text), fresh);
  if (pool_.size() >= purge_at_) {
    purge_locked();
  }
  return InternedString(std::move(fresh));
}

size_t StringInterner::size() const {
  std::lock_guard lock(mutex_);
  return pool_.size();
}

void StringInterner::purge_locked() {
  std::erase_if(pool_, [](const auto& entry) { return entry.second.expired(); });
  purge_at_ = std::max<size_t>(1024, pool_.size() * 2);
}

}  // namespace joulie::kube
