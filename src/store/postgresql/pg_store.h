// The PostgreSQL store: several drec replicas on one shared database, and failover to a
// standby (docs/postgresql.md). Tables mirror the embedded store's (docs/data-model.md); exactly
// once across replicas comes from claiming event ids by primary key in the transaction that
// applies them.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/postgresql/pg_connection.h"
#include "store/store.h"

namespace drec {

class PostgresStore final : public Store {
 public:
  // Connects with `uri` (libpq URI; several hosts and target_session_attrs=read-write for a
  // primary with standbys) and brings schema `schema` up to date, creating it if needed.
  // Unavailable when no server answers, so start-up waits for it as for a store that fails later.
  // `clock` gives "today" for the rolling window (store.h); NowMillis when unset.
  static Result<std::unique_ptr<PostgresStore>> Open(const std::string& uri,
                                                     const std::string& schema,
                                                     StoreClock clock = nullptr);
  ~PostgresStore() override;

  Status Apply(const Batch& batch, ApplyOutcome* outcome) override;
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
  // Connections for queries, at most a fixed number, each connected on first use and
  // replaced once broken (after a failover, the next connection finds the new primary).
  class ReaderPool {
   public:
    ReaderPool(std::string uri, std::string schema)
        : uri_(std::move(uri)), schema_(std::move(schema)) {}
    // Gives the connection back to the pool when it ends; a broken one is dropped.
    class Lease {
     public:
      Lease(ReaderPool& pool, std::unique_ptr<pg::Connection> connection)
          : pool_(pool), connection_(std::move(connection)) {}
      Lease(const Lease&) = delete;
      Lease& operator=(const Lease&) = delete;
      ~Lease() { pool_.Release(std::move(connection_)); }
      pg::Connection& operator*() { return *connection_; }
      pg::Connection* operator->() { return connection_.get(); }

     private:
      ReaderPool& pool_;
      std::unique_ptr<pg::Connection> connection_;
    };
    Result<std::unique_ptr<Lease>> Acquire();

   private:
    void Release(std::unique_ptr<pg::Connection> connection);

    const std::string uri_, schema_;
    std::mutex mutex_;
    std::condition_variable released_;
    std::vector<std::unique_ptr<pg::Connection>> idle_;
    int open_ = 0;
  };

  PostgresStore(std::string uri, std::string schema, std::unique_ptr<pg::Connection> writer,
                StoreClock clock);

  // Moves the rolling window's first day to `to_day` in one transaction that holds the window's
  // lock exclusively (every batch holds it shared): subtracts the days that left the window, adds
  // back days that re-entered it (a clock set back), or recomputes every repository's window when
  // it was not valid (a new or upgraded schema, a transfer).
  Status RollWindow(const std::string& to_day);
  // The repository list in one snapshot; `rolled`: the window is the rolling one, read from the
  // repositories' columns when the stored window starts on the query's first day. Sets `stale`
  // instead when it does not.
  Result<RepositoryPage> ListRepositoriesOnce(const RepositoryQuery& query, bool rolled,
                                              bool* stale);
  // The write connection, reconnected when it broke. Called with writer_mutex_ held.
  Result<pg::Connection*> Writer();
  // Runs `read` in one read-only snapshot on a pooled connection.
  template <typename T, typename ReadFn>
  Result<T> InSnapshot(ReadFn read);

  const std::string uri_, schema_;
  // Apply and pruning share one write connection: batches of one replica are applied in order.
  std::mutex writer_mutex_;
  std::unique_ptr<pg::Connection> writer_;
  ReaderPool readers_;
  StoreClock clock_;
};

}  // namespace drec
