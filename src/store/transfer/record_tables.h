// The store-neutral rows of drec's data model (docs/data-model.md), for copying a store's
// statistics into another (drec migrate, docs/migrate.md). Every store keeps the same tables with
// the same field names; what differs is how a value is spelled (a BSON date or an INTEGER, a
// boolean or 0/1, the actors as a JSON text, a text[] or an array). A store reads its rows into
// these values (RecordSource) and writes them back from them (RecordSink), so the copy loop
// (src/migrate/) knows no store and a store knows no other store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "util/status.h"

namespace drec::transfer {

// How a column's value is typed; every store maps each to its own type.
enum class ColumnType : std::uint8_t {
  kText,      // TEXT / text / string
  kInt,       // INTEGER / bigint / Int64
  kTime,      // unix milliseconds: INTEGER / bigint / BSON date
  kBool,      // 0/1 / boolean / bool
  kTextList,  // the repository's actors: a JSON array text / text[] / array of strings
};

struct Column {
  std::string name;  // the field name in every store (docs/data-model.md)
  ColumnType type;
  // Absent until set (SQL NULL, no BSON field); the others always hold a value.
  bool nullable = false;
};

// One table (SQLite, PostgreSQL) or collection (MongoDB) of a registry's store.
struct Table {
  std::string name;        // the SQLite and PostgreSQL table
  std::string collection;  // the MongoDB collection after `C.` ("" for C itself)
  std::vector<Column> columns;
  // The leading columns that form the unique key, all kText: rows are read in key order
  // (bytewise in every store), so a copy resumes after the last key it wrote.
  std::size_t key_size = 1;
};

// A value of a row: nullopt-like monostate for an unset nullable column.
using Value =
    std::variant<std::monostate, std::int64_t, std::string, bool, std::vector<std::string>>;
// The values of one row, in the table's column order.
using Row = std::vector<Value>;
// The key of a row (its first key_size values).
using Key = std::vector<std::string>;

// Every table of a registry's store, in the order a copy writes them; derived from
// model/fields.h, so a new counter is copied with no edit here.
const std::vector<Table>& Tables();
// The table named `name`, or nullptr.
const Table* TableNamed(std::string_view name);
// The key of `row` of `table`.
Key KeyOf(const Table& table, const Row& row);
// The key's column names, comma-separated: how the SQL stores order and resume a table.
std::string KeyColumnList(const Table& table);
// Whether `row` has a value of the right type for every column (monostate only where nullable):
// what a sink can rely on.
bool RowFits(const Table& table, const Row& row);

// The actors list as a JSON array text (how SQLite keeps it, how PostgreSQL can hand it out),
// and back; malformed text is InvalidArgument.
std::string TextListToJson(const std::vector<std::string>& values);
Result<std::vector<std::string>> TextListFromJson(std::string_view json);

// One registry's store, read for a copy. Rows come from one consistent view of the store, taken
// by BeginSnapshot and held until the source is destroyed.
class RecordSource {
 public:
  virtual ~RecordSource() = default;
  // What the store is, without secrets (no password): a resumed copy must name the same.
  virtual std::string Identity() const = 0;
  // Takes the consistent view every later read comes from.
  [[nodiscard]] virtual Status BeginSnapshot() = 0;
  [[nodiscard]] virtual Result<std::int64_t> CountRows(const Table& table) = 0;
  // Up to `limit` rows of `table` in key order, starting after `after` (from the first when
  // `after` is nullopt).
  [[nodiscard]] virtual Result<std::vector<Row>> ReadRows(const Table& table,
                                                          const std::optional<Key>& after,
                                                          std::size_t limit) = 0;
};

// One registry's store, written by a copy. A sink keeps a checkpoint text of the copy's own
// beside the statistics, written with each chunk of rows, so an interrupted copy resumes.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // What the store is, without secrets, for messages.
  virtual std::string Identity() const = 0;
  // The checkpoint of a copy into this store, or nullopt when none was started here.
  [[nodiscard]] virtual Result<std::optional<std::string>> ReadCheckpoint() = 0;
  // Whether any table holds a row: statistics a copy must not mix with.
  [[nodiscard]] virtual Result<bool> HoldsRecords() = 0;
  // Writes `rows` of `table`, replacing rows of the same key (a chunk written again after an
  // interruption ends the same), and records `checkpoint`. All at once where the store has
  // transactions (SQLite, PostgreSQL); MongoDB writes the rows, then the checkpoint.
  [[nodiscard]] virtual Status WriteRows(const Table& table, const std::vector<Row>& rows,
                                         const std::string& checkpoint) = 0;
};

}  // namespace drec::transfer
