// The embedded store's lifecycle: opening the file, its connections, and the readiness probe.
// The write side is in sqlite_writer.cpp, the queries in sqlite_queries.cpp.
#include "store/sqlite/sqlite_store.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <system_error>
#include <utility>

#include "store/sqlite/sqlite_handle.h"
#include "store/sqlite/sqlite_schema.h"

namespace drec {
namespace {

using sqlite::Connection;

constexpr int kReadConnections = 4;

Status OpenWriter(const std::string& path, std::unique_ptr<Connection>* writer) {
  auto db =
      Connection::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
  if (!db.ok()) return db.status();
  {
    // journal_mode answers with the mode in effect; a filesystem without WAL support keeps
    // the old one, and readers would then block the writer.
    auto stmt = (*db)->Prepare("PRAGMA journal_mode = WAL");
    if (!stmt.ok()) return stmt.status();
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    if (stmt->Text(0) != "wal") {
      return Status::Internal("sqlite: cannot use WAL journal mode on " + path + ", got " +
                              stmt->Text(0));
    }
  }
  Status status = (*db)->Exec("PRAGMA synchronous = FULL");
  if (!status.ok()) return status;
  status = sqlite::Migrate(**db);
  if (!status.ok()) return status;
  *writer = std::move(*db);
  return Status::Ok();
}

}  // namespace

SqliteStore::SqliteStore(std::unique_ptr<sqlite::Connection> writer,
                         std::unique_ptr<sqlite::ConnectionPool> readers, StoreClock clock)
    : writer_(std::move(writer)),
      readers_(std::move(readers)),
      clock_(clock ? std::move(clock) : StoreClock(NowMillis)) {}

SqliteStore::~SqliteStore() {
  // A stopped drec leaves the file settled, for the tools that read it; should this fail, the
  // claimed batches stay durable and the next Open folds them.
  if (Status status = Settle(); !status.ok()) {
    spdlog::warn("sqlite: folding acknowledged events at close failed: {}", status.message());
  }
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, StoreClock clock) {
  if (sqlite3_threadsafe() == 0) {
    return Status::Internal("sqlite: library built without thread support");
  }
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code error;
    std::filesystem::create_directories(parent, error);
    if (error) {
      return Status::Unavailable("sqlite: cannot create directory " + parent.string() + ": " +
                                 error.message());
    }
  }
  std::unique_ptr<Connection> writer;
  Status status = OpenWriter(path, &writer);
  if (!status.ok()) return status;
  std::vector<std::unique_ptr<Connection>> readers;
  for (int i = 0; i < kReadConnections; ++i) {
    auto reader = Connection::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
    if (!reader.ok()) return reader.status();
    // Readers must never write, even by mistake: the writer's mutex is what orders writes.
    status = (*reader)->Exec("PRAGMA query_only = ON");
    if (!status.ok()) return status;
    readers.push_back(std::move(*reader));
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(
      std::move(writer), std::make_unique<sqlite::ConnectionPool>(std::move(readers)),
      std::move(clock)));
  // What a crash left claimed is folded before anyone reads.
  store->unsettled_.store(true);
  status = store->Settle();
  if (!status.ok()) return status;
  return store;
}

Status SqliteStore::Ping() {
  // Through the writer: a write stuck on the file system (a frozen or dead disk) holds it, so
  // the check waits too and the readiness bound turns it into 503.
  std::lock_guard lock(writer_mutex_);
  auto stmt = writer_->Prepare("SELECT count(*) FROM sqlite_schema");
  if (!stmt.ok()) return stmt.status();
  return stmt->Run();
}

}  // namespace drec
