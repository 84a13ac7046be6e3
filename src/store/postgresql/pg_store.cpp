// The PostgreSQL store's lifecycle: connections, migrations, the readiness probe and pruning.
// The write side is in pg_writer.cpp, the queries in pg_queries.cpp.
#include "store/postgresql/pg_store.h"

#include <fmt/format.h>

#include <utility>

#include "store/postgresql/pg_schema.h"

namespace drec {
namespace {

constexpr int kReadConnections = 4;
// Pruning deletes in chunks, each its own short transaction, so a week of event ids never holds
// locks that the replicas' commits wait for.
constexpr std::int64_t kPruneChunk = 5000;
// One replica prunes at a time; the others find this lock taken and leave the work to it.
constexpr std::string_view kPruneLockClass = "drec-prune:";

}  // namespace

Result<std::unique_ptr<PostgresStore::ReaderPool::Lease>> PostgresStore::ReaderPool::Acquire() {
  std::unique_lock lock(mutex_);
  released_.wait(lock, [&] { return !idle_.empty() || open_ < kReadConnections; });
  if (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    return std::make_unique<Lease>(*this, std::move(connection));
  }
  ++open_;
  lock.unlock();
  auto connection = pg::Connection::Open(uri_, schema_);
  if (!connection.ok()) {
    Release(nullptr);
    return connection.status();
  }
  return std::make_unique<Lease>(*this, std::move(connection).value());
}

void PostgresStore::ReaderPool::Release(std::unique_ptr<pg::Connection> connection) {
  {
    std::lock_guard lock(mutex_);
    if (connection != nullptr && connection->usable()) {
      idle_.push_back(std::move(connection));
    } else {
      --open_;
    }
  }
  released_.notify_one();
}

PostgresStore::PostgresStore(std::string uri, std::string schema,
                             std::unique_ptr<pg::Connection> writer, StoreClock clock)
    : uri_(std::move(uri)),
      schema_(std::move(schema)),
      writer_(std::move(writer)),
      readers_(uri_, schema_),
      clock_(clock ? std::move(clock) : StoreClock(NowMillis)) {}

PostgresStore::~PostgresStore() = default;

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const std::string& uri,
                                                           const std::string& schema,
                                                           StoreClock clock) {
  auto writer = pg::Connection::Open(uri, schema);
  if (!writer.ok()) return writer.status();
  Status status = pg::Migrate(**writer, schema);
  if (!status.ok()) return status;
  return std::unique_ptr<PostgresStore>(
      new PostgresStore(uri, schema, std::move(*writer), std::move(clock)));
}

Result<pg::Connection*> PostgresStore::Writer() {
  if (writer_ == nullptr || !writer_->usable()) {
    writer_.reset();
    auto connection = pg::Connection::Open(uri_, schema_);
    if (!connection.ok()) return connection.status();
    writer_ = std::move(connection).value();
  }
  return writer_.get();
}

Status PostgresStore::Ping() {
  // A URI without target_session_attrs=read-write may lead to a standby, where every commit
  // would fail: not ready. A pooled connection that broke while idle gets one more attempt.
  Result<pg::ResultPtr> rows = Status::Unavailable("postgresql: no answer");
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto lease = readers_.Acquire();
    if (!lease.ok()) return lease.status();
    rows = (**lease)->Query("SELECT pg_is_in_recovery()", pg::Params());
    if (rows.ok() || (**lease)->usable()) break;
  }
  if (!rows.ok()) return rows.status();
  bool standby = false;
  pg::ForEachRow(rows->get(), [&](pg::RowReader& row) { standby = row.Bool(); });
  if (standby) {
    return Status::Unavailable(
        "postgresql: connected to a standby (read-only); add target_session_attrs=read-write "
        "to storage.postgresql.uri");
  }
  return Status::Ok();
}

Status PostgresStore::PruneEventIds(UnixMillis cutoff) {
  for (;;) {
    std::lock_guard lock(writer_mutex_);
    auto db = Writer();
    if (!db.ok()) return db.status();
    pg::Connection& conn = **db;
    Status status = conn.Exec("BEGIN");
    if (!status.ok()) return status;
    bool mine = false;
    auto locked = conn.Query("SELECT pg_try_advisory_xact_lock(hashtextextended($1::text, 0))",
                             pg::Params().Add(fmt::format("{}{}", kPruneLockClass, schema_)));
    if (locked.ok()) {
      pg::ForEachRow(locked->get(), [&](pg::RowReader& row) { mine = row.Bool(); });
    }
    std::int64_t deleted = 0;
    if (locked.ok() && mine) {
      auto pruned = conn.Query(
          "DELETE FROM event_ids WHERE id IN (SELECT id FROM event_ids WHERE applied_at < $1 "
          "LIMIT $2)",
          pg::Params().Add(cutoff).Add(kPruneChunk));
      if (!pruned.ok()) {
        (void)conn.Exec("ROLLBACK");
        return pruned.status();
      }
      deleted = std::atoll(PQcmdTuples(pruned->get()));
    }
    if (!locked.ok()) {
      (void)conn.Exec("ROLLBACK");
      return locked.status();
    }
    status = conn.Exec("COMMIT");
    if (!status.ok()) return status;
    if (!mine || deleted < kPruneChunk) return Status::Ok();
  }
}

}  // namespace drec
