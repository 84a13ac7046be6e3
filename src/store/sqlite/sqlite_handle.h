// Small RAII wrappers over the sqlite3 C API. Their point is that no error path
// can leak a lock or a read snapshot: statements are reset when their lease ends,
// transactions roll back unless committed, connections return to their pool.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/status.h"

namespace drec::sqlite {

// Maps a SQLite result code to a Status. Conditions that pass on their own (busy, locked,
// disk full, I/O errors) become Unavailable so that callers answer 503 and the registry
// retries; everything else is a bug or corruption and becomes Internal.
Status ErrorStatus(int code, std::string_view context, std::string_view message);

// A lease on a prepared statement owned by a Connection. Reset and unbound when the lease
// ends, so a statement abandoned mid-result never pins a snapshot or a lock.
class Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  // Binds a named parameter (":name"). A failure is reported by the next Step or Run, so a
  // run of binds needs a single check.
  void Bind(const char* name, std::int64_t value);
  // Binds NULL for nullopt: SQL NULL is how the schema spells "never happened".
  void Bind(const char* name, std::optional<std::int64_t> value);
  void Bind(const char* name, std::string_view value);
  // Binds bytes that are not text (an encoding of effects) as a BLOB.
  void BindBlob(const char* name, std::string_view bytes);

  // Advances the statement: true with a row to read, false when it is done.
  Result<bool> Step();
  // Runs a statement to completion, for statements that return no rows.
  Status Run();

  // Column readers for the current row; NULL reads as 0, nullopt or "".
  std::int64_t Int(int column) const;
  std::optional<std::int64_t> OptionalInt(int column) const;
  std::string Text(int column) const;
  std::string Blob(int column) const;

 private:
  Status Error(int code) const;

  sqlite3_stmt* stmt_;
  Status bind_error_;
};

// Reads the current row's columns left to right, so no caller counts column indexes: a query's
// column list and its reader are written in the same order, side by side.
class RowReader {
 public:
  explicit RowReader(const Statement& stmt) : stmt_(stmt) {}
  std::int64_t Int() { return stmt_.Int(next_++); }
  std::optional<std::int64_t> OptionalInt() { return stmt_.OptionalInt(next_++); }
  std::string Text() { return stmt_.Text(next_++); }
  std::string Blob() { return stmt_.Blob(next_++); }
  bool Bool() { return Int() != 0; }

 private:
  const Statement& stmt_;
  int next_ = 0;
};

// Steps `stmt` to its end, handing each row to `read` (a function of RowReader&); the first
// error stops it.
template <typename ReadFn>
Status ForEachRow(Statement& stmt, ReadFn read) {
  for (;;) {
    auto row = stmt.Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
    RowReader reader(stmt);
    read(reader);
  }
}

// One database connection and its cache of prepared statements. Not thread-safe: exactly one
// thread uses a connection at a time (the writer under a mutex, readers through the pool).
class Connection {
 public:
  // Opens `path` with sqlite3_open_v2 `flags` and a busy timeout, so that short lock waits
  // (checkpoints, another process) are absorbed instead of failing at once.
  static Result<std::unique_ptr<Connection>> Open(const std::string& path, int flags);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Runs SQL text of one or more statements whose results, if any, are not needed.
  Status Exec(const char* sql);
  // A lease on the cached statement for `sql`, compiled on first use: hot statements are
  // parsed once per connection, not once per event.
  Result<Statement> Prepare(std::string_view sql);
  // Rows changed by the last INSERT, UPDATE or DELETE; how INSERT OR IGNORE reports a duplicate.
  std::int64_t Changes() const { return sqlite3_changes64(db_); }
  // Ends any open transaction; harmless when none is open or SQLite already rolled back.
  void Rollback();

 private:
  explicit Connection(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  std::map<std::string, sqlite3_stmt*, std::less<>> statements_;
};

// A transaction that rolls back when it goes out of scope uncommitted, so every early return
// leaves its connection clean.
class Transaction {
 public:
  explicit Transaction(Connection& connection) : connection_(connection) {}
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  // `begin_sql` is "BEGIN" for a consistent read snapshot, or "BEGIN IMMEDIATE" to take the
  // write lock up front, so a busy database fails here rather than halfway through a batch.
  Status Begin(const char* begin_sql);
  Status Commit();

 private:
  Connection& connection_;
  bool open_ = false;
};

// A fixed set of connections shared by query threads; WAL lets each read its own snapshot
// while the writer commits, so readers neither block the writer nor each other.
class ConnectionPool {
 public:
  // Borrows one connection and gives it back when destroyed.
  class Lease {
   public:
    Lease(ConnectionPool& pool, std::unique_ptr<Connection> connection)
        : pool_(pool), connection_(std::move(connection)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    Connection& operator*() const { return *connection_; }
    Connection* operator->() const { return connection_.get(); }

   private:
    ConnectionPool& pool_;
    std::unique_ptr<Connection> connection_;
  };

  explicit ConnectionPool(std::vector<std::unique_ptr<Connection>> connections)
      : idle_(std::move(connections)) {}

  // Waits until a connection is free: queries queue rather than open unbounded connections.
  Lease Acquire();

 private:
  std::mutex mutex_;
  std::condition_variable released_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace drec::sqlite
