// Small RAII wrappers over libpq. Their point is that no error path can leak a connection in a
// half-finished state: a result is freed with its owner, a connection that broke is marked
// broken and replaced by its owner, a pipeline reads every answer it asked for before it returns.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/status.h"

namespace drec::pg {

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// Why a statement failed, as the store's callers need it: `retry` for a serialization failure
// or a deadlock, which a new transaction with the same batch resolves (SQLSTATE 40001, 40P01).
// Otherwise Unavailable when the server is down, restarting, read-only (a standby) or out of
// resources, so the registry retries; Internal for anything else (a bug).
struct ErrorInfo {
  Status status;
  bool retry = false;
};
ErrorInfo ClassifyError(const PGresult* result, std::string_view context);

// The text parameters of one statement. NULL is how the schema spells "never happened".
class Params {
 public:
  Params& Add(std::int64_t value);
  Params& Add(std::optional<std::int64_t> value);
  Params& Add(std::string_view value);
  Params& Add(const char* value) { return Add(std::string_view(value)); }
  Params& Add(bool value);
  Params& AddNull();
  // A text[] literal of `values`: a whole list in one parameter (unnest on the server).
  Params& AddArray(const std::vector<std::string>& values);

  int size() const { return static_cast<int>(values_.size()); }
  // Pointers into this object, valid while it lives and is not changed.
  std::vector<const char*> Pointers() const;

 private:
  std::vector<std::optional<std::string>> values_;
};

// Reads the columns of one row in order, like the SQLite store's RowReader.
class RowReader {
 public:
  RowReader(const PGresult* result, int row) : result_(result), row_(row) {}
  std::string Text();
  std::int64_t Int();
  std::optional<std::int64_t> OptionalInt();
  bool Bool();

 private:
  const PGresult* result_;
  int row_;
  int column_ = 0;
};

// Calls `read` with a reader for each row of `result`.
void ForEachRow(const PGresult* result, const std::function<void(RowReader&)>& read);

// One server connection and the statements prepared on it. Not thread-safe: one user at a time
// (the store's writer mutex or a pool lease).
class Connection {
 public:
  // Connects with `uri` (a libpq URI or key=value string; hosts tried in order, so a
  // multi-host URI with target_session_attrs=read-write finds the primary) and sets the
  // search_path to `schema`. drec's defaults (connect_timeout, keepalives, application_name)
  // apply unless the URI sets them. Unavailable when no server accepts the connection.
  static Result<std::unique_ptr<Connection>> Open(const std::string& uri,
                                                  const std::string& schema);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // False once the connection failed; its owner replaces it.
  bool usable() const;

  // Runs SQL text without parameters, several statements allowed (migrations, BEGIN, COMMIT).
  Status Exec(std::string_view sql);
  // Runs one parameterised statement (prepared once per connection) and returns its rows.
  Result<ResultPtr> Query(std::string_view sql, const Params& params);

  // The statement's prepared name on this connection, or empty when not yet prepared.
  const std::string* PreparedName(std::string_view sql) const;
  // Records that `sql` is prepared as `name`; a new name for the next statement.
  void SetPrepared(std::string_view sql, std::string name);
  std::string NextStatementName();

  PGconn* raw() { return conn_; }

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}

  PGconn* conn_;
  std::unordered_map<std::string, std::string> prepared_;
  std::int64_t next_statement_ = 0;
};

// Statements sent together and answered together (libpq pipeline mode): a batch of writes
// costs one round trip per chunk instead of one per statement. Statements run in the order
// added; after the first failure the server skips the rest (the transaction is then aborted).
class Pipeline {
 public:
  explicit Pipeline(Connection& connection) : connection_(connection) {}

  // Queues `sql` with `params`; `on_rows`, when given, receives its answer.
  void Add(std::string_view sql, Params params,
           std::function<void(const PGresult*)> on_rows = nullptr);
  // Sends everything queued and reads every answer. The first failure, classified.
  [[nodiscard]] ErrorInfo Run();

 private:
  struct Command {
    std::string sql;
    Params params;
    std::function<void(const PGresult*)> on_rows;
  };
  ErrorInfo RunChunk(std::size_t begin, std::size_t end);

  Connection& connection_;
  std::vector<Command> commands_;
};

}  // namespace drec::pg
