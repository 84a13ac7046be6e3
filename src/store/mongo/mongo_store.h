// The MongoDB store: the integration point for other tools (docs/data-model.md), which read the
// repository collection and its companions directly. Exactly once without transactions, through
// a journal and per-document guards; docs/mongodb.md describes the collections and the argument.
#pragma once

#include <bson/bson.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "store/store.h"

namespace drec {
namespace mongo {
class Client;
class ClientPool;
struct StoredState;
class WriterLease;
}  // namespace mongo

class MongoStore final : public Store {
 public:
  // How long a writer lease lasts unrenewed: the longest a drec waits at start-up for the lease
  // of a drec that was killed on another machine.
  static constexpr std::chrono::milliseconds kDefaultLeaseDuration = std::chrono::seconds(30);

  // Connects to `uri`, creates the indexes (idempotently) and finishes a batch that a previous
  // run left half-applied, before anything else can read or write. The repository documents
  // live in `repository_collection`, the per-tag, per-digest, ... documents in collections
  // named after it. With `retention_days` > 0 the server also expires event ids itself (a TTL
  // index) where it can; PruneEventIds deletes them either way.
  //
  // One store writes a collection set at a time: it takes the writer lease first (see
  // mongo/writer_lease.h), waiting up to `lease_duration` for the lease of a killed drec, and
  // fails with InvalidArgument, naming the other drec, while a live one holds it.
  // `clock` gives "today" for the rolling window (store.h); NowMillis when unset.
  static Result<std::unique_ptr<MongoStore>> Open(
      const std::string& uri, const std::string& database, const std::string& repository_collection,
      std::int64_t retention_days = 0,
      std::chrono::milliseconds lease_duration = kDefaultLeaseDuration, StoreClock clock = nullptr);
  // Releases the writer lease, so the next drec on this collection set starts at once.
  ~MongoStore() override;

  // Apply, PruneEventIds and Ping fail with Unavailable (503) while this store does not hold
  // the writer lease.
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

  // Test hook: after `writes` more writes succeed, every write fails as if drec had died right
  // there (negative: never). Lets tests crash a batch between any two of its writes.
  void SetFaultPointForTesting(std::int64_t writes);
  // Test hook: the writes the last Apply sent (journal, event ids, updates), to check coalescing.
  std::int64_t last_apply_writes_for_testing() const;
  // Test hook: the writer lease is no longer renewed in the background, as if drec were paused.
  void StopRenewingLeaseForTesting();
  // Test hook: moves the rolling window's first day to `to_day` as the first trending query of a
  // day does (the fault point above applies to its writes).
  Status RollWindowForTesting(const std::string& to_day);

 private:
  MongoStore(std::unique_ptr<mongo::ClientPool> pool, std::string database,
             std::string repository_collection);

  std::string CollectionName(std::string_view role) const;
  // The repository list; `rolled`: read and sorted by the repositories' window_* fields.
  Result<RepositoryPage> ListRepositoriesIn(mongo::Client& client, const RepositoryQuery& query,
                                            bool rolled);
  // Learns which server this is, for the workarounds one needs.
  Status DetectServer(mongo::Client& client);
  Status CreateIndexes(mongo::Client& client, std::int64_t retention_days);
  // Checks (and renews) the writer lease before a batch; a lease taken anew means another
  // drec may have left a journal pending, so recovery runs first.
  Status HoldLease(mongo::Client& client);
  // Finishes every pending journal, oldest first: until then, a known event id could belong to
  // a batch only half applied. Then finishes a roll of the window left half done, and learns
  // the window's first day.
  Status Recover(mongo::Client& client);
  // Moves the rolling window's first day to `to_day` (mongo_window.cpp): subtracts the days that
  // left the window from the repositories' window_* counters, adds back days that re-entered it
  // (a clock set back), or recomputes every repository's window when it is not valid. Under the
  // writer mutex and lease, recorded in C.meta first so that an interruption is finished by the
  // next recovery, before any batch.
  Status RollWindow(const std::string& to_day);
  // Carries out the roll recorded in `rolling` (a C.meta window document); safe to repeat.
  Status FinishRoll(mongo::Client& client, const bson_t* rolling);
  // Reads the window document: finishes a pending roll, then sets window_from_.
  Status LoadWindow(mongo::Client& client);
  // The window's first day as stored now ("" when not valid, or while a roll is pending).
  Result<std::string> StoredWindowFrom(mongo::Client& client);
  // Claims the event ids of `effects` (distinct ones), then journals and applies those not
  // applied before, in several journals when one cannot hold them; adds the counts to
  // `*outcome` (duplicates, applied, and the effects recorded without their writes because their
  // required manifest was unknown).
  Status Commit(mongo::Client& client, std::span<const EventEffect* const> effects,
                ApplyOutcome* outcome);
  // Reads what the journal of `effects` depends on (see mongo::StoredState).
  Status ReadStoredState(mongo::Client& client, std::span<const EventEffect* const> effects,
                         mongo::StoredState* stored);
  // Applies a journal's writes; safe to repeat, interrupted anywhere. A `legacy` journal (of the
  // release before claims, one document per journal) also records its event ids, and is
  // deleted after.
  Status Execute(mongo::Client& client, const bson_t* journal, bool legacy);
  // Counts one write against the fault point; false when the simulated crash has happened.
  bool Spend();

  const std::unique_ptr<mongo::ClientPool> pool_;
  const std::string database_;
  const std::string repository_collection_;
  // Most write statements sent in one request; 0: as many as the server's limits allow.
  std::size_t request_limit_ = 0;

  // Declared after the pool, so it is released before the pool goes.
  std::unique_ptr<mongo::WriterLease> lease_;

  // Apply and pruning write one at a time: the journal design (and FerretDB, which can lose
  // concurrent updates of one document) wants a single writer.
  std::mutex writer_mutex_;
  // The holding of the lease the current batch runs under (WriterLease::Hold).
  std::uint64_t holding_ = 0;
  // A journal may be pending, or claims without a journal: set before the claims are sent,
  // cleared once nothing is left.
  bool recovery_needed_ = true;
  // Index parents by (repository, child digest), as stored, for digests pulled by digest since
  // the last recovery: valid while this drec holds the lease without interruption (no other
  // writer), emptied by every recovery, and forgotten for the digests a batch links or removes.
  std::map<std::pair<std::string, std::string>, std::set<std::string>> parents_cache_;
  // The sequence number of the next journal and of its claims: one more than the last journal's.
  std::int64_t next_seq_ = 1;
  // "Today" for the rolling window.
  StoreClock clock_;
  // The rolling window's first day as stored (what a batch's days add to the window from), as of
  // the last recovery or roll of this holding of the lease; unset while the window is not valid.
  std::optional<std::string> window_from_;
  std::int64_t fault_budget_ = -1;
  std::int64_t writes_ = 0;
};

}  // namespace drec
