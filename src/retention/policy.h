// A retention policy file (docs/retention.md): which repositories and tags its rules govern,
// what each rule keeps, the limits of one run, and the registry the plan is checked against.
// Parsed once into plain values; the planner never sees YAML.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "retention/name_pattern.h"
#include "util/status.h"
#include "util/time.h"

namespace drec::retention {

// What a rule keeps of the tags it governs; a tag held by any clause of any rule is kept.
struct KeepClauses {
  std::optional<std::int64_t> most_recently_pulled;  // the N tags with the latest pulls
  std::optional<std::int64_t> most_recently_pushed;  // the N tags with the latest pushes
  std::optional<UnixMillis> pulled_within;           // a duration in milliseconds
  std::optional<UnixMillis> pushed_within;
  std::vector<NamePattern> tags;  // always kept
};

struct Rule {
  std::string name;
  NamePattern repositories;
  // A rule with a `keep` (even an empty one) governs the tags `tags` matches and deletes those
  // that nothing keeps; a rule without one deletes no tag, only untagged manifests.
  bool governs_tags = false;
  NamePattern tags;
  KeepClauses keep;
  // Untagged manifests pushed longer ago than this are deleted; nullopt: left alone.
  std::optional<UnixMillis> untagged_older_than;
};

// Bounds of one run, so that a wrong rule cannot empty a registry.
struct Limits {
  std::int64_t max_deletions = 100;      // manifests per run
  double max_share = 0.5;                // of a repository's live tags per run
  std::int64_t max_per_repository = 50;  // manifests per repository per run
  std::int64_t concurrency = 4;          // deletions in flight
};

// Where the registry is and how to reach it: what `apply` deletes through, and what the plan
// checks drec's view against.
struct RegistryAccess {
  std::string name = "default";  // which of drec's registries' statistics
  std::string url;               // empty: the plan uses drec's view only; apply refuses
  std::string username;
  std::string password;  // read from password_file
  std::string ca_file;
  bool insecure_skip_verify = false;
  std::chrono::milliseconds timeout{10000};
};

struct Policy {
  RegistryAccess registry;
  Limits limits;
  std::vector<Rule> rules;
};

// Parses the text of a policy file; `origin` (its path) starts every error message, which also
// names the key at fault. Reads registry.password_file. InvalidArgument on any mistake.
Result<Policy> ParsePolicy(std::string_view yaml, std::string_view origin);

// Reads and parses the policy file at `path`.
Result<Policy> LoadPolicy(const std::string& path);

// "90d", "12h", "2w", "30m", "45s": a whole number and a unit, as policies write ages.
std::optional<UnixMillis> ParseAge(std::string_view text);

// The shortest exact form of an age for plans and messages: "90d", "36h".
std::string FormatAge(UnixMillis age);

}  // namespace drec::retention
