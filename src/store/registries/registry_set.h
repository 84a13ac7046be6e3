// Several registries, one collector (docs/registries.md): every registry keeps its statistics in
// a store of its own (an SQLite file, or a set of MongoDB collections), so the same repository
// name in two registries is two repositories, the default registry's data stays exactly where
// the single-registry setup keeps it, and each registry's event ids are remembered beside its
// statistics. RegistrySet routes each effect to its registry's store and answers queries for
// one registry or, merged, for all of them.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/registry.h"
#include "store/store.h"

namespace drec {

class RegistrySet : public StoreWriter {
 public:
  // `stores` holds one store per registry, kDefaultRegistry's among them; they must outlive
  // the set.
  explicit RegistrySet(std::map<std::string, Store*, std::less<>> stores);
  ~RegistrySet() override;

  // Applies each effect in the store of its registry (EventEffect::registry), one store after the
  // other. A failure leaves the stores before it applied; the retry of the whole batch finds
  // their event ids and applies only the rest, so every event still counts exactly once.
  [[nodiscard]] Status Apply(const Batch& batch, ApplyOutcome* outcome) override;
  // Settles every registry's store.
  [[nodiscard]] Status Settle() override;
  // Ok when every registry's store is.
  [[nodiscard]] Status Ping() override;
  [[nodiscard]] Status PruneEventIds(UnixMillis cutoff) override;

  // The registries' names, sorted.
  const std::vector<std::string>& names() const { return names_; }
  bool Has(std::string_view name) const { return readers_.contains(name); }

  // The statistics of one registry (its repository records name it), or nullptr when unknown.
  StoreReader* Reader(std::string_view name) const;
  // Every registry at once: the repository list and the summary span them all (items name their
  // registry; counters add up); questions about one repository go to the default registry.
  StoreReader& All() const { return *all_; }

 private:
  std::map<std::string, Store*, std::less<>> stores_;
  std::map<std::string, std::unique_ptr<StoreReader>, std::less<>> readers_;
  std::vector<std::string> names_;
  std::unique_ptr<StoreReader> all_;
};

}  // namespace drec
