// What only the PostgreSQL store promises beyond the store contract: several replicas on one
// schema applying each event exactly once without deadlocks, migrations applied once when they
// start together, reconnection after a lost connection, all-or-nothing batches of any size, and
// names PostgreSQL cannot hold answered as unknown rather than as errors.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "deltas.h"
#include "postgres_test_server.h"
#include "random_effects.h"
#include "semantics/coalesce.h"
#include "store/postgresql/pg_schema.h"
#include "store/postgresql/pg_store.h"
#include "upgrade_checks.h"

namespace drec {
namespace {

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    uri_ = testing::PostgresTestUri(&why);
    if (uri_.empty()) GTEST_SKIP() << why;
    schema_ = testing::FreshPostgresSchema();
  }

  void TearDown() override {
    if (!schema_.empty()) testing::DropPostgresSchema(schema_);
  }

  // The store's connections carry the schema's name, so a test can end exactly its own.
  std::string TaggedUri() const {
    return fmt::format("{}{}application_name={}", uri_,
                       uri_.find('?') == std::string::npos ? "?" : "&", schema_);
  }

  std::unique_ptr<PostgresStore> Open() {
    auto store = PostgresStore::Open(TaggedUri(), schema_);
    EXPECT_TRUE(store.ok()) << store.status().message();
    return store.ok() ? std::move(*store) : nullptr;
  }

  std::string Value(const std::string& sql) {
    std::string value;
    const std::string error = testing::ExecOnPostgres(sql, &value);
    EXPECT_EQ(error, "") << sql;
    return value;
  }

  std::string Table(std::string_view table) const {
    return fmt::format("\"{}\".{}", schema_, table);
  }

  // Takes a current schema back to version 2: without the rolling window of version 3.
  // Takes the schema back to version 3, before the repository totals.
  void DropRepositoryTotals() {
    Value("DROP TABLE " + Table("repository_totals"));
    Value("UPDATE " + Table("drec_schema") + " SET version = 3");
  }

  void DropRollingWindow() {
    DropRepositoryTotals();
    std::string columns;
    for (const auto& field : kCounterFields) {
      columns += fmt::format("{}DROP COLUMN window_{}", columns.empty() ? "" : ", ", field.name);
    }
    Value("ALTER TABLE " + Table("repositories") + " " + columns);
    Value("DROP TABLE " + Table("rolling_window"));
    Value("UPDATE " + Table("drec_schema") + " SET version = 2");
  }

  std::string uri_, schema_;
};

// One pull of `repository` on `day`, with everything a real pull touches that rows of several
// repositories share: the per-day totals.
EventEffect PullEffect(const std::string& id, const std::string& repository, const std::string& day,
                       UnixMillis at) {
  const Delta pull = testing::Pull(at);
  return EventEffect{
      id,
      at,
      {RepositoryUpdate{repository, pull, "alice", std::nullopt}, TagUpdate{repository, "v1", pull},
       ActorUpdate{repository, "alice", pull, at, at}, DayUpdate{repository, day, pull}},
      std::nullopt};
}

TEST_F(PostgresStoreTest, ReplicasSendingTheSameEventsAtOnceApplyEachExactlyOnce) {
  // Every event reaches all three replicas (a registry's retries landing on another replica),
  // each in its own order and batches, so replicas contend for the same ids and rows.
  constexpr int kEvents = 600;
  constexpr int kReplicas = 3;
  constexpr std::size_t kBatchEvents = 25;
  const std::vector<std::string> repositories = {"a", "b", "c", "d", "e", "f"};
  const std::vector<std::string> days = {"2026-11-29", "2026-11-30", "2026-12-01"};
  std::vector<EventEffect> events;
  std::map<std::string, std::int64_t> expected_pulls;
  for (int i = 0; i < kEvents; ++i) {
    const std::string& repository = repositories[static_cast<std::size_t>(i * 7 % 6)];
    events.push_back(PullEffect(fmt::format("event-{}", i), repository,
                                days[static_cast<std::size_t>(i % 3)], testing::kT + i));
    ++expected_pulls[repository];
  }
  std::vector<std::unique_ptr<PostgresStore>> replicas;
  for (int r = 0; r < kReplicas; ++r) replicas.push_back(Open());
  ASSERT_TRUE(std::all_of(replicas.begin(), replicas.end(), [](auto& s) { return s != nullptr; }));

  std::atomic<std::int64_t> applied{0}, duplicates{0}, failures{0};
  std::vector<std::thread> threads;
  for (int r = 0; r < kReplicas; ++r) {
    threads.emplace_back([&, r] {
      std::vector<EventEffect> order = events;
      std::shuffle(order.begin(), order.end(), std::mt19937(static_cast<unsigned>(r)));
      for (std::size_t begin = 0; begin < order.size(); begin += kBatchEvents) {
        Batch batch;
        const std::size_t end = std::min(order.size(), begin + kBatchEvents);
        batch.effects.assign(order.begin() + static_cast<std::ptrdiff_t>(begin),
                             order.begin() + static_cast<std::ptrdiff_t>(end));
        ApplyOutcome outcome;
        if (Status status = replicas[static_cast<std::size_t>(r)]->Apply(batch, &outcome);
            !status.ok()) {
          ++failures;
          ADD_FAILURE() << status.message();
          continue;
        }
        applied += outcome.applied;
        duplicates += outcome.duplicates;
      }
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_EQ(failures, 0);
  EXPECT_EQ(applied, kEvents);
  EXPECT_EQ(duplicates, kEvents * (kReplicas - 1));
  for (const auto& [repository, pulls] : expected_pulls) {
    auto record = replicas[0]->GetRepository(repository);
    ASSERT_TRUE(record.ok() && record->has_value()) << repository;
    EXPECT_EQ((*record)->counters.counts[Counter::kPulls], pulls) << repository;
    auto tags = replicas[0]->ListTags(repository);
    ASSERT_TRUE(tags.ok());
    ASSERT_EQ(tags->size(), 1u);
    EXPECT_EQ(tags->front().counters.counts[Counter::kPulls], pulls) << repository;
    auto actors = replicas[0]->ListActors(repository);
    ASSERT_TRUE(actors.ok());
    ASSERT_EQ(actors->size(), 1u);
    EXPECT_EQ(actors->front().counters.counts[Counter::kPulls], pulls) << repository;
  }
  auto summary = replicas[0]->Summarize(days.front(), days.back());
  ASSERT_TRUE(summary.ok());
  std::int64_t daily = 0;
  for (const DayRecord& day : summary->days) daily += day.counters.counts[Counter::kPulls];
  EXPECT_EQ(daily, kEvents);
  EXPECT_EQ(summary->totals.counts[Counter::kPulls], kEvents);
  EXPECT_EQ(Value("SELECT count(*) FROM " + Table("event_ids")), std::to_string(kEvents));
}

TEST_F(PostgresStoreTest, ReplicasStartingTogetherMigrateOnce) {
  constexpr int kReplicas = 4;
  std::vector<Result<std::unique_ptr<PostgresStore>>> opened;
  opened.reserve(kReplicas);
  for (int r = 0; r < kReplicas; ++r) opened.emplace_back(Status::Internal("not opened"));
  std::vector<std::thread> threads;
  for (int r = 0; r < kReplicas; ++r) {
    threads.emplace_back([&, r] {
      opened[static_cast<std::size_t>(r)] = PostgresStore::Open(TaggedUri(), schema_);
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& store : opened) EXPECT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ(Value("SELECT count(*) FROM " + Table("drec_schema")), "1");
  EXPECT_EQ(Value("SELECT version FROM " + Table("drec_schema")),
            std::to_string(pg::SchemaVersion()));
}

TEST_F(PostgresStoreTest, RefusesASchemaFromANewerDrec) {
  ASSERT_NE(Open(), nullptr);
  Value("UPDATE " + Table("drec_schema") + " SET version = 999 RETURNING version");
  auto store = PostgresStore::Open(TaggedUri(), schema_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Status::Code::kInternal);
  EXPECT_NE(store.status().message().find("newer than this drec"), std::string::npos)
      << store.status().message();
}

// A schema as the release before observedsince left it (version 1: version 2's column dropped):
// the upgrade starts each repository's observation at the earliest time known of it, and leaves
// it unset when none is.
TEST_F(PostgresStoreTest, UpgradingFromTheReleaseBeforeObservedSinceStartsAtTheEarliestKnownTime) {
  ASSERT_NE(Open(), nullptr);
  DropRollingWindow();
  Value("ALTER TABLE " + Table("repositories") + " DROP COLUMN observedsince");
  Value("UPDATE " + Table("drec_schema") + " SET version = 1");
  Value("INSERT INTO " + Table("repositories") +
        " (repositoryname, numpulls, numpushs, firstpushed, lastpushed, firstpulled, lastpulled, "
        "actors) VALUES ('pushed-first', 1, 1, 5000, 5000, 7000, 7000, '{amy}'), "
        "('pulled-first', 1, 1, 9000, 9000, 3000, 3000, '{}'), "
        "('actor-first', 0, 1, 8000, 8000, NULL, NULL, '{bob}'), "
        "('unknown', 0, 0, NULL, NULL, NULL, NULL, '{}')");
  Value("INSERT INTO " + Table("actors") +
        " (repository, actor, numpushs, firstseen, lastseen) VALUES "
        "('pushed-first', 'amy', 1, 6000, 6000), ('actor-first', 'bob', 1, 2000, 8000), "
        "('actor-first', 'eve', 0, 4000, 4000)");
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Value("SELECT version FROM " + Table("drec_schema")),
            std::to_string(pg::SchemaVersion()));
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
  auto listed = store->ListRepositories({});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->items.size(), 4u);
  EXPECT_EQ(listed->items[0].repositoryname, "actor-first");
  EXPECT_EQ(listed->items[0].observedsince, 2000);
  EXPECT_EQ(listed->items[0].actors, std::vector<std::string>{"bob"});
  // The new column folds like the others from then on.
  const Delta pull = testing::Pull(1000);
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

// A schema as the release before the rolling window wrote it (version 2): its windows are
// computed from the days it holds when first asked for, then kept as events arrive.
TEST_F(PostgresStoreTest, UpgradingFromTheReleaseBeforeTheRollingWindowCountsItsDays) {
  ASSERT_NE(Open(), nullptr);
  DropRollingWindow();
  Value("INSERT INTO " + Table("repositories") +
        " (repositoryname, numpulls) VALUES ('old', 9), ('new', 4), ('none', 0)");
  Value("INSERT INTO " + Table("days") +
        " (repository, day, numpulls) VALUES ('old', '2026-10-01', 2), ('old', '2026-11-20', 7), "
        "('new', '2026-11-30', 4)");
  const UnixMillis today = *ParseDay("2026-12-01") + 3600 * 1000;
  auto store = PostgresStore::Open(TaggedUri(), schema_, [&] { return today; });
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ(Value("SELECT version FROM " + Table("drec_schema")),
            std::to_string(pg::SchemaVersion()));
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
      out.push_back(fmt::format("{} {}", item.repositoryname,
                                item.window ? (*item.window)[Counter::kPulls] : -1));
    }
    return out;
  };
  EXPECT_EQ(trending(), (std::vector<std::string>{"old 7", "new 4", "none 0"}));
  EXPECT_EQ(Value("SELECT from_day FROM " + Table("rolling_window")), "2026-11-02");
  const UnixMillis at = *ParseDay("2026-11-30");
  ASSERT_TRUE(
      (*store)
          ->Apply(Batch{{EventEffect{"id-1",
                                     at,
                                     {RepositoryUpdate{"none", testing::Pull(at, 8), "", at},
                                      DayUpdate{"none", "2026-11-30", testing::Pull(at, 8)}},
                                     std::nullopt}}},
                  nullptr)
          .ok());
  EXPECT_EQ(trending(), (std::vector<std::string>{"none 8", "old 7", "new 4"}));
}

// A schema as the release before the repository totals wrote it (version 3): the upgrade computes
// the count and sums from its repositories, and later writes keep them exact.
TEST_F(PostgresStoreTest, UpgradingFromTheReleaseBeforeRepositoryTotalsCountsItsRepositories) {
  ASSERT_NE(Open(), nullptr);
  DropRepositoryTotals();
  Value("INSERT INTO " + Table("repositories") +
        " (repositoryname, numpulls, numpushs, numattachmentpulls, firstpushed, lastpulled) "
        "VALUES " +
        testing::kSeededRepositories);
  auto store = PostgresStore::Open(TaggedUri(), schema_);
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ(Value("SELECT version FROM " + Table("drec_schema")),
            std::to_string(pg::SchemaVersion()));
  EXPECT_EQ(Value("SELECT concat_ws(' ', repositories, numpulls, numpushs, numattachmentpulls) "
                  "FROM " +
                  Table("repository_totals")),
            "3 13 1 2");
  testing::ExpectTotalsOfTheSeededRepositoriesKeptUp(**store);
}

// Replicas share the rolling window: one rolls it back and forth across the days another is
// writing, and the window stays exactly the sum of the days (the window's advisory lock orders
// each roll against each batch).
TEST_F(PostgresStoreTest, RollingTheWindowWhileAnotherReplicaWritesStaysExact) {
  const UnixMillis day0 = *ParseDay("2026-11-01");
  std::atomic<UnixMillis> now = day0 + 29 * kDayMillis;
  auto writer = Open();
  auto roller = PostgresStore::Open(TaggedUri(), schema_, [&] { return now.load(); });
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(roller.ok()) << roller.status().message();
  const auto window = [&](int first) {
    RepositoryQuery query;
    query.sort.kind = SortKey::Kind::kWindowCounter;
    query.descending = true;
    query.window_from_day = UtcDay(day0 + first * kDayMillis);
    auto page = (*roller)->ListRepositories(query);
    EXPECT_TRUE(page.ok()) << page.status().message();
    std::map<std::string, std::int64_t> pulls;
    if (page.ok()) {
      for (const auto& item : page->items)
        pulls[item.repositoryname] = (*item.window)[Counter::kPulls];
    }
    return pulls;
  };
  std::atomic<bool> done = false;
  std::thread writes([&] {
    for (int i = 0; i < 300; ++i) {
      const UnixMillis at = day0 + (i % 5) * kDayMillis + i;
      const std::string repository = fmt::format("app-{}", i % 7);
      const Delta pull = testing::Pull(at);
      EXPECT_TRUE(writer
                      ->Apply(Batch{{EventEffect{fmt::format("id-{}", i),
                                                 at,
                                                 {RepositoryUpdate{repository, pull, "", at},
                                                  DayUpdate{repository, UtcDay(at), pull}},
                                                 std::nullopt}}},
                              nullptr)
                      .ok());
    }
    done = true;
  });
  int rolls = 0;
  for (; !done && rolls < 2000; ++rolls) {
    const int first = rolls % 4;
    now = day0 + (first + 29) * kDayMillis;
    window(first);
  }
  writes.join();
  EXPECT_GT(rolls, 1);
  for (int first = 0; first < 4; ++first) {
    now = day0 + (first + 29) * kDayMillis;
    const auto rolled = window(first);
    now = day0 + 400 * kDayMillis;  // the same window is then summed from the days
    EXPECT_EQ(rolled, window(first)) << "window from day " << first;
    std::int64_t total = 0;
    for (const auto& [name, n] : rolled) total += n;
    EXPECT_EQ(total, 300 - 60 * first) << "window from day " << first;
  }
}

TEST_F(PostgresStoreTest, OpeningWithoutAServerFailsFastAsUnavailable) {
  auto store = PostgresStore::Open("postgresql://127.0.0.1:1/drec?connect_timeout=2", schema_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Status::Code::kUnavailable) << store.status().message();
}

TEST_F(PostgresStoreTest, ALostConnectionIsReplacedAndRetriesCountOnce) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Batch first{{PullEffect("first", "app", "2026-12-01", testing::kT)}};
  ASSERT_TRUE(store->Apply(first, nullptr).ok());
  ASSERT_TRUE(store->Ping().ok());
  // As a server restart or a failover does to every connection.
  EXPECT_EQ(Value(fmt::format("SELECT count(pg_terminate_backend(pid)) > 0 FROM "
                              "pg_stat_activity WHERE application_name = '{}'",
                              schema_)),
            "t");
  // Both the write connection and the pooled query connection broke while idle: each is
  // replaced at once, without an error for the caller.
  Batch second{{PullEffect("second", "app", "2026-12-01", testing::kT + 1)}};
  Status applied = store->Apply(second, nullptr);
  ASSERT_TRUE(applied.ok()) << applied.message();
  Status ping = store->Ping();
  EXPECT_TRUE(ping.ok()) << ping.message();
  ApplyOutcome retried;
  ASSERT_TRUE(store->Apply(first, &retried).ok());
  EXPECT_EQ(retried.duplicates, 1);
  auto record = store->GetRepository("app");
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ((*record)->counters.counts[Counter::kPulls], 2);
}

TEST_F(PostgresStoreTest, ABatchOfManyRoundTripsIsAllOrNothing) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  // A constraint only the last effect breaks, far beyond the first round trip of statements.
  ASSERT_EQ(testing::ExecOnPostgres("ALTER TABLE " + Table("days") +
                                    " ADD CONSTRAINT test_refuses CHECK (day <> 'refused')"),
            "");
  Batch batch;
  for (int i = 0; i < 400; ++i) {
    batch.effects.push_back(PullEffect(fmt::format("e{}", i), fmt::format("repo{}", i % 10),
                                       "2026-12-01", testing::kT));
  }
  batch.effects.push_back(PullEffect("bad", "repo0", "refused", testing::kT));
  Status status = store->Apply(batch, nullptr);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(Value("SELECT count(*) FROM " + Table("repositories")), "0");
  EXPECT_EQ(Value("SELECT count(*) FROM " + Table("event_ids")), "0");
  EXPECT_EQ(Value("SELECT count(*) FROM " + Table("total_days")), "0");

  batch.effects.pop_back();
  ApplyOutcome outcome;
  ASSERT_TRUE(store->Apply(batch, &outcome).ok());
  EXPECT_EQ(outcome.applied, 400);
  EXPECT_EQ(Value("SELECT sum(numpulls) FROM " + Table("repositories")), "400");
}

TEST_F(PostgresStoreTest, NamesPostgresCannotHoldAreUnknownNotErrors) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(
      store->Apply(Batch{{PullEffect("x", "app", "2026-12-01", testing::kT)}}, nullptr).ok());
  for (const std::string& name :
       {std::string("app\0x", 5), std::string("\xff\xfe"), std::string("app\xc3")}) {
    auto record = store->GetRepository(name);
    ASSERT_TRUE(record.ok()) << record.status().message();
    EXPECT_FALSE(record->has_value());
    auto tags = store->ListTags(name);
    ASSERT_TRUE(tags.ok()) << tags.status().message();
    EXPECT_TRUE(tags->empty());
    RepositoryQuery query;
    query.name_prefix = name;
    auto page = store->ListRepositories(query);
    ASSERT_TRUE(page.ok()) << page.status().message();
    EXPECT_EQ(page->total, 0);
  }
  // A prefix whose successor is not UTF-8 still finds what it prefixes.
  ASSERT_TRUE(store
                  ->Apply(Batch{{PullEffect("y",
                                            "\x7f"
                                            "b",
                                            "2026-12-01", testing::kT)}},
                          nullptr)
                  .ok());
  RepositoryQuery query;
  query.name_prefix = "\x7f";
  auto page = store->ListRepositories(query);
  ASSERT_TRUE(page.ok()) << page.status().message();
  ASSERT_EQ(page->total, 1);
  EXPECT_EQ(page->items.front().repositoryname,
            "\x7f"
            "b");
}

// A batch's effects are coalesced before they are written (semantics/coalesce.h): one batch of
// many events must leave the same records as each operation in a batch of its own.
TEST_F(PostgresStoreTest, ABatchOfManyEffectsLeavesTheRecordsOfOneOperationABatch) {
  const UnixMillis now = testing::kT;
  const StoreClock clock = [&] { return now; };
  const std::vector<EventEffect> effects = testing::RandomEffects(7, 150, now);
  std::size_t operations = 0;
  for (const EventEffect& effect : effects) operations += effect.operations.size();
  ASSERT_LT(CoalesceEffects(effects).size(), operations * 3 / 4);

  const std::string one_by_one = schema_;
  const std::string all_at_once = testing::FreshPostgresSchema();
  for (const std::string& schema : {one_by_one, all_at_once}) {
    auto store = PostgresStore::Open(TaggedUri(), schema, clock);
    ASSERT_TRUE(store.ok()) << store.status().message();
    // A trending query rolls the window, so that the days' counts enter it as they come.
    RepositoryQuery trending;
    trending.window_from_day = RollingWindowFrom(now);
    ASSERT_TRUE((*store)->ListRepositories(trending).ok());
    if (schema == all_at_once) {
      ASSERT_TRUE((*store)->Apply(Batch{effects}, nullptr).ok());
      continue;
    }
    for (const EventEffect& alone : testing::OneOperationEach(effects)) {
      ASSERT_TRUE((*store)->Apply(Batch{{alone}}, nullptr).ok());
    }
  }
  // Every row of every table that holds statistics, as text, sorted.
  const auto records = [&](const std::string& schema) {
    std::string all;
    for (const char* table : {"repositories", "tags", "digests", "digest_parents", "actors", "days",
                              "classes", "total_days", "rolling_window", "repository_totals"}) {
      all += table;
      all += ":\n";
      all +=
          Value(fmt::format("SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') "
                            "FROM \"{}\".{} AS t",
                            schema, table));
      all += "\n";
    }
    return all;
  };
  const std::string expected = records(one_by_one);
  EXPECT_GT(expected.size(), 2000U);
  EXPECT_EQ(records(all_at_once), expected);
  testing::DropPostgresSchema(all_at_once);
}

}  // namespace
}  // namespace drec
