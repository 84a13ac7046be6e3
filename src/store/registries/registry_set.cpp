#include "store/registries/registry_set.h"

#include <algorithm>

#include "store/registries/merged_reader.h"

namespace drec {

RegistrySet::RegistrySet(std::map<std::string, Store*, std::less<>> stores)
    : stores_(std::move(stores)) {
  std::vector<StoreReader*> readers;
  for (auto& [name, store] : stores_) {
    names_.push_back(name);
    auto reader = std::make_unique<NamedRegistryReader>(name, *store);
    readers.push_back(reader.get());
    readers_.emplace(name, std::move(reader));
  }
  all_ = std::make_unique<MergedReader>(std::move(readers), *Reader(kDefaultRegistry));
}

RegistrySet::~RegistrySet() = default;

StoreReader* RegistrySet::Reader(std::string_view name) const {
  const auto found = readers_.find(name);
  return found == readers_.end() ? nullptr : found->second.get();
}

Status RegistrySet::Apply(const Batch& batch, ApplyOutcome* outcome) {
  const auto in_one = [&](const std::string& registry) {
    return std::all_of(batch.effects.begin(), batch.effects.end(),
                       [&](const EventEffect& e) { return e.registry == registry; });
  };
  // An empty batch is the committer's trial after a failed commit: every store must take it.
  if (batch.effects.empty()) {
    for (auto& [name, store] : stores_) {
      if (Status status = store->Apply(batch, outcome); !status.ok()) return status;
    }
    return Status::Ok();
  }
  // The usual case, one registry per batch, needs no copy.
  if (!batch.effects.empty() && in_one(batch.effects.front().registry) &&
      stores_.contains(batch.effects.front().registry)) {
    return stores_.find(batch.effects.front().registry)->second->Apply(batch, outcome);
  }
  std::map<std::string_view, Batch> by_registry;
  for (const EventEffect& effect : batch.effects) {
    if (!stores_.contains(effect.registry)) {
      return Status::Internal("no store for registry \"" + effect.registry + "\"");
    }
    by_registry[effect.registry].effects.push_back(effect);
  }
  ApplyOutcome total;
  for (const auto& [registry, part] : by_registry) {
    ApplyOutcome applied;
    Status status = stores_.find(registry)->second->Apply(part, &applied);
    if (!status.ok()) return status;
    total.applied += applied.applied;
    total.duplicates += applied.duplicates;
    total.unknown_manifests += applied.unknown_manifests;
  }
  if (outcome != nullptr) *outcome = total;
  return Status::Ok();
}

Status RegistrySet::Settle() {
  for (auto& [name, store] : stores_) {
    if (Status status = store->Settle(); !status.ok()) return status;
  }
  return Status::Ok();
}

Status RegistrySet::Ping() {
  for (auto& [name, store] : stores_) {
    if (Status status = store->Ping(); !status.ok()) return status;
  }
  return Status::Ok();
}

Status RegistrySet::PruneEventIds(UnixMillis cutoff) {
  for (auto& [name, store] : stores_) {
    if (Status status = store->PruneEventIds(cutoff); !status.ok()) return status;
  }
  return Status::Ok();
}

}  // namespace drec
