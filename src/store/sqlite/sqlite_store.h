// The embedded store: one SQLite file in WAL mode, the default backend, so drec runs with no
// database server to operate. Tables mirror the MongoDB collections (docs/data-model.md).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "store/store.h"

namespace drec {
namespace sqlite {
class Connection;
class ConnectionPool;
}  // namespace sqlite

class SqliteStore final : public Store {
 public:
  // Opens the database at `path`, creating it and its parent directories if needed, and brings
  // its schema up to date, and settles what a crash left claimed but unsettled. An applied batch
  // is durable (fsynced, WAL) when Apply returns, because an acknowledged event must survive
  // kill -9 and a power loss.
  // `clock` gives "today" for the rolling window (store.h); NowMillis when unset.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                   StoreClock clock = nullptr);
  ~SqliteStore() override;

  // Claims the batch's event ids and stores its new effects in one small fsynced commit; Settle
  // folds them into the records. A batch that must check a manifest first (a delete) is folded
  // at once, after everything claimed before it.
  Status Apply(const Batch& batch, ApplyOutcome* outcome) override;
  // Folds every claimed batch into the records in one commit that is not fsynced: a power loss
  // may undo it, and the claimed batches, which are durable, are then folded again.
  Status Settle() override;
  Status Ping() override;
  Status PruneEventIds(UnixMillis cutoff) override;
  Result<RepositoryPage> ListRepositories(const RepositoryQuery& query) override;
  Result<Summary> Summarize(const std::string& from_day, const std::string& to_day) override;
  Result<std::optional<RepositoryRecord>> GetRepository(const std::string& name) override;
  Result<std::vector<TagRecord>> ListTags(const std::string& repository) override;
  Result<std::vector<DigestRecord>> ListDigests(const std::string& repository) override;
  Result<std::vector<ActorRecord>> ListActors(const std::string& repository) override;
  Result<std::vector<DayRecord>> ListDays(const std::string& repository,
                                          const std::string& from_day,
                                          const std::string& to_day) override;
  Result<std::vector<ClassRecord>> ListClasses(const std::string& repository,
                                               const ClassQuery& query) override;

 private:
  SqliteStore(std::unique_ptr<sqlite::Connection> writer,
              std::unique_ptr<sqlite::ConnectionPool> readers, StoreClock clock);

  // Moves the rolling window's first day to `to_day` in one write transaction: subtracts the
  // days that left the window, adds back days that re-entered it (a clock set back), or
  // recomputes every repository's window when it was not valid (a new or upgraded store, a
  // transfer).
  Status RollWindow(const std::string& to_day);
  // The repository list in the snapshot open on `db`; `rolled`: the window is the rolling one
  // and its counters start on the query's first day.
  Result<RepositoryPage> ListRepositoriesIn(sqlite::Connection& db, const RepositoryQuery& query,
                                            bool rolled);

  // Writer connection only, writer_mutex_ held.
  Status SettleLocked();

  // Apply and pruning share one write connection; SQLite allows a single writer anyway.
  std::mutex writer_mutex_;
  // Claimed batches wait in the pending table; set under writer_mutex_, read without it.
  std::atomic<bool> unsettled_{false};
  std::int64_t unsettled_effects_ = 0;  // writer_mutex_
  bool synchronous_full_ = true;        // writer_mutex_: claims need synchronous = FULL
  std::unique_ptr<sqlite::Connection> writer_;
  std::unique_ptr<sqlite::ConnectionPool> readers_;
  StoreClock clock_;
};

}  // namespace drec
