#include "joulie/kube/pagination.hpp"
#include "joulie/kube/json_fields.hpp"

namespace joulie::kube {

Status list_all(Api& api, const Resource& r, std::string_view ns, ListOptions options,
                const PageHandler& on_page) {
  if (options.limit <= 0) {
    options.limit = 500;
  }
  options.continue_token.clear();
  for (;;) {
    auto page = api.list(r, ns, options);
    if (!page.ok()) {
      return page.error();
    }
    std::string next;
    // Const views: comparing RapidJSON's mutable member iterators is ambiguous in C++20.
    const rapidjson::Value& list = page.value();
    next = json::string_or_empty(json::object_at(list, "metadata"), "continue");
    if (Status s = on_page(std::move(page.value())); !s.ok()) {
      return s;
    }
    if (next.empty()) {
      return Status::success();
    }
    // The continue token pins the list's snapshot; resourceVersion must not be sent with it.
    options.resource_version.clear();
    options.continue_token = std::move(next);
  }
}

}  // namespace joulie::kube
