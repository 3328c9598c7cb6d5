#pragma once
// Paged listing over any Api: loops limit + continue and hands each page to the caller, so the
// whole collection is never held at once.

#include <functional>

#include "joulie/kube/api.hpp"

namespace joulie::kube {

// Called once per page with the List object (items, metadata). Return a failed Status to stop.
using PageHandler = std::function<Status(rapidjson::Document&& page)>;

// options.limit 0 means 500 per page. An expired continue token (410) is returned as
// Errc::gone: the caller lists again from the start.
Status list_all(Api& api, const Resource& r, std::string_view ns, ListOptions options,
                const PageHandler& on_page);

}  // namespace joulie::kube
