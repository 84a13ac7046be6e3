#include "store/sqlite/sqlite_backup.h"

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <system_error>

#include "store/sqlite/sqlite_handle.h"
#include "store/sqlite/sqlite_store.h"

namespace drec::sqlite {
namespace {

constexpr int kBusyTimeoutMillis = 5000;
// A step that finds the copy's file locked is retried this often, 10 ms apart.
constexpr int kBusyRetries = 500;

struct CloseDatabase {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DatabasePtr = std::unique_ptr<sqlite3, CloseDatabase>;

Status Failed(sqlite3* db, int code, std::string_view what) {
  return ErrorStatus(code, what, db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code));
}

Result<DatabasePtr> OpenDatabase(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DatabasePtr db(raw);
  if (rc != SQLITE_OK) return Failed(raw, rc, "opening " + path);
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMillis);
  return db;
}

Status Exec(sqlite3* db, const char* sql) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::Ok() : Failed(db, rc, sql);
}

}  // namespace

Status BackupDatabase(const std::string& source, const std::string& target, std::int64_t* pages,
                      int pages_per_step) {
  std::error_code error;
  if (std::filesystem::exists(target, error)) {
    return Status::InvalidArgument(target + " exists: back up into an empty directory");
  }
  if (!std::filesystem::is_regular_file(source, error)) {
    return Status::InvalidArgument(source + ": no such file");
  }
  // Read-write without create: reading a WAL database needs its shared-memory file.
  auto from = OpenDatabase(source, SQLITE_OPEN_READWRITE);
  if (!from.ok()) return from.status();
  // The snapshot: every step reads this transaction's view, so the copy never restarts when
  // drec commits meanwhile, and holds exactly what was committed before this point.
  Status status = Exec(from->get(), "BEGIN; SELECT count(*) FROM sqlite_schema;");
  if (!status.ok()) return status;

  const std::string partial = target + ".partial";
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::filesystem::remove(partial + suffix, error);
  }
  {
    auto to = OpenDatabase(partial, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (!to.ok()) return to.status();
    status = Exec(to->get(), "PRAGMA synchronous = FULL");
    if (!status.ok()) return status;
    sqlite3_backup* backup = sqlite3_backup_init(to->get(), "main", from->get(), "main");
    if (backup == nullptr) {
      return Failed(to->get(), sqlite3_errcode(to->get()), "starting the backup");
    }
    int rc = SQLITE_OK;
    for (int busy = 0;;) {
      rc = sqlite3_backup_step(backup, std::max(pages_per_step, 1));
      if (rc == SQLITE_OK) {
        busy = 0;
      } else if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && ++busy < kBusyRetries) {
        sqlite3_sleep(10);
      } else {
        break;
      }
    }
    if (pages != nullptr) *pages = sqlite3_backup_pagecount(backup);
    const int finished = sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) return Failed(to->get(), rc, "copying " + source);
    if (finished != SQLITE_OK) return Failed(to->get(), finished, "finishing the copy");
  }  // closing the copy folds its WAL into the file and removes it
  (void)Exec(from->get(), "ROLLBACK");
  {
    // The copy holds the batches drec had acknowledged but not yet folded into the records
    // (the pending table); opening it as a store folds them, so tools reading the copy see them.
    auto settled = SqliteStore::Open(partial);
    if (!settled.ok()) return settled.status();
  }
  std::filesystem::rename(partial, target, error);
  if (error) {
    return Status::Unavailable("renaming " + partial + " to " + target + ": " + error.message());
  }
  return Status::Ok();
}

}  // namespace drec::sqlite
