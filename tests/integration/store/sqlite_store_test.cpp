// What only the SQLite store promises beyond the store contract: its file, its journal mode,
// its schema versioning, and all-or-nothing batches when SQLite itself fails mid-batch.
#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "random_effects.h"
#include "semantics/coalesce.h"
#include "store/sqlite/sqlite_handle.h"
#include "store/sqlite/sqlite_schema.h"
#include "upgrade_checks.h"

namespace drec {
namespace {

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = (std::filesystem::path(::testing::TempDir()) / "drec-sqlite-XXXXXX");
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = dir;
    path_ = (dir_ / "nested" / "deeper" / "drec.db").string();
  }

  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<SqliteStore> OpenStore() {
    auto store = SqliteStore::Open(path_);
    EXPECT_TRUE(store.ok()) << store.status().message();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // Runs SQL on a connection of its own, as another process would, and returns the first
  // column of the first row.
  std::string RawQuery(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    std::string value;
    char* error = nullptr;
    const int rc = sqlite3_exec(
        db, sql.c_str(),
        [](void* out, int, char** columns, char**) {
          if (columns[0] != nullptr) *static_cast<std::string*>(out) = columns[0];
          return 0;
        },
        &value, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
    return value;
  }

  static Batch PullBatch(const std::string& id, const std::string& repository) {
    Delta pull;
    pull.counts[Counter::kPulls] = 1;
    pull.Pulled(1000);
    return Batch{{EventEffect{
        id, 1000, {RepositoryUpdate{repository, pull, "", std::nullopt}}, std::nullopt}}};
  }

  // Every row of every table that holds statistics, as text, sorted: what two files must share
  // to hold the same statistics.
  static std::vector<std::string> Records(const std::string& path) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    std::vector<std::string> rows;
    for (const char* table : {"repositories", "tags", "digests", "digest_parents", "actors", "days",
                              "classes", "total_days", "rolling_window", "repository_totals"}) {
      const std::string sql = std::string("SELECT * FROM ") + table;
      struct Into {
        const char* table;
        std::vector<std::string>* rows;
      } into{table, &rows};
      char* error = nullptr;
      const int rc = sqlite3_exec(
          db, sql.c_str(),
          [](void* context, int count, char** columns, char**) {
            const Into& to = *static_cast<Into*>(context);
            std::string row = to.table;
            for (int i = 0; i < count; ++i) {
              row += std::string("|") + (columns[i] != nullptr ? columns[i] : "NULL");
            }
            to.rows->push_back(std::move(row));
            return 0;
          },
          &into, &error);
      EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
      sqlite3_free(error);
    }
    sqlite3_close(db);
    std::sort(rows.begin(), rows.end());
    return rows;
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(SqliteStoreTest, CreatesItsDirectoryAndUsesWalAtTheCurrentSchemaVersion) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(std::filesystem::exists(path_));
  EXPECT_EQ(RawQuery("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(RawQuery("PRAGMA user_version"), std::to_string(sqlite::SchemaVersion()));
}

TEST_F(SqliteStoreTest, ReopeningKeepsDataAndSchemaVersion) {
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Apply(PullBatch("id-1", "app"), nullptr).ok());
  }
  // A column another tool added must survive: migrations never recreate tables.
  RawQuery("ALTER TABLE repositories ADD COLUMN description TEXT");
  RawQuery("UPDATE repositories SET numstars = 7, description = 'kept'");
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(RawQuery("PRAGMA user_version"), std::to_string(sqlite::SchemaVersion()));
  EXPECT_EQ(RawQuery("SELECT description FROM repositories"), "kept");
  auto repository = store->GetRepository("app");
  ASSERT_TRUE(repository.ok());
  ASSERT_TRUE(repository->has_value());
  EXPECT_EQ((*repository)->counters.counts[Counter::kPulls], 1);
  EXPECT_EQ((*repository)->numstars, 7);
}

// A database as the release before attachments wrote it (schema version 2), with a signature
// tag counted as an image tag then: the upgrade keeps every number and marks the tag.
TEST_F(SqliteStoreTest, UpgradingFromTheReleaseBeforeAttachmentsKeepsEveryNumber) {
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path());
  {
    auto db = sqlite::Connection::Open(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(db.ok()) << db.status().message();
    ASSERT_TRUE(sqlite::Migrate(**db, 2).ok());
  }
  const std::string signature = "sha256-" + std::string(64, 'c') + ".sig";
  RawQuery(
      "INSERT INTO repositories (repositoryname, numpulls, numpushs, numchecks, numindexpulls, "
      "numdeletes, firstpushed, lastpulled, actors, numstars) "
      "VALUES ('app', 11, 3, 5, 2, 1, 1000, 9000, '[\"alice\"]', 4)");
  RawQuery(
      "INSERT INTO tags (repository, tag, digest, numpulls, numpushs) VALUES "
      "('app', 'latest', 'sha256:a', 7, 2), ('app', '" +
      signature + "', 'sha256:s', 4, 1)");
  RawQuery("INSERT INTO days (repository, day, numpulls) VALUES ('app', '2026-11-30', 11)");
  RawQuery("INSERT INTO total_days (day, numpulls) VALUES ('2026-11-30', 11)");

  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(RawQuery("PRAGMA user_version"), std::to_string(sqlite::SchemaVersion()));
  auto repository = store->GetRepository("app");
  ASSERT_TRUE(repository.ok() && repository->has_value());
  const Counters& counters = (*repository)->counters;
  EXPECT_EQ(counters.counts[Counter::kPulls], 11);
  EXPECT_EQ(counters.counts[Counter::kPushes], 3);
  EXPECT_EQ(counters.counts[Counter::kChecks], 5);
  EXPECT_EQ(counters.counts[Counter::kIndexPulls], 2);
  EXPECT_EQ(counters.counts[Counter::kDeletes], 1);
  EXPECT_EQ(counters.counts[Counter::kAttachmentPushes], 0);
  EXPECT_EQ(counters.times[TimeField::kFirstPushed], 1000);
  EXPECT_EQ(counters.times[TimeField::kLastPulled], 9000);
  EXPECT_EQ((*repository)->actors, std::vector<std::string>{"alice"});
  EXPECT_EQ((*repository)->numstars, 4);
  EXPECT_EQ((*repository)->tags, std::vector<std::string>{"latest"});
  auto tags = store->ListTags("app");
  ASSERT_TRUE(tags.ok());
  ASSERT_EQ(tags->size(), 2u);
  EXPECT_FALSE((*tags)[0].attachment);
  EXPECT_EQ((*tags)[1].tag, signature);
  EXPECT_TRUE((*tags)[1].attachment);
  EXPECT_EQ((*tags)[1].counters.counts[Counter::kPulls], 4);
  auto summary = store->Summarize("2026-11-30", "2026-11-30");
  ASSERT_TRUE(summary.ok());
  ASSERT_EQ(summary->days.size(), 1u);
  EXPECT_EQ(summary->days[0].counters.counts[Counter::kPulls], 11);
}

// A database as the release before the rolling window wrote it (schema version 5): its windows
// are computed from the days it holds when first asked for, then kept as events arrive.
TEST_F(SqliteStoreTest, UpgradingFromTheReleaseBeforeTheRollingWindowCountsItsDays) {
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path());
  {
    auto db = sqlite::Connection::Open(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(db.ok()) << db.status().message();
    ASSERT_TRUE(sqlite::Migrate(**db, 5).ok());
  }
  RawQuery(
      "INSERT INTO repositories (repositoryname, numpulls) VALUES ('old', 9), ('new', 4), "
      "('none', 0)");
  RawQuery(
      "INSERT INTO days (repository, day, numpulls) VALUES ('old', '2026-10-01', 2), "
      "('old', '2026-11-20', 7), ('new', '2026-11-30', 4)");
  const UnixMillis today = *ParseDay("2026-12-01") + 3600 * 1000;
  auto store = SqliteStore::Open(path_, [&] { return today; });
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ(RawQuery("PRAGMA user_version"), std::to_string(sqlite::SchemaVersion()));
  RepositoryQuery query;
  query.sort.kind = SortKey::Kind::kWindowCounter;
  query.descending = true;
  query.window_from_day = RollingWindowFrom(today);
  const auto trending = [&] {
    auto page = (*store)->ListRepositories(query);
    EXPECT_TRUE(page.ok()) << page.status().message();
    std::vector<std::string> out;
    if (!page.ok()) return out;
    for (const auto& item : page->items) {
      out.push_back(item.repositoryname + " " +
                    std::to_string(item.window ? (*item.window)[Counter::kPulls] : -1));
    }
    return out;
  };
  EXPECT_EQ(trending(), (std::vector<std::string>{"old 7", "new 4", "none 0"}));
  EXPECT_EQ(RawQuery("SELECT from_day FROM rolling_window"), "2026-11-02");
  Delta pull;
  pull.counts[Counter::kPulls] = 8;
  const UnixMillis at = *ParseDay("2026-11-30");
  pull.Pulled(at);
  ASSERT_TRUE((*store)
                  ->Apply(Batch{{EventEffect{"id-1",
                                             at,
                                             {RepositoryUpdate{"none", pull, "", at},
                                              DayUpdate{"none", "2026-11-30", pull}},
                                             std::nullopt}}},
                          nullptr)
                  .ok());
  EXPECT_EQ(trending(), (std::vector<std::string>{"none 8", "old 7", "new 4"}));
}

// A database as the release before the repository totals wrote it (schema version 7): the upgrade
// computes the count and sums from its repositories, and later writes keep them exact.
TEST_F(SqliteStoreTest, UpgradingFromTheReleaseBeforeRepositoryTotalsCountsItsRepositories) {
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path());
  {
    auto db = sqlite::Connection::Open(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(db.ok()) << db.status().message();
    ASSERT_TRUE(sqlite::Migrate(**db, 7).ok());
  }
  RawQuery(std::string("INSERT INTO repositories (repositoryname, numpulls, numpushs, "
                       "numattachmentpulls, firstpushed, lastpulled) VALUES ") +
           testing::kSeededRepositories);
  auto store = SqliteStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ(RawQuery("PRAGMA user_version"), std::to_string(sqlite::SchemaVersion()));
  EXPECT_EQ(RawQuery("SELECT repositories || ' ' || numpulls || ' ' || numpushs || ' ' || "
                     "numattachmentpulls FROM repository_totals"),
            "3 13 1 2");
  testing::ExpectTotalsOfTheSeededRepositoriesKeptUp(**store);
}

// A database as the release before observedsince wrote it (schema version 4): the upgrade starts
// each repository's observation at the earliest time known of it, and leaves it unset when none is.
TEST_F(SqliteStoreTest, UpgradingFromTheReleaseBeforeObservedSinceStartsAtTheEarliestKnownTime) {
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path());
  {
    auto db = sqlite::Connection::Open(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(db.ok()) << db.status().message();
    ASSERT_TRUE(sqlite::Migrate(**db, 4).ok());
  }
  RawQuery(
      "INSERT INTO repositories (repositoryname, numpulls, numpushs, firstpushed, lastpushed, "
      "firstpulled, lastpulled, actors) VALUES "
      "('pushed-first', 1, 1, 5000, 5000, 7000, 7000, '[\"amy\"]'), "
      "('pulled-first', 1, 1, 9000, 9000, 3000, 3000, '[]'), "
      "('actor-first', 0, 1, 8000, 8000, NULL, NULL, '[\"bob\"]'), "
      "('unknown', 0, 0, NULL, NULL, NULL, NULL, '[]')");
  RawQuery(
      "INSERT INTO actors (repository, actor, numpushs, firstseen, lastseen) VALUES "
      "('pushed-first', 'amy', 1, 6000, 6000), ('actor-first', 'bob', 1, 2000, 8000), "
      "('actor-first', 'eve', 0, 4000, 4000)");
  RawQuery("UPDATE repositories SET numdeletes = 2 WHERE repositoryname = 'unknown'");

  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(RawQuery("PRAGMA user_version"), std::to_string(sqlite::SchemaVersion()));
  const auto observed = [&](const std::string& name) -> std::optional<UnixMillis> {
    auto repository = store->GetRepository(name);
    EXPECT_TRUE(repository.ok() && repository->has_value()) << name;
    if (!repository.ok() || !repository->has_value()) return std::nullopt;
    return (*repository)->observedsince;
  };
  EXPECT_EQ(observed("pushed-first"), 5000);
  EXPECT_EQ(observed("pulled-first"), 3000);
  EXPECT_EQ(observed("actor-first"), 2000);
  EXPECT_EQ(observed("unknown"), std::nullopt);
  auto unknown = store->GetRepository("unknown");
  ASSERT_TRUE(unknown.ok() && unknown->has_value());
  EXPECT_EQ((*unknown)->counters.counts[Counter::kDeletes], 2);
  // The new column folds like the others from then on.
  Delta pull;
  pull.counts[Counter::kPulls] = 1;
  pull.Pulled(1000);
  ASSERT_TRUE(store
                  ->Apply(Batch{{EventEffect{"id-1",
                                             1000,
                                             {RepositoryUpdate{"unknown", pull, "", 1000},
                                              RepositoryUpdate{"pushed-first", pull, "", 1000}},
                                             std::nullopt}}},
                          nullptr)
                  .ok());
  EXPECT_EQ(observed("unknown"), 1000);
  EXPECT_EQ(observed("pushed-first"), 1000);
  EXPECT_EQ(observed("pulled-first"), 3000);
}

TEST_F(SqliteStoreTest, RefusesADatabaseFromANewerDrec) {
  ASSERT_NE(OpenStore(), nullptr);
  RawQuery("PRAGMA user_version = 99");
  auto store = SqliteStore::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Status::Code::kInternal);
  EXPECT_NE(store.status().message().find("99"), std::string::npos) << store.status().message();
}

TEST_F(SqliteStoreTest, FailsWhenTheDirectoryCannotBeCreated) {
  const std::string blocker = (dir_ / "file").string();
  std::ofstream(blocker) << "not a directory";
  auto store = SqliteStore::Open(blocker + "/sub/drec.db");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Status::Code::kUnavailable);
}

// Apply makes a batch durable; folding it into the records (Settle) is what can fail then. A
// failed fold leaves no trace of its batch, keeps it claimed, and is retried until it succeeds:
// every event counts exactly once, and no query answers without it.
TEST_F(SqliteStoreTest, AFailingFoldLeavesNoTraceAndIsRetried) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  RawQuery(
      "CREATE TRIGGER fail BEFORE INSERT ON repositories WHEN NEW.repositoryname = 'poison' "
      "BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
  Batch batch = PullBatch("id-1", "app");
  batch.effects.push_back(PullBatch("id-2", "poison").effects[0]);
  ApplyOutcome outcome;
  ASSERT_TRUE(store->Apply(batch, &outcome).ok());
  EXPECT_EQ(outcome.applied, 2);
  const Status failed = store->Settle();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.code(), Status::Code::kInternal);
  EXPECT_NE(failed.message().find("injected failure"), std::string::npos) << failed.message();
  EXPECT_EQ(RawQuery("SELECT count(*) FROM repositories"), "0");
  EXPECT_EQ(RawQuery("SELECT count(*) FROM pending"), "1");
  EXPECT_FALSE(store->GetRepository("app").ok());

  RawQuery("DROP TRIGGER fail");
  auto app = store->GetRepository("app");
  ASSERT_TRUE(app.ok()) << app.status().message();
  ASSERT_TRUE(app->has_value());
  EXPECT_EQ((*app)->counters.counts[Counter::kPulls], 1);
  EXPECT_EQ(RawQuery("SELECT count(*) FROM pending"), "0");
  ASSERT_TRUE(store->Apply(batch, &outcome).ok());
  EXPECT_EQ(outcome.applied, 0);
  EXPECT_EQ(outcome.duplicates, 2);
}

// A crash between the acknowledgement and the fold loses nothing: the next Open folds what was
// claimed, once.
TEST_F(SqliteStoreTest, ClaimedBatchesAreFoldedAfterACrash) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Apply(PullBatch("id-1", "app"), nullptr).ok());
  // What the file holds at this moment is what a kill -9 leaves: the claim, not the fold.
  const std::filesystem::path copy = dir_ / "crashed.db";
  ASSERT_EQ(RawQuery("VACUUM INTO '" + copy.string() + "'"), "");
  EXPECT_EQ(RawQuery("SELECT count(*) FROM pending"), "1");
  store.reset();
  path_ = copy.string();
  EXPECT_EQ(RawQuery("SELECT count(*) FROM repositories"), "0");
  store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(RawQuery("SELECT count(*) FROM pending"), "0");
  EXPECT_EQ(RawQuery("SELECT numpulls FROM repositories WHERE repositoryname = 'app'"), "1");
  ApplyOutcome outcome;
  ASSERT_TRUE(store->Apply(PullBatch("id-1", "app"), &outcome).ok());
  EXPECT_EQ(outcome.duplicates, 1);
}

// The fold coalesces every claimed effect (semantics/coalesce.h): one fold of many effects must
// leave the same records as folding each effect on its own, whatever mix of operations meets.
TEST_F(SqliteStoreTest, FoldingManyEffectsAtOnceLeavesTheRecordsOfFoldingThemOneByOne) {
  const UnixMillis now = 1'764'210'266'171;
  const StoreClock clock = [&] { return now; };
  for (unsigned seed = 1; seed <= 3; ++seed) {
    const std::vector<EventEffect> effects = testing::RandomEffects(seed, 250, now);
    std::size_t operations = 0;
    for (const EventEffect& effect : effects) operations += effect.operations.size();
    ASSERT_LT(CoalesceEffects(effects).size(), operations * 3 / 4) << "seed " << seed;

    const std::string one_by_one = (dir_ / ("one-" + std::to_string(seed) + ".db")).string();
    const std::string all_at_once = (dir_ / ("all-" + std::to_string(seed) + ".db")).string();
    for (const std::string& path : {one_by_one, all_at_once}) {
      auto store = SqliteStore::Open(path, clock);
      ASSERT_TRUE(store.ok()) << store.status().message();
      // A trending query rolls the window, so that the days' counts enter it as they come.
      RepositoryQuery trending;
      trending.window_from_day = RollingWindowFrom(now);
      ASSERT_TRUE((*store)->ListRepositories(trending).ok());
      if (path == all_at_once) {
        for (const EventEffect& effect : effects) {
          ASSERT_TRUE((*store)->Apply(Batch{{effect}}, nullptr).ok());
        }
        ASSERT_TRUE((*store)->Settle().ok());
        continue;
      }
      // The reference: each operation folded on its own, in order.
      for (const EventEffect& alone : testing::OneOperationEach(effects)) {
        ASSERT_TRUE((*store)->Apply(Batch{{alone}}, nullptr).ok());
        ASSERT_TRUE((*store)->Settle().ok());
      }
    }
    const std::vector<std::string> expected = Records(one_by_one);
    ASSERT_GT(expected.size(), 20U);
    EXPECT_EQ(Records(all_at_once), expected) << "seed " << seed;
  }
}

}  // namespace
}  // namespace drec
