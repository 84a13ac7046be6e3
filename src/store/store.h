// The store interface: every backend (SQLite, MongoDB) implements it, and
// nothing above it knows which one it talks to. A new store is a new folder
// implementing this class plus one line in app/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "semantics/operations.h"
#include "store/records.h"
#include "util/status.h"

namespace drec {

// What one Apply did, for metrics and tests.
struct ApplyOutcome {
  std::int64_t applied = 0;     // effects applied now
  std::int64_t duplicates = 0;  // effects whose event id had been applied before
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies every effect of the batch whose event id was not applied before,
  // atomically and durably: when it returns Ok, a kill -9 loses none of it; when
  // it fails, none of it is visible and the whole batch may be retried.
  virtual Status Apply(const Batch& batch, ApplyOutcome* outcome) = 0;

  // Ok when the store can take writes now; backs /readyz.
  virtual Status Ping() = 0;

  // Forgets event ids recorded before `cutoff` (the retention window).
  virtual Status PruneEventIds(UnixMillis cutoff) = 0;

  // InvalidArgument for an unknown sort field or a window sort without a window.
  virtual Result<RepositoryPage> ListRepositories(const RepositoryQuery& query) = 0;
  // Totals of all repositories, and per-day totals in [from_day, to_day]; the overview's query,
  // so it must not scan per-repository records.
  virtual Result<Summary> Summarize(const std::string& from_day, const std::string& to_day) = 0;
  // nullopt when the repository is unknown.
  virtual Result<std::optional<RepositoryRecord>> GetRepository(const std::string& name) = 0;
  virtual Result<std::vector<TagRecord>> ListTags(const std::string& repository) = 0;
  virtual Result<std::vector<DigestRecord>> ListDigests(const std::string& repository) = 0;
  virtual Result<std::vector<ActorRecord>> ListActors(const std::string& repository) = 0;
  // Days in [from_day, to_day] that have records; the API zero-fills the gaps.
  virtual Result<std::vector<DayRecord>> ListDays(const std::string& repository,
                                                  const std::string& from_day,
                                                  const std::string& to_day) = 0;
};

}  // namespace drec
