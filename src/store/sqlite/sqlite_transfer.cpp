#include "store/sqlite/sqlite_transfer.h"

#include <fmt/format.h>

#include <filesystem>
#include <system_error>
#include <utility>

#include "store/sqlite/sqlite_fields.h"
#include "store/sqlite/sqlite_handle.h"
#include "store/sqlite/sqlite_store.h"

namespace drec {
namespace {

using sqlite::Connection;
using sqlite::RowReader;
using sqlite::Statement;
using transfer::Column;
using transfer::ColumnType;
using transfer::Row;
using transfer::Table;

// The copy's own table: outside drec's schema migrations, since drec never reads it. One row.
constexpr const char kCreateCheckpoint[] =
    "CREATE TABLE IF NOT EXISTS drec_migration "
    "(id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1), checkpoint TEXT NOT NULL) STRICT";
constexpr const char kWriteCheckpoint[] =
    "INSERT INTO drec_migration (id, checkpoint) VALUES (1, :checkpoint) "
    "ON CONFLICT (id) DO UPDATE SET checkpoint = excluded.checkpoint";

// The select list: each column, a nullable text column preceded by whether it is NULL (the
// statement reads NULL text as "").
std::string SelectColumns(const Table& table) {
  std::string out;
  for (const Column& column : table.columns) {
    if (!out.empty()) out += ", ";
    if (column.nullable && column.type == ColumnType::kText) {
      out += fmt::format("{0} IS NULL, ", column.name);
    }
    out += column.name;
  }
  return out;
}

Result<Row> ReadRow(const Table& table, RowReader& reader) {
  Row row;
  for (const Column& column : table.columns) {
    switch (column.type) {
      case ColumnType::kText: {
        const bool null = column.nullable && reader.Bool();
        std::string text = reader.Text();
        if (null) {
          row.emplace_back(std::monostate{});
        } else {
          row.emplace_back(std::move(text));
        }
        break;
      }
      case ColumnType::kInt:
      case ColumnType::kTime: {
        auto value = reader.OptionalInt();
        if (value) {
          row.emplace_back(*value);
        } else if (column.nullable) {
          row.emplace_back(std::monostate{});
        } else {
          row.emplace_back(std::int64_t{0});
        }
        break;
      }
      case ColumnType::kBool:
        row.emplace_back(reader.Bool());
        break;
      case ColumnType::kTextList: {
        auto values = transfer::TextListFromJson(reader.Text());
        if (!values.ok()) {
          return Status::Internal(
              fmt::format("sqlite: {}.{}: {}", table.name, column.name, values.status().message()));
        }
        row.emplace_back(std::move(values).value());
        break;
      }
    }
  }
  return row;
}

void BindValue(Statement& stmt, const char* name, const transfer::Value& value) {
  if (const auto* i = std::get_if<std::int64_t>(&value)) {
    stmt.Bind(name, *i);
  } else if (const auto* b = std::get_if<bool>(&value)) {
    stmt.Bind(name, std::int64_t{*b ? 1 : 0});
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    stmt.Bind(name, std::string_view(*s));
  } else if (const auto* list = std::get_if<std::vector<std::string>>(&value)) {
    const std::string json = transfer::TextListToJson(*list);
    stmt.Bind(name, std::string_view(json));
  } else {
    stmt.Bind(name, std::optional<std::int64_t>());
  }
}

// A copied repository row replaces the one of its name, if any: the all-repository totals lose
// the old row (`sign` -1, before the write) and gain the new one (+1, after it).
std::string AdjustTotals(int sign) {
  const char op = sign < 0 ? '-' : '+';
  return fmt::format(
      "UPDATE repository_totals SET repositories = repository_totals.repositories {0} 1, {1} "
      "FROM repositories AS r WHERE r.repositoryname = :repository",
      op, sqlite::EachCounter(fmt::format("{{0}} = repository_totals.{{0}} {} r.{{0}}", op)));
}

std::string ParamName(std::string_view prefix, std::size_t i) {
  return fmt::format(":{}{}", prefix, i);
}

}  // namespace

SqliteTransfer::SqliteTransfer(std::string path, std::unique_ptr<sqlite::Connection> db)
    : path_(std::move(path)), db_(std::move(db)) {}

SqliteTransfer::~SqliteTransfer() {
  snapshot_.reset();  // before the connection it uses
}

Result<std::unique_ptr<SqliteTransfer>> SqliteTransfer::Open(const std::string& path) {
  {
    // Creates the file and brings its schema up to date, as drec's start-up does.
    auto store = SqliteStore::Open(path);
    if (!store.ok()) return store.status();
  }
  auto db = Connection::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
  if (!db.ok()) return db.status();
  Status status = (*db)->Exec("PRAGMA synchronous = FULL");
  if (!status.ok()) return status;
  std::error_code error;
  std::string absolute = std::filesystem::weakly_canonical(path, error).string();
  if (error) absolute = path;
  return std::unique_ptr<SqliteTransfer>(new SqliteTransfer(absolute, std::move(db).value()));
}

Result<std::unique_ptr<SqliteTransfer>> SqliteTransfer::OpenSource(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    return Status::InvalidArgument(path + ": no such file (the source store must exist)");
  }
  return Open(path);
}

Result<std::unique_ptr<SqliteTransfer>> SqliteTransfer::OpenSink(const std::string& path) {
  return Open(path);
}

std::string SqliteTransfer::Identity() const { return "sqlite:" + path_; }

Status SqliteTransfer::BeginSnapshot() {
  snapshot_ = std::make_unique<sqlite::Transaction>(*db_);
  Status status = snapshot_->Begin("BEGIN");
  if (!status.ok()) return status;
  // A deferred transaction takes its snapshot at its first read.
  auto stmt = db_->Prepare("SELECT count(*) FROM sqlite_schema");
  if (!stmt.ok()) return stmt.status();
  return stmt->Run();
}

Result<std::int64_t> SqliteTransfer::CountRows(const Table& table) {
  auto stmt = db_->Prepare(fmt::format("SELECT count(*) FROM {}", table.name));
  if (!stmt.ok()) return stmt.status();
  std::int64_t count = 0;
  Status status = sqlite::ForEachRow(*stmt, [&](RowReader& row) { count = row.Int(); });
  if (!status.ok()) return status;
  return count;
}

Result<std::vector<Row>> SqliteTransfer::ReadRows(const Table& table,
                                                  const std::optional<transfer::Key>& after,
                                                  std::size_t limit) {
  std::string where;
  if (after) {
    std::string params;
    for (std::size_t i = 0; i < table.key_size; ++i) {
      params += fmt::format("{}{}", i == 0 ? "" : ", ", ParamName("k", i));
    }
    where = fmt::format(" WHERE ({}) > ({})", transfer::KeyColumnList(table), params);
  }
  auto stmt =
      db_->Prepare(fmt::format("SELECT {} FROM {}{} ORDER BY {} LIMIT :limit", SelectColumns(table),
                               table.name, where, transfer::KeyColumnList(table)));
  if (!stmt.ok()) return stmt.status();
  if (after) {
    for (std::size_t i = 0; i < table.key_size && i < after->size(); ++i) {
      stmt->Bind(ParamName("k", i).c_str(), std::string_view((*after)[i]));
    }
  }
  stmt->Bind(":limit", static_cast<std::int64_t>(limit));
  std::vector<Row> rows;
  Status failed;
  Status status = sqlite::ForEachRow(*stmt, [&](RowReader& reader) {
    auto row = ReadRow(table, reader);
    if (!row.ok()) {
      if (failed.ok()) failed = row.status();
      return;
    }
    rows.push_back(std::move(row).value());
  });
  if (!status.ok()) return status;
  if (!failed.ok()) return failed;
  return rows;
}

Result<std::optional<std::string>> SqliteTransfer::ReadCheckpoint() {
  // The table is made by the first chunk written, so that a refused copy leaves no trace.
  {
    auto exists = db_->Prepare(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'drec_migration'");
    if (!exists.ok()) return exists.status();
    std::int64_t count = 0;
    Status status = sqlite::ForEachRow(*exists, [&](RowReader& row) { count = row.Int(); });
    if (!status.ok()) return status;
    if (count == 0) return std::optional<std::string>();
  }
  auto stmt = db_->Prepare("SELECT checkpoint FROM drec_migration WHERE id = 1");
  if (!stmt.ok()) return stmt.status();
  std::optional<std::string> checkpoint;
  Status status = sqlite::ForEachRow(*stmt, [&](RowReader& row) { checkpoint = row.Text(); });
  if (!status.ok()) return status;
  return checkpoint;
}

Result<bool> SqliteTransfer::HoldsRecords() {
  for (const Table& table : transfer::Tables()) {
    auto stmt = db_->Prepare(fmt::format("SELECT EXISTS (SELECT 1 FROM {})", table.name));
    if (!stmt.ok()) return stmt.status();
    bool any = false;
    Status status = sqlite::ForEachRow(*stmt, [&](RowReader& row) { any = row.Bool(); });
    if (!status.ok()) return status;
    if (any) return true;
  }
  return false;
}

Status SqliteTransfer::WriteRows(const Table& table, const std::vector<Row>& rows,
                                 const std::string& checkpoint) {
  std::string columns, params;
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    columns += fmt::format("{}{}", i == 0 ? "" : ", ", table.columns[i].name);
    params += fmt::format("{}{}", i == 0 ? "" : ", ", ParamName("c", i));
  }
  const std::string insert =
      fmt::format("INSERT OR REPLACE INTO {} ({}) VALUES ({})", table.name, columns, params);
  sqlite::Transaction tx(*db_);
  Status status = tx.Begin("BEGIN IMMEDIATE");
  if (!status.ok()) return status;
  status = db_->Exec(kCreateCheckpoint);
  if (!status.ok()) return status;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < table.columns.size(); ++i) names.push_back(ParamName("c", i));
  const bool repositories = table.name == "repositories";
  static const std::string subtract = AdjustTotals(-1), add = AdjustTotals(+1);
  const auto adjust = [&](const std::string& sql, const Row& row) -> Status {
    auto stmt = db_->Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    BindValue(*stmt, ":repository", row[0]);
    return stmt->Run();
  };
  for (const Row& row : rows) {
    if (!transfer::RowFits(table, row)) {
      return Status::Internal("sqlite: a row of " + table.name + " does not fit its columns");
    }
    if (repositories) {
      status = adjust(subtract, row);
      if (!status.ok()) return status;
    }
    auto stmt = db_->Prepare(insert);
    if (!stmt.ok()) return stmt.status();
    for (std::size_t i = 0; i < row.size(); ++i) BindValue(*stmt, names[i].c_str(), row[i]);
    status = stmt->Run();
    if (!status.ok()) return status;
    if (repositories) {
      status = adjust(add, row);
      if (!status.ok()) return status;
    }
  }
  // Copied repositories and days bypass the rolling window's upkeep: it is recomputed from the
  // days by the next windowed query.
  if (table.name == "repositories" || table.name == "days") {
    status = db_->Exec("UPDATE rolling_window SET from_day = NULL");
    if (!status.ok()) return status;
  }
  auto stmt = db_->Prepare(kWriteCheckpoint);
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(":checkpoint", std::string_view(checkpoint));
  status = stmt->Run();
  if (!status.ok()) return status;
  return tx.Commit();
}

}  // namespace drec
