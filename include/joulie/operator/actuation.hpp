#pragma once
// The ActuationAdapter (docs/architecture.md#roles): where the operator's bytes are written. Two
// halves:
//  - pure planning: from what a node has (cached label, annotation, NodePowerProfile) and what it
//    should have, the ordered list of writes — empty when nothing differs
//    (docs/design.md#writes-and-their-order: "a pass in which nothing changed makes zero write
//    requests");
//  - execution against kube::Api: create or merge-patch NodePowerProfiles, merge-patch node
//    labels/annotations, delete on release; the first failure stops that node's list so the
//    ordering guarantee holds (a node is never labelled eco before its profile says eco is safe,
//    nor given a performance label before its profile is performance).

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "joulie/api/types.hpp"
#include "joulie/common/result.hpp"
#include "joulie/kube/api.hpp"
#include "joulie/operator/context.hpp"
#include "joulie/policy/write_planner.hpp"

namespace joulie::operator_mode {

// A label or annotation edit: leave it, set it to `value`, or remove it (merge patch null).
using FieldChange = policy::FieldChange;

enum class WriteKind { create_profile, patch_profile, delete_profile, patch_node };
std::string_view to_string(WriteKind kind);

struct Write {
  WriteKind kind = WriteKind::patch_node;
  std::string name;                // NodePowerProfile name, or node name for patch_node
  api::NodePowerProfileSpec spec;  // create_profile / patch_profile
  FieldChange label;               // patch_node
  FieldChange draining_since;      // patch_node
  FieldChange state_since;         // patch_node: joulie.io/state-since (the planner's memory)
  FieldChange apply_wait_until;    // create/patch_profile: joulie.io/apply-wait-until
};

// Does the cached object already carry this spec?
bool spec_matches(const NppInfo& current, const api::NodePowerProfileSpec& desired);

struct ReleaseInput {
  std::string node;
  bool node_exists = true;  // a deleted node needs no label patch
  std::optional<std::string> label;
  std::optional<std::string> draining_since;
  std::vector<std::string> profiles;  // operator-managed NodePowerProfiles to delete
  std::optional<std::string> state_since;
};

// A node leaving management: label and annotation removed first (while its profile still marks
// it as once managed, so a failed patch is retried), then its profiles deleted.
std::vector<Write> plan_release_writes(const ReleaseInput& input);

// The merge-patch body of a patch_node write: {"metadata":{"labels":{...},"annotations":{...}}}.
// (The annotations are the operator's: draining-since and state-since.)
std::string node_patch_body(const Write& write, std::string_view label_key);

// ---- execution ---------------------------------------------------------------------------------

// Asked before every request; false (leadership lost, shutting down) stops writing at once.
using WriteGate = std::function<bool()>;

struct ExecuteOutcome {
  std::size_t completed = 0;  // writes that took effect (or were already in effect)
  std::size_t requests = 0;   // write requests sent (re-reads excluded)
  Status status;              // the first failure; later writes of the list were not attempted
};

class ActuationAdapter {
 public:
  ActuationAdapter(kube::Api& api, std::string label_key, WriteGate gate = {});

  // Runs `writes` in order, stopping at the first failure. Recoveries done in place:
  // create → AlreadyExists: read it, patch it if it is ours, refuse if it is not;
  // patch profile → NotFound: create it; delete → NotFound: done; node patch → NotFound when
  // removing marks: done; node patch → Conflict: re-read the node and retry once.
  ExecuteOutcome execute(const std::vector<Write>& writes);

 private:
  Status create_profile(const Write& w, ExecuteOutcome& out);
  Status patch_profile(const Write& w, ExecuteOutcome& out);
  Status delete_profile(const Write& w, ExecuteOutcome& out);
  Status patch_node(const Write& w, ExecuteOutcome& out);

  kube::Api& api_;
  std::string label_key_;
  WriteGate gate_;
};

}  // namespace joulie::operator_mode
