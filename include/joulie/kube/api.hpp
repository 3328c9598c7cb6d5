#pragma once
// The seam between the Kubernetes transport (kube/client.hpp: HTTP, auth, TLS, retries) and the
// layers above it (informers, leader election, events, operator, agent). Everything above talks to
// this interface, so unit tests drive those layers with an in-memory fake (test/unit/kube/).

#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "joulie/common/result.hpp"

namespace joulie::kube {

// A REST resource: /api/v1/nodes, /apis/joulie.io/v1alpha1/nodepowerprofiles, ...
struct Resource {
  std::string group;    // "" for core
  std::string version;  // "v1", "v1alpha1"
  std::string plural;   // "nodes"
  std::string kind;     // "Node"
  bool namespaced = false;

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  // Collection or object path; namespace ignored for cluster-scoped resources; subresource
  // ("status") appended when non-empty.
  std::string path(std::string_view ns = {}, std::string_view name = {},
                   std::string_view subresource = {}) const;
};

namespace resources {
extern const Resource nodes;
extern const Resource pods;
extern const Resource events;
extern const Resource leases;
extern const Resource config_maps;
extern const Resource node_power_profiles;
extern const Resource telemetry_profiles;
}  // namespace resources

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;  // 0: no pagination requested
  std::string continue_token;
  std::string resource_version;  // "" or "0"
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;  // start after this version
  bool allow_bookmarks = true;
  std::chrono::seconds server_timeout{300};             // timeoutSeconds sent to the server
  std::chrono::milliseconds read_idle_timeout{180000};  // nothing at all received → dead stream
};

enum class WatchEventType { added, modified, deleted, bookmark, error };

struct WatchEvent {
  WatchEventType type = WatchEventType::added;
  rapidjson::Document object;  // the object (or a Status for ERROR events)
};

// Return false to end the watch early (clean stop).
using WatchHandler = std::function<bool(WatchEvent&& event)>;

class Api {
 public:
  virtual ~Api() = default;

  virtual Result<rapidjson::Document> get(const Resource& r, std::string_view ns,
                                          std::string_view name) = 0;
  // One page: the whole List object (items, metadata.resourceVersion, metadata.continue).
  virtual Result<rapidjson::Document> list(const Resource& r, std::string_view ns,
                                           const ListOptions& options) = 0;
  virtual Result<rapidjson::Document> create(const Resource& r, std::string_view ns,
                                             const rapidjson::Value& object) = 0;
  // PUT; a stale metadata.resourceVersion gives Errc::conflict for the caller to re-read.
  virtual Result<rapidjson::Document> update(const Resource& r, std::string_view ns,
                                             const rapidjson::Value& object,
                                             std::string_view subresource = {}) = 0;
  // application/merge-patch+json
  virtual Result<rapidjson::Document> merge_patch(const Resource& r, std::string_view ns,
                                                  std::string_view name, std::string_view patch,
                                                  std::string_view subresource = {}) = 0;
  virtual Status remove(const Resource& r, std::string_view ns, std::string_view name) = 0;

  // Blocks, delivering decoded events to `handler` until the server ends the stream (Status ok),
  // the handler returns false or `stop` becomes true (ok), or the stream breaks / goes idle longer
  // than options.read_idle_timeout (error). An HTTP error before the stream starts is returned
  // as a typed error (e.g. Errc::gone, Errc::bad_request for a refused field selector).
  virtual Status watch(const Resource& r, std::string_view ns, const WatchOptions& options,
                       const WatchHandler& handler, const std::atomic<bool>& stop) = 0;
};

}  // namespace joulie::kube
