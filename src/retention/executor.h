// Applying a plan to the registry: each deletion re-checked against the registry just before
// it is made, a bounded number in flight, and a report that lists every deletion's outcome.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "registry_client/registry_client.h"
#include "retention/planner.h"

namespace drec::retention {

struct DeletionOutcome {
  enum class Result { kDeleted, kSkipped, kFailed, kNotAttempted };
  Deletion deletion;
  Result result = Result::kNotAttempted;
  std::string message;  // why it was skipped or failed
};
std::string_view OutcomeName(DeletionOutcome::Result result);

struct ApplyReport {
  std::vector<DeletionOutcome> outcomes;  // in the plan's order
  std::int64_t deleted = 0, skipped = 0, failed = 0, not_attempted = 0;
};

// Called after each deletion is decided, from the worker that decided it (serialised).
using ProgressFn = std::function<void(const DeletionOutcome&, std::size_t done, std::size_t total)>;

// Why `deletion` must not be made now that the registry maps `tags` (tag -> digest) as given,
// or empty when it still matches the plan: one of its tags moved to another digest, or a tag the
// plan did not list now points at its digest (deleting would take that tag with it).
std::string ChangedSincePlan(const Deletion& deletion,
                             const std::map<std::string, std::string>& tags);

// Performs the plan's deletions with at most `concurrency` in flight. Before deleting a digest
// it reads the repository's tags from the registry again (once per repository): a deletion
// whose digest now carries a tag the plan did not list, or one of whose tags moved, is skipped.
// The first failure stops further deletions (a registry that refuses one refuses the rest;
// none is left half done), and the rest are reported not attempted.
ApplyReport ApplyPlan(const Plan& plan, RegistryClient& registry, int concurrency,
                      const ProgressFn& progress);

}  // namespace drec::retention
