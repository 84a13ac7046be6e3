// The copy loop of drec migrate against in-memory stores: every row arrives, chunk by chunk; a
// copy interrupted after any chunk ends identical when run again; a finished copy is left alone;
// a target with other statistics, or a source that changed, is refused before anything is
// written.
#include "migrate/store_copy.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace drec::migrate {
namespace {

using transfer::Key;
using transfer::Row;
using transfer::Table;
using transfer::Tables;

// A row of `table` with key `key` (padded with "k") and `n` in every integer column.
Row MakeRow(const Table& table, const Key& key, std::int64_t n) {
  Row row;
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    const auto& column = table.columns[i];
    if (i < table.key_size) {
      row.emplace_back(i < key.size() ? key[i] : std::string("k"));
      continue;
    }
    switch (column.type) {
      case transfer::ColumnType::kText:
        if (column.nullable) {
          row.emplace_back(std::monostate{});
        } else {
          row.emplace_back(std::string("t"));
        }
        break;
      case transfer::ColumnType::kInt:
        row.emplace_back(n);
        break;
      case transfer::ColumnType::kTime:
        if (column.nullable && n % 2 == 0) {
          row.emplace_back(std::monostate{});
        } else {
          row.emplace_back(n * 1000);
        }
        break;
      case transfer::ColumnType::kBool:
        row.emplace_back(n % 3 == 0);
        break;
      case transfer::ColumnType::kTextList:
        row.emplace_back(std::vector<std::string>{"alice", "bob \"b\""});
        break;
    }
  }
  return row;
}

// Rows per table, kept in key order as every store reads them.
using Rows = std::map<std::string, std::map<Key, Row>>;

class FakeSource final : public transfer::RecordSource {
 public:
  explicit FakeSource(Rows rows, std::string identity = "fake-source")
      : rows_(std::move(rows)), identity_(std::move(identity)) {}
  std::string Identity() const override { return identity_; }
  Status BeginSnapshot() override {
    ++snapshots;
    return Status::Ok();
  }
  Result<std::int64_t> CountRows(const Table& table) override {
    return static_cast<std::int64_t>(rows_[table.name].size());
  }
  Result<std::vector<Row>> ReadRows(const Table& table, const std::optional<Key>& after,
                                    std::size_t limit) override {
    std::vector<Row> out;
    auto& rows = rows_[table.name];
    for (auto it = after ? rows.upper_bound(*after) : rows.begin();
         it != rows.end() && out.size() < limit; ++it) {
      out.push_back(it->second);
    }
    return out;
  }
  Rows& rows() { return rows_; }
  int snapshots = 0;

 private:
  Rows rows_;
  std::string identity_;
};

class FakeSink final : public transfer::RecordSink {
 public:
  std::string Identity() const override { return "fake-sink"; }
  Result<std::optional<std::string>> ReadCheckpoint() override { return checkpoint; }
  Result<bool> HoldsRecords() override {
    for (const auto& [name, rows] : rows_) {
      if (!rows.empty()) return true;
    }
    return false;
  }
  Status WriteRows(const Table& table, const std::vector<Row>& rows,
                   const std::string& next) override {
    if (fail_after_writes == 0) return Status::Unavailable("interrupted");
    if (fail_after_writes > 0) --fail_after_writes;
    for (const Row& row : rows) {
      EXPECT_TRUE(transfer::RowFits(table, row)) << table.name;
      rows_[table.name][transfer::KeyOf(table, row)] = row;
    }
    max_chunk = std::max(max_chunk, rows.size());
    checkpoint = next;
    ++writes;
    return Status::Ok();
  }
  Rows& rows() { return rows_; }

  std::optional<std::string> checkpoint;
  int fail_after_writes = -1;  // negative: never
  std::size_t max_chunk = 0;
  int writes = 0;

 private:
  Rows rows_;
};

// Every table with `per_table` rows, keys spread so that several chunks are needed.
Rows SampleRows(int per_table) {
  Rows rows;
  for (const Table& table : Tables()) {
    for (int i = 0; i < per_table; ++i) {
      Key key;
      for (std::size_t k = 0; k < table.key_size; ++k) {
        key.push_back(fmt::format("{}-{:03}", table.name, (i * 7 + static_cast<int>(k)) % 97));
      }
      key.back() += fmt::format("/{}", i);
      rows[table.name][key] = MakeRow(table, key, i);
    }
  }
  return rows;
}

TEST(StoreCopyTest, CopiesEveryRowInChunks) {
  FakeSource source(SampleRows(23));
  FakeSink sink;
  std::vector<Progress> progress;
  auto report = CopyStore(source, sink, {.chunk_rows = 5, .on_progress = [&](const Progress& p) {
                                           progress.push_back(p);
                                         }});
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(sink.rows(), source.rows());
  EXPECT_EQ(report->rows, 23 * static_cast<std::int64_t>(Tables().size()));
  EXPECT_FALSE(report->resumed);
  EXPECT_EQ(sink.max_chunk, 5u);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().rows, progress.back().total);
  EXPECT_EQ(progress.front().table, Tables().front().name);
  auto done = DecodeCheckpoint(*sink.checkpoint);
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(done->done);
}

TEST(StoreCopyTest, EmptySourceCopiesNothingAndFinishes) {
  FakeSource source({});
  FakeSink sink;
  auto report = CopyStore(source, sink, {});
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->rows, 0);
  EXPECT_FALSE(*sink.HoldsRecords());
  auto again = CheckCopy(source, sink);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, CopyStart::kDone);
}

TEST(StoreCopyTest, InterruptedAfterAnyChunkResumesToAnIdenticalCopy) {
  const Rows rows = SampleRows(11);
  // 11 rows a table in chunks of 4: 3 chunks per table, then the write that marks it done.
  const int writes = 3 * static_cast<int>(Tables().size()) + 1;
  for (int interrupt_at = 0; interrupt_at < writes; ++interrupt_at) {
    FakeSource source(rows);
    FakeSink sink;
    sink.fail_after_writes = interrupt_at;
    auto first = CopyStore(source, sink, {.chunk_rows = 4, .on_progress = nullptr});
    ASSERT_FALSE(first.ok());
    std::int64_t copied_before = 0;
    if (interrupt_at > 0) {
      copied_before = DecodeCheckpoint(*sink.checkpoint)->rows;
      auto start = CheckCopy(source, sink);
      ASSERT_TRUE(start.ok()) << start.status().message();
      EXPECT_EQ(*start, CopyStart::kResume);
    }
    sink.fail_after_writes = -1;
    auto second = CopyStore(source, sink, {.chunk_rows = 4, .on_progress = nullptr});
    ASSERT_TRUE(second.ok()) << interrupt_at << ": " << second.status().message();
    EXPECT_EQ(sink.rows(), source.rows()) << "interrupted after " << interrupt_at << " chunks";
    EXPECT_EQ(second->resumed, interrupt_at > 0);
    EXPECT_EQ(second->rows, 11 * static_cast<std::int64_t>(Tables().size()));
    // Rows copied before the interruption are not copied again.
    EXPECT_EQ(second->rows_this_run, second->rows - copied_before);
  }
}

TEST(StoreCopyTest, AFinishedCopyIsLeftAlone) {
  FakeSource source(SampleRows(3));
  FakeSink sink;
  ASSERT_TRUE(CopyStore(source, sink, {}).ok());
  const int writes = sink.writes;
  auto again = CopyStore(source, sink, {});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_done);
  EXPECT_EQ(sink.writes, writes);
}

TEST(StoreCopyTest, RefusesATargetWithStatistics) {
  FakeSource source(SampleRows(3));
  FakeSink sink;
  const Table& tags = *transfer::TableNamed("tags");
  ASSERT_TRUE(sink.WriteRows(tags, {MakeRow(tags, {"team/app", "v1"}, 1)}, "").ok());
  sink.checkpoint.reset();
  auto report = CopyStore(source, sink, {});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(report.status().message().find("already holds statistics"), std::string::npos);
  EXPECT_EQ(source.snapshots, 0);
}

TEST(StoreCopyTest, RefusesAnotherSourcesCopy) {
  FakeSource source(SampleRows(3));
  FakeSink sink;
  ASSERT_TRUE(CopyStore(source, sink, {}).ok());
  FakeSource other(SampleRows(3), "another-source");
  auto report = CopyStore(other, sink, {});
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("already holds a copy of fake-source"),
            std::string::npos);
}

TEST(StoreCopyTest, RefusesToContinueWhenTheSourceChanged) {
  FakeSource source(SampleRows(9));
  FakeSink sink;
  sink.fail_after_writes = 2;
  ASSERT_FALSE(CopyStore(source, sink, {.chunk_rows = 3, .on_progress = nullptr}).ok());
  const Table& ids = *transfer::TableNamed("event_ids");
  source.rows()["event_ids"][{"new-event"}] = MakeRow(ids, {"new-event"}, 1);
  sink.fail_after_writes = -1;
  auto report = CopyStore(source, sink, {.chunk_rows = 3, .on_progress = nullptr});
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("changed since the interrupted copy"),
            std::string::npos);
}

TEST(StoreCopyTest, RefusesTheSourceItself) {
  FakeSource source(SampleRows(1), "fake-sink");
  FakeSink sink;
  EXPECT_FALSE(CopyStore(source, sink, {}).ok());
}

TEST(StoreCopyTest, CheckpointRoundTrips) {
  Checkpoint checkpoint{"sqlite:/data/drec.db", {1, 2, 3}, 4, Key{"a\"b", "c/d"}, 42, false};
  auto decoded = DecodeCheckpoint(EncodeCheckpoint(checkpoint));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(decoded->source, checkpoint.source);
  EXPECT_EQ(decoded->source_rows, checkpoint.source_rows);
  EXPECT_EQ(decoded->table, checkpoint.table);
  EXPECT_EQ(decoded->after, checkpoint.after);
  EXPECT_EQ(decoded->rows, 42);
  EXPECT_FALSE(DecodeCheckpoint("{}").ok());
  EXPECT_FALSE(DecodeCheckpoint("not json").ok());
}

}  // namespace
}  // namespace drec::migrate
