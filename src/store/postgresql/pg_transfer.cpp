#include "store/postgresql/pg_transfer.h"

#include <fmt/format.h>

#include <charconv>
#include <utility>

#include "store/postgresql/pg_fields.h"
#include "store/postgresql/pg_schema.h"

namespace drec {
namespace {

using transfer::Column;
using transfer::ColumnType;
using transfer::Row;
using transfer::Table;

// The copy's own table, in the registry's schema: outside drec's schema migrations, since drec
// never reads it. One row.
constexpr const char kCreateCheckpoint[] =
    "CREATE TABLE IF NOT EXISTS drec_migration "
    "(id integer NOT NULL PRIMARY KEY CHECK (id = 1), checkpoint text NOT NULL)";
constexpr const char kWriteCheckpoint[] =
    "INSERT INTO drec_migration (id, checkpoint) VALUES (1, $1) "
    "ON CONFLICT (id) DO UPDATE SET checkpoint = EXCLUDED.checkpoint";

// The select list; the actors as JSON, which needs no parser of PostgreSQL's array syntax.
std::string SelectColumns(const Table& table) {
  std::string out;
  for (const Column& column : table.columns) {
    if (!out.empty()) out += ", ";
    out += column.type == ColumnType::kTextList
               ? fmt::format("array_to_json({})::text", column.name)
               : column.name;
  }
  return out;
}

Result<Row> ReadRow(const Table& table, const PGresult* result, int index) {
  Row row;
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    const Column& column = table.columns[i];
    const int field = static_cast<int>(i);
    if (PQgetisnull(result, index, field) != 0) {
      if (!column.nullable) {
        return Status::Internal(fmt::format("postgresql: {}.{} is NULL, which drec never writes",
                                            table.name, column.name));
      }
      row.emplace_back(std::monostate{});
      continue;
    }
    const std::string_view text(PQgetvalue(result, index, field),
                                static_cast<std::size_t>(PQgetlength(result, index, field)));
    switch (column.type) {
      case ColumnType::kText:
        row.emplace_back(std::string(text));
        break;
      case ColumnType::kInt:
      case ColumnType::kTime: {
        std::int64_t value = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (error != std::errc() || end != text.data() + text.size()) {
          return Status::Internal(
              fmt::format("postgresql: {}.{}: not an integer: {}", table.name, column.name, text));
        }
        row.emplace_back(value);
        break;
      }
      case ColumnType::kBool:
        row.emplace_back(text == "t");
        break;
      case ColumnType::kTextList: {
        auto values = transfer::TextListFromJson(text);
        if (!values.ok()) {
          return Status::Internal(fmt::format("postgresql: {}.{}: {}", table.name, column.name,
                                              values.status().message()));
        }
        row.emplace_back(std::move(values).value());
        break;
      }
    }
  }
  return row;
}

void AddValue(pg::Params& params, const transfer::Value& value) {
  if (const auto* i = std::get_if<std::int64_t>(&value)) {
    params.Add(*i);
  } else if (const auto* b = std::get_if<bool>(&value)) {
    params.Add(*b);
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    params.Add(std::string_view(*s));
  } else if (const auto* list = std::get_if<std::vector<std::string>>(&value)) {
    params.AddArray(*list);
  } else {
    params.AddNull();
  }
}

// INSERT ... ON CONFLICT (key) DO UPDATE: a chunk written again replaces what it wrote before.
std::string UpsertOf(const Table& table) {
  std::string columns, params, updates;
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    const std::string& name = table.columns[i].name;
    columns += fmt::format("{}{}", i == 0 ? "" : ", ", name);
    params += fmt::format("{}${}", i == 0 ? "" : ", ", i + 1);
    if (i >= table.key_size) {
      updates += fmt::format("{}{} = EXCLUDED.{}", updates.empty() ? "" : ", ", name, name);
    }
  }
  return fmt::format("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO {}", table.name, columns,
                     params, transfer::KeyColumnList(table),
                     updates.empty() ? std::string("NOTHING") : "UPDATE SET " + updates);
}

// Subtracts ('-') or adds ('+') the count and counters of the repositories named in $1.
std::string AdjustTotals(char op) {
  return fmt::format(
      "UPDATE repository_totals AS t SET repositories = t.repositories {0} r.n, {1} FROM "
      "(SELECT count(*) AS n, {2} FROM repositories WHERE repositoryname = ANY($1::text[])) AS r",
      op, pg::EachCounter(fmt::format("{{0}} = t.{{0}} {} r.{{0}}", op)),
      pg::EachCounter("coalesce(sum({0}), 0) AS {0}"));
}

}  // namespace

PostgresTransfer::~PostgresTransfer() {
  if (in_snapshot_ && db_->usable()) (void)db_->Exec("ROLLBACK");
}

Result<std::unique_ptr<PostgresTransfer>> PostgresTransfer::Open(const std::string& uri,
                                                                 const std::string& schema,
                                                                 bool must_exist) {
  auto db = pg::Connection::Open(uri, schema);
  if (!db.ok()) return db.status();
  if (must_exist) {
    auto found = (*db)->Query("SELECT count(*) FROM pg_namespace WHERE nspname = $1",
                              pg::Params().Add(std::string_view(schema)));
    if (!found.ok()) return found.status();
    std::int64_t count = 0;
    pg::ForEachRow(found->get(), [&](pg::RowReader& row) { count = row.Int(); });
    if (count == 0) {
      return Status::InvalidArgument("schema \"" + schema +
                                     "\" does not exist (the source store must exist)");
    }
  }
  Status status = pg::Migrate(**db, schema);
  if (!status.ok()) return status;
  PGconn* conn = (*db)->raw();
  // Where the data is, never the password: what a resumed copy compares.
  const std::string identity = fmt::format("postgresql://{}:{}/{} schema {}", PQhost(conn),
                                           PQport(conn), PQdb(conn), schema);
  return std::unique_ptr<PostgresTransfer>(new PostgresTransfer(identity, std::move(db).value()));
}

Result<std::unique_ptr<PostgresTransfer>> PostgresTransfer::OpenSource(const std::string& uri,
                                                                       const std::string& schema) {
  return Open(uri, schema, /*must_exist=*/true);
}

Result<std::unique_ptr<PostgresTransfer>> PostgresTransfer::OpenSink(const std::string& uri,
                                                                     const std::string& schema) {
  return Open(uri, schema, /*must_exist=*/false);
}

Status PostgresTransfer::BeginSnapshot() {
  Status status = db_->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (!status.ok()) return status;
  in_snapshot_ = true;
  // The snapshot is taken by the transaction's first query.
  return db_->Exec("SELECT 1");
}

Result<std::int64_t> PostgresTransfer::CountRows(const Table& table) {
  auto rows = db_->Query(fmt::format("SELECT count(*) FROM {}", table.name), pg::Params());
  if (!rows.ok()) return rows.status();
  std::int64_t count = 0;
  pg::ForEachRow(rows->get(), [&](pg::RowReader& row) { count = row.Int(); });
  return count;
}

Result<std::vector<Row>> PostgresTransfer::ReadRows(const Table& table,
                                                    const std::optional<transfer::Key>& after,
                                                    std::size_t limit) {
  pg::Params params;
  std::string where;
  if (after) {
    std::string placeholders;
    for (std::size_t i = 0; i < table.key_size; ++i) {
      placeholders += fmt::format("{}${}", i == 0 ? "" : ", ", i + 1);
      params.Add(std::string_view(i < after->size() ? (*after)[i] : std::string()));
    }
    where = fmt::format(" WHERE ({}) > ({})", transfer::KeyColumnList(table), placeholders);
  }
  params.Add(static_cast<std::int64_t>(limit));
  auto result =
      db_->Query(fmt::format("SELECT {} FROM {}{} ORDER BY {} LIMIT ${}", SelectColumns(table),
                             table.name, where, transfer::KeyColumnList(table), params.size()),
                 params);
  if (!result.ok()) return result.status();
  std::vector<Row> rows;
  const int count = PQntuples(result->get());
  for (int i = 0; i < count; ++i) {
    auto row = ReadRow(table, result->get(), i);
    if (!row.ok()) return row.status();
    rows.push_back(std::move(row).value());
  }
  return rows;
}

Result<std::optional<std::string>> PostgresTransfer::ReadCheckpoint() {
  // The table is made by the first chunk written, so that a refused copy leaves no trace.
  auto exists = db_->Query("SELECT to_regclass('drec_migration') IS NOT NULL", pg::Params());
  if (!exists.ok()) return exists.status();
  bool found = false;
  pg::ForEachRow(exists->get(), [&](pg::RowReader& row) { found = row.Bool(); });
  if (!found) return std::optional<std::string>();
  auto rows = db_->Query("SELECT checkpoint FROM drec_migration WHERE id = 1", pg::Params());
  if (!rows.ok()) return rows.status();
  std::optional<std::string> checkpoint;
  pg::ForEachRow(rows->get(), [&](pg::RowReader& row) { checkpoint = row.Text(); });
  return checkpoint;
}

Result<bool> PostgresTransfer::HoldsRecords() {
  for (const Table& table : transfer::Tables()) {
    auto rows =
        db_->Query(fmt::format("SELECT EXISTS (SELECT 1 FROM {})", table.name), pg::Params());
    if (!rows.ok()) return rows.status();
    bool any = false;
    pg::ForEachRow(rows->get(), [&](pg::RowReader& row) { any = row.Bool(); });
    if (any) return true;
  }
  return false;
}

Status PostgresTransfer::WriteRows(const Table& table, const std::vector<Row>& rows,
                                   const std::string& checkpoint) {
  const std::string upsert = UpsertOf(table);
  pg::Pipeline pipeline(*db_);
  // Copied repository rows replace those of their names, if any: the all-repository totals lose
  // the old rows (before the upserts) and gain the new ones (after them).
  const bool repositories = table.name == "repositories";
  std::vector<std::string> names;
  if (repositories) {
    for (const Row& row : rows) {
      if (const auto* name = std::get_if<std::string>(&row.front())) names.push_back(*name);
    }
    pipeline.Add(AdjustTotals('-'), pg::Params().AddArray(names));
  }
  for (const Row& row : rows) {
    if (!transfer::RowFits(table, row)) {
      return Status::Internal("postgresql: a row of " + table.name + " does not fit its columns");
    }
    pg::Params params;
    for (const transfer::Value& value : row) AddValue(params, value);
    pipeline.Add(upsert, std::move(params));
  }
  if (repositories) pipeline.Add(AdjustTotals('+'), pg::Params().AddArray(names));
  // Copied repositories and days bypass the rolling window's upkeep: it is recomputed from the
  // days by the next windowed query.
  if (table.name == "repositories" || table.name == "days") {
    pipeline.Add("UPDATE rolling_window SET from_day = NULL", pg::Params());
  }
  pipeline.Add(kWriteCheckpoint, pg::Params().Add(std::string_view(checkpoint)));
  Status status = db_->Exec("BEGIN");
  if (!status.ok()) return status;
  status = db_->Exec(kCreateCheckpoint);
  if (!status.ok()) {
    if (db_->usable()) (void)db_->Exec("ROLLBACK");
    return status;
  }
  pg::ErrorInfo error = pipeline.Run();
  if (!error.status.ok()) {
    if (db_->usable()) (void)db_->Exec("ROLLBACK");
    return error.status;
  }
  return db_->Exec("COMMIT");
}

}  // namespace drec
