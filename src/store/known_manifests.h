// Which manifests a store knows at each point of a batch applied in order: the ones stored
// before it, plus those earlier effects of the batch make known, less those of a repository an
// earlier effect removed. The stores that decide EventEffect::requires_manifest outside the
// database (PostgreSQL, MongoDB) read the stored ones first and walk the batch with this, so
// they answer as the embedded store does when it asks the database effect by effect.
#pragma once

#include <set>
#include <string>
#include <utility>
#include <variant>

#include "semantics/operations.h"

namespace drec {

class KnownManifests {
 public:
  // (repository, digest) pairs.
  using Key = std::pair<std::string, std::string>;

  // The pairs of the batch's required manifests that are stored as manifests.
  explicit KnownManifests(std::set<Key> stored) : known_(std::move(stored)) {}

  // False when `effect` requires a manifest not known at this point: it then counts as applied
  // but changes nothing (docs/counting.md#deletes).
  bool Allows(const EventEffect& effect) const {
    const auto& m = effect.requires_manifest;
    return !m || known_.contains({m->repository, m->digest});
  }

  // Takes note of an operation of an effect being applied.
  void Observe(const Operation& operation) {
    if (const auto* op = std::get_if<DigestUpdate>(&operation); op && !op->media_type.empty()) {
      known_.emplace(op->repository, op->digest);
    } else if (const auto* removed = std::get_if<RepositoryRemoved>(&operation)) {
      std::erase_if(known_, [&](const Key& key) { return key.first == removed->repository; });
    }
  }

 private:
  std::set<Key> known_;
};

}  // namespace drec
