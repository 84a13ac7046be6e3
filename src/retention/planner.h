// The retention planner: from what drec observed of each repository (and, when reachable, what
// the registry serves now) and a policy, which tags and manifests to delete, and why each of
// the others stays. Pure: no I/O and no clock (the evaluation time is an argument), so a plan
// for "not pulled within 90 days" is tested without waiting 90 days.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "retention/policy.h"
#include "util/time.h"

namespace drec::retention {

// One live tag: where it points now and what drec saw of it.
struct TagView {
  std::string tag;
  std::string digest;       // the registry's answer when checked, else drec's
  bool attachment = false;  // a signature, SBOM or attestation tag: never governed by rules
  std::optional<UnixMillis> lastpulled, lastpushed;
  std::int64_t numpulls = 0;
};

// One manifest the repository holds (a tag's target, or one drec saw pushed without a tag).
struct ManifestView {
  std::string digest;
  std::string media_type;
  std::optional<UnixMillis> lastpulled, lastpushed;
  // Manifests an index lists (from the registry), and indexes known to list this one (from
  // drec): a child of an index that stays must stay.
  std::vector<std::string> children, parents;
};

struct RepositoryView {
  std::string name;
  // Since when drec has seen all of the repository's traffic; nullopt: unknown.
  std::optional<UnixMillis> observedsince;
  std::vector<TagView> tags;
  std::vector<ManifestView> manifests;
};

enum class Decision { kKeep, kDelete, kUnknown, kHeld };
std::string_view DecisionName(Decision decision);

struct TagPlan {
  TagView tag;
  Decision decision = Decision::kKeep;
  std::string rule;    // the rule that decided; empty when none governs the tag
  std::string reason;  // in words, with the figures that decided
};

struct ManifestPlan {
  ManifestView manifest;
  Decision decision = Decision::kKeep;
  std::vector<std::string> tags;  // the live tags pointing at it, sorted
  std::string rule;
  std::string reason;
};

struct RepositoryPlan {
  std::string name;
  std::optional<UnixMillis> observedsince;
  std::vector<TagPlan> tags;            // every live tag, by name
  std::vector<ManifestPlan> manifests;  // every manifest with a tag or planned for deletion
};

// One DELETE /v2/<repository>/manifests/<digest>: it removes `tags` with it.
struct Deletion {
  std::string repository;
  std::string digest;
  std::vector<std::string> tags;
  std::string rule;
  std::string reason;
};

struct PlanSummary {
  std::int64_t repositories = 0, tags = 0, kept = 0, unknown = 0, held = 0;
  std::int64_t delete_tags = 0, delete_manifests = 0;
};

struct Plan {
  UnixMillis at = 0;
  std::string registry;
  bool checked_against_registry = false;
  PlanSummary summary;
  std::vector<RepositoryPlan> repositories;  // those some rule matches, by name
  std::vector<Deletion> deletions;           // in the order apply performs them
};

// The plan at time `at`. Repositories that no rule matches are left out of it.
Plan MakePlan(const Policy& policy, const std::vector<RepositoryView>& repositories, UnixMillis at);

}  // namespace drec::retention
