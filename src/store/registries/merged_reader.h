// The readers behind RegistrySet: one registry's statistics, named after it, and every registry's
// merged. Merging needs no store support: each store sorts and pages its own repositories, and
// the merge takes the first `offset + limit` of each in the same order.
#pragma once

#include <string>
#include <vector>

#include "store/store.h"

namespace drec {

// One registry's store, its repository records stamped with the registry's name.
class NamedRegistryReader : public StoreReader {
 public:
  NamedRegistryReader(std::string registry, StoreReader& store)
      : registry_(std::move(registry)), store_(store) {}

  [[nodiscard]] Result<RepositoryPage> ListRepositories(const RepositoryQuery& query) override;
  [[nodiscard]] Result<Summary> Summarize(const std::string& from_day,
                                          const std::string& to_day) override;
  [[nodiscard]] Result<std::optional<RepositoryRecord>> GetRepository(
      const std::string& name) override;
  [[nodiscard]] Result<std::vector<TagRecord>> ListTags(const std::string& repository) override;
  [[nodiscard]] Result<std::vector<DigestRecord>> ListDigests(
      const std::string& repository) override;
  [[nodiscard]] Result<std::vector<ActorRecord>> ListActors(const std::string& repository) override;
  [[nodiscard]] Result<std::vector<DayRecord>> ListDays(const std::string& repository,
                                                        const std::string& from_day,
                                                        const std::string& to_day) override;
  [[nodiscard]] Result<std::vector<ClassRecord>> ListClasses(const std::string& repository,
                                                             const ClassQuery& query) override;

 private:
  const std::string registry_;
  StoreReader& store_;
};

// Several registries' readers as one: the repository list merged in the query's order (ties by
// name, then registry), the summary summed; one repository's questions go to `single`.
class MergedReader : public StoreReader {
 public:
  MergedReader(std::vector<StoreReader*> registries, StoreReader& single)
      : registries_(std::move(registries)), single_(single) {}

  [[nodiscard]] Result<RepositoryPage> ListRepositories(const RepositoryQuery& query) override;
  [[nodiscard]] Result<Summary> Summarize(const std::string& from_day,
                                          const std::string& to_day) override;
  [[nodiscard]] Result<std::optional<RepositoryRecord>> GetRepository(
      const std::string& name) override {
    return single_.GetRepository(name);
  }
  [[nodiscard]] Result<std::vector<TagRecord>> ListTags(const std::string& repository) override {
    return single_.ListTags(repository);
  }
  [[nodiscard]] Result<std::vector<DigestRecord>> ListDigests(
      const std::string& repository) override {
    return single_.ListDigests(repository);
  }
  [[nodiscard]] Result<std::vector<ActorRecord>> ListActors(
      const std::string& repository) override {
    return single_.ListActors(repository);
  }
  [[nodiscard]] Result<std::vector<DayRecord>> ListDays(const std::string& repository,
                                                        const std::string& from_day,
                                                        const std::string& to_day) override {
    return single_.ListDays(repository, from_day, to_day);
  }
  [[nodiscard]] Result<std::vector<ClassRecord>> ListClasses(const std::string& repository,
                                                             const ClassQuery& query) override {
    return single_.ListClasses(repository, query);
  }

 private:
  const std::vector<StoreReader*> registries_;
  StoreReader& single_;
};

// True when `a` comes before `b` in the repository list ordered by `query` (its sort key and
// direction; ties by name ascending, then registry ascending; unset times lowest).
bool ListedBefore(const RepositoryRecord& a, const RepositoryRecord& b,
                  const RepositoryQuery& query);

}  // namespace drec
