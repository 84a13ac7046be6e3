// The row-level seam of drec migrate (store/transfer/record_tables.h) through real SQLite files,
// the PostgreSQL test server and the MongoDB test server (FerretDB): every kind of value of every
// table reads back as written (unset times and texts, '' keys, booleans, odd actor names), rows
// come in key order in chunks that resume after a key, a chunk written twice leaves one row per
// key, the checkpoint is kept, and a store with rows says so. And drec backup's SQLite copy: a
// sound file with every row.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "mongo_test_server.h"
#include "postgres_test_server.h"
#include "store/mongo/mongo_transfer.h"
#include "store/postgresql/pg_store.h"
#include "store/postgresql/pg_transfer.h"
#include "store/sqlite/sqlite_backup.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_transfer.h"

namespace drec {
namespace {

using transfer::ColumnType;
using transfer::Row;
using transfer::Table;
using transfer::Tables;

// Row `i` of `table`: keys that sort by i, and values that vary with i, unset every other time.
Row SampleRow(const Table& table, int i) {
  Row row;
  for (std::size_t c = 0; c < table.columns.size(); ++c) {
    const auto& column = table.columns[c];
    if (c < table.key_size) {
      // The classes' tag and day keys are '' for all-time records.
      if (table.name == "classes" && c >= 2 && i % 2 == 0) {
        row.emplace_back(std::string());
      } else {
        row.emplace_back(fmt::format("{}/é \"{}\"-{:02}", column.name, c, i));
      }
      continue;
    }
    const bool unset = column.nullable && i % 2 == 1;
    if (unset) {
      row.emplace_back(std::monostate{});
      continue;
    }
    switch (column.type) {
      case ColumnType::kText:
        row.emplace_back(fmt::format("text {} of {}", i, column.name));
        break;
      case ColumnType::kInt:
        row.emplace_back(std::int64_t{1'000'000'000'000} + i * 7 + static_cast<int>(c));
        break;
      case ColumnType::kTime:
        row.emplace_back(std::int64_t{1'764'000'000'123} + i);
        break;
      case ColumnType::kBool:
        row.emplace_back(i % 3 == 0);
        break;
      case ColumnType::kTextList:
        row.emplace_back(std::vector<std::string>{"ci.bot", R"(robot "x\y",{z})", "été"});
        break;
    }
  }
  return row;
}

std::vector<Row> SampleRows(const Table& table, int count) {
  std::vector<Row> rows;
  for (int i = 0; i < count; ++i) rows.push_back(SampleRow(table, i));
  return rows;
}

// Reads every row of `table` in chunks of `chunk`.
std::vector<Row> ReadAll(transfer::RecordSource& source, const Table& table, std::size_t chunk) {
  std::vector<Row> all;
  std::optional<transfer::Key> after;
  for (int guard = 0; guard < 1000; ++guard) {
    auto rows = source.ReadRows(table, after, chunk);
    EXPECT_TRUE(rows.ok()) << rows.status().message();
    if (!rows.ok() || rows->empty()) break;
    after = transfer::KeyOf(table, rows->back());
    all.insert(all.end(), rows->begin(), rows->end());
  }
  return all;
}

// Writes sample rows of every table into `sink` (one chunk twice), then reads them back.
void RoundTrip(transfer::RecordSink& sink, transfer::RecordSource& source) {
  auto empty = sink.HoldsRecords();
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  EXPECT_FALSE(*empty);
  auto none = sink.ReadCheckpoint();
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_FALSE(none->has_value());
  for (const Table& table : Tables()) {
    const auto rows = SampleRows(table, 7);
    ASSERT_TRUE(sink.WriteRows(table, {rows.begin(), rows.begin() + 4}, "first").ok());
    Status again = sink.WriteRows(table, rows, "checkpoint of " + table.name);
    ASSERT_TRUE(again.ok()) << table.name << ": " << again.message();
  }
  auto holds = sink.HoldsRecords();
  ASSERT_TRUE(holds.ok());
  EXPECT_TRUE(*holds);
  auto checkpoint = sink.ReadCheckpoint();
  ASSERT_TRUE(checkpoint.ok());
  EXPECT_EQ(checkpoint->value_or(""), "checkpoint of " + Tables().back().name);

  ASSERT_TRUE(source.BeginSnapshot().ok());
  for (const Table& table : Tables()) {
    auto count = source.CountRows(table);
    ASSERT_TRUE(count.ok()) << count.status().message();
    EXPECT_EQ(*count, 7) << table.name;
    auto expected = SampleRows(table, 7);
    std::sort(expected.begin(), expected.end(), [&](const Row& a, const Row& b) {
      return transfer::KeyOf(table, a) < transfer::KeyOf(table, b);
    });
    EXPECT_EQ(ReadAll(source, table, 3), expected) << table.name;
  }
}

// The store's overview after RoundTrip: the copied repositories (a chunk of them written twice)
// counted once each, with their counters summed.
void ExpectTotalsOfTheCopiedRepositories(StoreReader& store) {
  const Table& table = *transfer::TableNamed("repositories");
  const auto rows = SampleRows(table, 7);
  CounterValues expected;
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    for (std::size_t c = 0; c < table.columns.size(); ++c) {
      if (table.columns[c].name != kCounterFields[i].name) continue;
      for (const Row& row : rows) expected.at(i) += std::get<std::int64_t>(row[c]);
    }
  }
  auto summary = store.Summarize("2000-01-01", "2000-01-01");
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_EQ(summary->repositories, 7);
  EXPECT_EQ(summary->totals.counts, expected);
  EXPECT_NE(expected, CounterValues{});
  auto all = store.ListRepositories(RepositoryQuery{});
  ASSERT_TRUE(all.ok()) << all.status().message();
  EXPECT_EQ(all->total, 7);
}

TEST(RecordTransferTest, SqliteRowsReadBackAsWritten) {
  const auto dir =
      std::filesystem::temp_directory_path() /
      fmt::format("drec-transfer-{}", ::testing::UnitTest::GetInstance()->random_seed());
  std::filesystem::remove_all(dir);
  const std::string path = (dir / "drec.db").string();
  {
    auto sink = SqliteTransfer::OpenSink(path);
    ASSERT_TRUE(sink.ok()) << sink.status().message();
    auto source = SqliteTransfer::OpenSource(path);
    ASSERT_TRUE(source.ok()) << source.status().message();
    RoundTrip(**sink, **source);
  }
  {
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status().message();
    ExpectTotalsOfTheCopiedRepositories(**store);
  }

  // drec backup's copy holds every row and reads as the original.
  const std::string copy = (dir / "backup" / "drec.db").string();
  std::filesystem::create_directories(dir / "backup");
  std::int64_t pages = 0;
  Status status = sqlite::BackupDatabase(path, copy, &pages);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_GT(pages, 1);
  EXPECT_FALSE(std::filesystem::exists(copy + ".partial"));
  {
    auto original = SqliteTransfer::OpenSource(path);
    auto copied = SqliteTransfer::OpenSource(copy);
    ASSERT_TRUE(original.ok() && copied.ok());
    ASSERT_TRUE((*original)->BeginSnapshot().ok() && (*copied)->BeginSnapshot().ok());
    for (const Table& table : Tables()) {
      EXPECT_EQ(ReadAll(**copied, table, 100), ReadAll(**original, table, 100)) << table.name;
    }
  }
  EXPECT_FALSE(sqlite::BackupDatabase(path, copy, nullptr).ok()) << "overwrote the copy";
  EXPECT_FALSE(SqliteTransfer::OpenSource((dir / "missing.db").string()).ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "missing.db"));
  std::filesystem::remove_all(dir);
}

TEST(RecordTransferTest, PostgresRowsReadBackAsWritten) {
  std::string why;
  const std::string uri = testing::PostgresTestUri(&why);
  if (uri.empty()) GTEST_SKIP() << why;
  const std::string schema = testing::FreshPostgresSchema();
  {
    EXPECT_FALSE(PostgresTransfer::OpenSource(uri, schema).ok()) << "a missing source schema";
    auto sink = PostgresTransfer::OpenSink(uri, schema);
    ASSERT_TRUE(sink.ok()) << sink.status().message();
    auto source = PostgresTransfer::OpenSource(uri, schema);
    ASSERT_TRUE(source.ok()) << source.status().message();
    EXPECT_NE((*source)->Identity().find(schema), std::string::npos);
    RoundTrip(**sink, **source);
  }
  {
    auto store = PostgresStore::Open(uri, schema);
    ASSERT_TRUE(store.ok()) << store.status().message();
    ExpectTotalsOfTheCopiedRepositories(**store);
  }
  testing::DropPostgresSchema(schema);
}

TEST(RecordTransferTest, MongoRowsReadBackAsWritten) {
  std::string why;
  testing::MongoTestServer* server = testing::MongoTestServer::Shared(&why);
  if (server == nullptr) GTEST_SKIP() << why;
  const std::string database = server->FreshDatabase();
  {
    EXPECT_FALSE(MongoTransfer::OpenSource(server->uri(), database, "repositories", 7).ok())
        << "a missing source collection";
    auto sink = MongoTransfer::OpenSink(server->uri(), database, "repositories", 7);
    ASSERT_TRUE(sink.ok()) << sink.status().message();
    RoundTrip(**sink, **sink);
  }
  server->DropDatabase(database);
}

}  // namespace
}  // namespace drec
