#include "store/sqlite/sqlite_handle.h"

#include <utility>

namespace drec::sqlite {
namespace {

constexpr int kBusyTimeoutMillis = 5000;

}  // namespace

Status ErrorStatus(int code, std::string_view context, std::string_view message) {
  std::string text = "sqlite: ";
  text.append(context).append(": ").append(message);
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_NOMEM:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
      return Status::Unavailable(std::move(text));
    default:
      return Status::Internal(std::move(text));
  }
}

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), bind_error_(std::move(other.bind_error_)) {}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Status Statement::Error(int code) const {
  return ErrorStatus(code, sqlite3_sql(stmt_), sqlite3_errmsg(sqlite3_db_handle(stmt_)));
}

void Statement::Bind(const char* name, std::int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, sqlite3_bind_parameter_index(stmt_, name), value);
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = Error(rc);
}

void Statement::Bind(const char* name, std::optional<std::int64_t> value) {
  if (value) return Bind(name, *value);
  const int rc = sqlite3_bind_null(stmt_, sqlite3_bind_parameter_index(stmt_, name));
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = Error(rc);
}

void Statement::Bind(const char* name, std::string_view value) {
  // A default string_view has a null data pointer, which SQLite would bind as NULL, not ''.
  const char* data = value.data() != nullptr ? value.data() : "";
  const int rc = sqlite3_bind_text64(stmt_, sqlite3_bind_parameter_index(stmt_, name), data,
                                     value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = Error(rc);
}

void Statement::BindBlob(const char* name, std::string_view bytes) {
  const int rc = sqlite3_bind_blob64(stmt_, sqlite3_bind_parameter_index(stmt_, name),
                                     bytes.data() != nullptr ? bytes.data() : "", bytes.size(),
                                     SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = Error(rc);
}

Result<bool> Statement::Step() {
  if (!bind_error_.ok()) return bind_error_;
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Error(rc);
}

Status Statement::Run() {
  for (;;) {
    auto row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
  }
}

std::int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

std::optional<std::int64_t> Statement::OptionalInt(int column) const {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(stmt_, column);
}

std::string Statement::Text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (text == nullptr) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::string Statement::Blob(int column) const {
  const auto* bytes = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  if (bytes == nullptr) return {};
  return std::string(bytes, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status status = ErrorStatus(rc, "open " + path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return status;
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMillis);
  return std::unique_ptr<Connection>(new Connection(db));
}

Connection::~Connection() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

Status Connection::Exec(const char* sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return Status::Ok();
  Status status = ErrorStatus(rc, sql, message ? message : sqlite3_errstr(rc));
  sqlite3_free(message);
  return status;
}

Result<Statement> Connection::Prepare(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return ErrorStatus(rc, sql, sqlite3_errmsg(db_));
    it = statements_.emplace(std::string(sql), stmt).first;
  } else if (sqlite3_stmt_busy(it->second)) {
    return Status::Internal("sqlite: statement leased twice: " + std::string(sql));
  }
  return Statement(it->second);
}

void Connection::Rollback() {
  if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Transaction::~Transaction() {
  if (open_) connection_.Rollback();
}

Status Transaction::Begin(const char* begin_sql) {
  Status status = connection_.Exec(begin_sql);
  open_ = status.ok();
  return status;
}

Status Transaction::Commit() {
  Status status = connection_.Exec("COMMIT");
  if (status.ok()) open_ = false;
  return status;
}

ConnectionPool::Lease::~Lease() {
  {
    std::lock_guard lock(pool_.mutex_);
    pool_.idle_.push_back(std::move(connection_));
  }
  pool_.released_.notify_one();
}

ConnectionPool::Lease ConnectionPool::Acquire() {
  std::unique_lock lock(mutex_);
  released_.wait(lock, [this] { return !idle_.empty(); });
  auto connection = std::move(idle_.back());
  idle_.pop_back();
  return Lease(*this, std::move(connection));
}

}  // namespace drec::sqlite
