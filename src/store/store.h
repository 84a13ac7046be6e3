// The store seam: the write side (StoreWriter, used by the pipeline) and the read side
// (StoreReader, used by the query API), so a fake or a new backend implements only what it
// serves. Every backend (SQLite, MongoDB) implements both, and nothing above this file knows
// which one it talks to. A new store is a new folder implementing them plus one line in app/.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "semantics/operations.h"
#include "store/records.h"
#include "util/status.h"

namespace drec {

// The stores' source of "today" for the rolling window below; NowMillis unless a test sets one.
using StoreClock = std::function<UnixMillis()>;

// The window the stores keep counters for at write time (the dashboard's trending window): a
// repository's rolled window counters are the sum of its per-day records from the window's first
// day on, so a windowed query whose first day is that day reads them instead of summing days.
inline constexpr int kRollingWindowDays = 30;

// The first day ("YYYY-MM-DD") of the rolling window at `now`: today and the 29 days before, as
// the API computes `window=30d`.
inline std::string RollingWindowFrom(UnixMillis now) {
  return UtcDay(StartOfUtcDay(now) - (kRollingWindowDays - 1) * kDayMillis);
}

// What one Apply did, for metrics and tests.
struct ApplyOutcome {
  std::int64_t applied = 0;     // effects applied now
  std::int64_t duplicates = 0;  // effects whose event id had been applied before
  // Effects recorded without their operations: the manifest they require was unknown.
  std::int64_t unknown_manifests = 0;
};

class StoreWriter {
 public:
  virtual ~StoreWriter() = default;

  // Applies every effect of the batch whose event id was not applied before, atomically and
  // durably: when it returns Ok, a kill -9 loses none of it; when it fails, none of it is
  // visible and the whole batch may be retried (docs/counting.md#exactly-once). An effect whose
  // `requires_manifest` is not known counts as applied but changes nothing else.
  [[nodiscard]] virtual Status Apply(const Batch& batch, ApplyOutcome* outcome) = 0;

  // Folds into the records what Apply made durable but left for later, so that an
  // acknowledgement waits only for the durable part. The committer calls it when no batch is
  // waiting; a store's own queries never see less than every acknowledged event, settled or not.
  // Unavailable leaves the work for the next Settle or Apply.
  [[nodiscard]] virtual Status Settle() { return Status::Ok(); }

  // Ok when the store can take writes now; backs /readyz.
  [[nodiscard]] virtual Status Ping() = 0;

  // Forgets event ids recorded before `cutoff` (the retention window).
  [[nodiscard]] virtual Status PruneEventIds(UnixMillis cutoff) = 0;
};

// Queries take validated, typed parameters (the API parses the caller's text), so a store
// only fails for storage reasons: Unavailable (try again) or Internal.
class StoreReader {
 public:
  virtual ~StoreReader() = default;

  [[nodiscard]] virtual Result<RepositoryPage> ListRepositories(const RepositoryQuery& query) = 0;
  // Totals of all repositories, and per-day totals in [from_day, to_day]; the overview's query,
  // so it must not scan per-repository records.
  [[nodiscard]] virtual Result<Summary> Summarize(const std::string& from_day,
                                                  const std::string& to_day) = 0;
  // nullopt when the repository is unknown.
  [[nodiscard]] virtual Result<std::optional<RepositoryRecord>> GetRepository(
      const std::string& name) = 0;
  [[nodiscard]] virtual Result<std::vector<TagRecord>> ListTags(const std::string& repository) = 0;
  [[nodiscard]] virtual Result<std::vector<DigestRecord>> ListDigests(
      const std::string& repository) = 0;
  [[nodiscard]] virtual Result<std::vector<ActorRecord>> ListActors(
      const std::string& repository) = 0;
  // Days in [from_day, to_day] that have records; the API zero-fills the gaps.
  [[nodiscard]] virtual Result<std::vector<DayRecord>> ListDays(const std::string& repository,
                                                                const std::string& from_day,
                                                                const std::string& to_day) = 0;
  // The repository's traffic class records that `query` selects; empty for an unknown one.
  [[nodiscard]] virtual Result<std::vector<ClassRecord>> ListClasses(const std::string& repository,
                                                                     const ClassQuery& query) = 0;
};

// A backend that serves both sides, as every real store does; app/ owns one and hands each
// side to the part that uses it.
class Store : public StoreWriter, public StoreReader {};

}  // namespace drec
