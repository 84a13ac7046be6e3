// The store contract: what every backend must do with the operations of
// semantics/operations.h and the queries of store.h. Parameterised over backends, so a new
// store is checked by adding one StoreBackend and one INSTANTIATE line.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "api/query_params.h"
#include "deltas.h"
#include "mongo_test_server.h"
#include "postgres_test_server.h"
#include "store/mongo/mongo_store.h"
#include "store/postgresql/pg_store.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace drec {

// Readable failure messages for record comparisons.
void PrintTo(const Counters& c, std::ostream* os) {
  const auto time = [](const std::optional<UnixMillis>& t) {
    return t ? std::to_string(*t) : std::string("unset");
  };
  *os << "{pulls " << c.counts[Counter::kPulls] << ", pushs " << c.counts[Counter::kPushes]
      << ", checks " << c.counts[Counter::kChecks] << ", indexpulls "
      << c.counts[Counter::kIndexPulls] << ", deletes " << c.counts[Counter::kDeletes]
      << ", pushed " << time(c.times[TimeField::kFirstPushed]) << ".."
      << time(c.times[TimeField::kLastPushed]) << ", pulled "
      << time(c.times[TimeField::kFirstPulled]) << ".." << time(c.times[TimeField::kLastPulled])
      << "}";
}

namespace {

// How the suite reaches one backend.
struct StoreBackend {
  std::string name;
  // A fresh, empty place for one test's data (a directory, a database name).
  std::function<std::string()> fresh_location;
  // Opens the store at a location; opening the same location again sees the same data. `clock`
  // is the store's "today" for its rolling window, where it keeps one.
  std::function<Result<std::unique_ptr<Store>>(const std::string& location, StoreClock clock)> open;
  // Removes whatever a test left at its location.
  std::function<void(const std::string& location)> drop;
};

void PrintTo(const StoreBackend& backend, std::ostream* os) { *os << backend.name; }

StoreBackend SqliteBackend() {
  return {
      "Sqlite",
      [] {
        std::string dir = (std::filesystem::path(::testing::TempDir()) / "drec-store-XXXXXX");
        if (mkdtemp(dir.data()) == nullptr) return std::string();
        return dir;
      },
      [](const std::string& dir, StoreClock clock) -> Result<std::unique_ptr<Store>> {
        auto store = SqliteStore::Open(dir + "/data/drec.db", std::move(clock));
        if (!store.ok()) return store.status();
        return std::unique_ptr<Store>(std::move(*store));
      },
      [](const std::string& dir) { std::filesystem::remove_all(dir); },
  };
}

// A fresh database on the shared MongoDB test server; the test is skipped when there is none.
StoreBackend MongoBackend() {
  return {
      "Mongo",
      [] {
        std::string why;
        testing::MongoTestServer* server = testing::MongoTestServer::Shared(&why);
        if (server == nullptr) {
          [&] { GTEST_SKIP() << why; }();
          return std::string();
        }
        return server->FreshDatabase();
      },
      [](const std::string& database, StoreClock clock) -> Result<std::unique_ptr<Store>> {
        std::string why;
        auto store = MongoStore::Open(testing::MongoTestServer::Shared(&why)->uri(), database,
                                      "repositories", 0, MongoStore::kDefaultLeaseDuration,
                                      std::move(clock));
        if (!store.ok()) return store.status();
        return std::unique_ptr<Store>(std::move(*store));
      },
      [](const std::string& database) {
        std::string why;
        if (auto* server = testing::MongoTestServer::Shared(&why); server != nullptr) {
          server->DropDatabase(database);
        }
      },
  };
}

// A fresh schema on the shared PostgreSQL test server; the test is skipped when there is none.
StoreBackend PostgresBackend() {
  return {
      "Postgres",
      [] {
        std::string why;
        if (testing::PostgresTestUri(&why).empty()) {
          [&] { GTEST_SKIP() << why; }();
          return std::string();
        }
        return testing::FreshPostgresSchema();
      },
      [](const std::string& schema, StoreClock clock) -> Result<std::unique_ptr<Store>> {
        std::string why;
        auto store = PostgresStore::Open(testing::PostgresTestUri(&why), schema, std::move(clock));
        if (!store.ok()) return store.status();
        return std::unique_ptr<Store>(std::move(*store));
      },
      [](const std::string& schema) { testing::DropPostgresSchema(schema); },
  };
}

using testing::Deleted;
using testing::kT;
using testing::Pull;
using testing::Push;

constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";

EventEffect Effect(std::string id, std::vector<Operation> operations) {
  return EventEffect{std::move(id), kT, std::move(operations), std::nullopt};
}

// Pushes and pulls with their time bounds: the shape most expectations take.
Counters Activity(std::int64_t pushs, std::optional<UnixMillis> first_push,
                  std::optional<UnixMillis> last_push, std::int64_t pulls,
                  std::optional<UnixMillis> first_pull, std::optional<UnixMillis> last_pull) {
  Counters c;
  c.counts[Counter::kPushes] = pushs;
  c.times[TimeField::kFirstPushed] = first_push;
  c.times[TimeField::kLastPushed] = last_push;
  c.counts[Counter::kPulls] = pulls;
  c.times[TimeField::kFirstPulled] = first_pull;
  c.times[TimeField::kLastPulled] = last_pull;
  return c;
}

Counters Pulled(std::int64_t n, UnixMillis first, UnixMillis last) {
  return Activity(0, std::nullopt, std::nullopt, n, first, last);
}

Counters Pushed(std::int64_t n, UnixMillis first, UnixMillis last) {
  return Activity(n, first, last, 0, std::nullopt, std::nullopt);
}

RepositoryQuery Prefixed(std::string prefix) {
  RepositoryQuery query;
  query.name_prefix = std::move(prefix);
  return query;
}

// A query sorted by a field named as in the API's `sort` parameter.
RepositoryQuery Sorted(const std::string& field, bool descending) {
  RepositoryQuery query;
  EXPECT_TRUE(ParseSort(fmt::format("{}{}", descending ? "-" : "", field), &query).ok()) << field;
  return query;
}

RepositoryQuery Paged(RepositoryQuery query, std::int64_t offset, std::int64_t limit) {
  query.offset = offset;
  query.limit = limit;
  return query;
}

class StoreContractTest : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override {
    location_ = GetParam().fresh_location();
    if (IsSkipped()) return;  // the backend has no server here
    ASSERT_FALSE(location_.empty());
    Reopen();
  }

  void TearDown() override {
    store_.reset();
    if (!location_.empty()) GetParam().drop(location_);
  }

  void Reopen() {
    store_.reset();
    auto store = GetParam().open(location_, [this] { return now_.load(); });
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
  }

  ApplyOutcome Apply(std::vector<EventEffect> effects) {
    ApplyOutcome outcome;
    const Status status = store_->Apply(Batch{std::move(effects)}, &outcome);
    EXPECT_TRUE(status.ok()) << status.message();
    return outcome;
  }

  // Applies each operation as an event of its own, all in one batch.
  void ApplyEach(std::vector<Operation> operations) {
    std::vector<EventEffect> effects;
    for (auto& op : operations) {
      effects.push_back(Effect(fmt::format("e{}", next_id_++), {std::move(op)}));
    }
    const ApplyOutcome outcome = Apply(std::move(effects));
    EXPECT_EQ(outcome.applied, static_cast<std::int64_t>(operations.size()));
  }

  RepositoryRecord Repository(const std::string& name) {
    auto repository = store_->GetRepository(name);
    EXPECT_TRUE(repository.ok()) << repository.status().message();
    if (!repository.ok() || !repository->has_value()) {
      ADD_FAILURE() << "no repository " << name;
      return {};
    }
    return **repository;
  }

  std::vector<TagRecord> Tags(const std::string& repository) {
    auto tags = store_->ListTags(repository);
    EXPECT_TRUE(tags.ok()) << tags.status().message();
    return tags.ok() ? *tags : std::vector<TagRecord>();
  }

  TagRecord Tag(const std::string& repository, const std::string& tag) {
    for (const auto& record : Tags(repository)) {
      if (record.tag == tag) return record;
    }
    ADD_FAILURE() << "no tag " << repository << ":" << tag;
    return {};
  }

  std::vector<DigestRecord> Digests(const std::string& repository) {
    auto digests = store_->ListDigests(repository);
    EXPECT_TRUE(digests.ok()) << digests.status().message();
    return digests.ok() ? *digests : std::vector<DigestRecord>();
  }

  RepositoryPage List(RepositoryQuery query) {
    auto page = store_->ListRepositories(query);
    EXPECT_TRUE(page.ok()) << page.status().message();
    return page.ok() ? *page : RepositoryPage();
  }

  static std::vector<std::string> Names(const RepositoryPage& page) {
    std::vector<std::string> names;
    for (const auto& item : page.items) names.push_back(item.repositoryname);
    return names;
  }

  std::string location_;
  std::unique_ptr<Store> store_;
  int next_id_ = 0;
  // The stores' "today" (their rolling window's clock); read from store threads.
  std::atomic<UnixMillis> now_ = NowMillis();
};

TEST_P(StoreContractTest, EmptyStoreAnswersEmpty) {
  EXPECT_TRUE(store_->Ping().ok());
  const RepositoryPage page = List({});
  EXPECT_TRUE(page.items.empty());
  EXPECT_EQ(page.total, 0);
  auto repository = store_->GetRepository("nope");
  ASSERT_TRUE(repository.ok());
  EXPECT_FALSE(repository->has_value());
  EXPECT_TRUE(Tags("nope").empty());
  EXPECT_TRUE(Digests("nope").empty());
  auto actors = store_->ListActors("nope");
  ASSERT_TRUE(actors.ok());
  EXPECT_TRUE(actors->empty());
  auto days = store_->ListDays("nope", "2000-01-01", "2100-01-01");
  ASSERT_TRUE(days.ok());
  EXPECT_TRUE(days->empty());
}

TEST_P(StoreContractTest, RepositoryUpdateFoldsCountersAndTimesInAnyOrder) {
  Delta all;
  all.counts[Counter::kPulls] = 2;
  all.counts[Counter::kPushes] = 3;
  all.counts[Counter::kChecks] = 4;
  all.counts[Counter::kIndexPulls] = 5;
  all.counts[Counter::kDeletes] = 6;
  ApplyEach({
      RepositoryUpdate{"library/app", Pull(kT + 20), "", std::nullopt},
      RepositoryUpdate{"library/app", Push(kT + 5), "", std::nullopt},
      RepositoryUpdate{"library/app", all, "", std::nullopt},
      RepositoryUpdate{"library/app", Pull(kT + 10), "", std::nullopt},
      RepositoryUpdate{"library/app", Push(kT + 1), "", std::nullopt},
      RepositoryUpdate{"library/app", Pull(kT + 30), "", std::nullopt},
  });
  const RepositoryRecord repository = Repository("library/app");
  EXPECT_EQ(repository.repositoryname, "library/app");
  Counters expected = Activity(5, kT + 1, kT + 5, 5, kT + 10, kT + 30);
  expected.counts[Counter::kChecks] = 4;
  expected.counts[Counter::kIndexPulls] = 5;
  expected.counts[Counter::kDeletes] = 6;
  EXPECT_EQ(repository.counters, expected);
  EXPECT_EQ(repository.numstars, 0);
  EXPECT_TRUE(repository.actors.empty());
  EXPECT_TRUE(repository.tags.empty());
}

TEST_P(StoreContractTest, RepositoryActorsAreDistinctInFirstSeenOrderAndAtMost100) {
  std::vector<Operation> updates;
  std::vector<std::string> expected;
  for (int i = 0; i < 105; ++i) {
    const std::string actor = "ci.bot/" + std::to_string(104 - i);
    if (expected.size() < 100) expected.push_back(actor);
    updates.push_back(RepositoryUpdate{"app", Pull(kT), actor, std::nullopt});
    updates.push_back(RepositoryUpdate{"app", Pull(kT), "ci.bot/104", std::nullopt});
    updates.push_back(RepositoryUpdate{"app", Pull(kT), "", std::nullopt});
  }
  ApplyEach(std::move(updates));
  const RepositoryRecord repository = Repository("app");
  EXPECT_EQ(repository.actors, expected);
  EXPECT_EQ(repository.counters.counts[Counter::kPulls], 315);
}

// The retention planner's observation window: the earliest event of the repository, folded with
// min whatever the order of the events, within a batch and across batches.
TEST_P(StoreContractTest, ObservedSinceIsTheEarliestEventWhateverTheArrivalOrder) {
  ApplyEach({
      RepositoryUpdate{"app", Pull(kT + 20), "", kT + 20},
      RepositoryUpdate{"app", Push(kT + 5), "amy", kT + 5},
      RepositoryUpdate{"app", Delta{}, "", kT + 30},
      RepositoryUpdate{"app", Pull(kT + 1), "", std::nullopt},  // leaves it as it is
      RepositoryUpdate{"app", Deleted(), "", kT + 9},
      RepositoryUpdate{"unobserved", Pull(kT), "", std::nullopt},
  });
  EXPECT_EQ(Repository("app").observedsince, kT + 5);
  Counters counted = Activity(1, kT + 5, kT + 5, 2, kT + 1, kT + 20);
  counted.counts[Counter::kDeletes] = 1;
  EXPECT_EQ(Repository("app").counters, counted);
  EXPECT_EQ(Repository("unobserved").observedsince, std::nullopt);
  // Later batches: a later event leaves it, an earlier one moves it back.
  Apply({Effect("later", {RepositoryUpdate{"app", Pull(kT + 40), "", kT + 40}})});
  EXPECT_EQ(Repository("app").observedsince, kT + 5);
  Apply({Effect("earlier", {RepositoryUpdate{"app", Pull(kT + 2), "", kT + 2}})});
  EXPECT_EQ(Repository("app").observedsince, kT + 2);
  Apply({Effect("first", {RepositoryUpdate{"unobserved", Pull(kT + 3), "", kT + 3}})});
  EXPECT_EQ(Repository("unobserved").observedsince, kT + 3);
  // The list carries it too, and it survives a reopen.
  Reopen();
  const RepositoryPage page = List({});
  ASSERT_EQ(Names(page), (std::vector<std::string>{"app", "unobserved"}));
  EXPECT_EQ(page.items[0].observedsince, kT + 2);
  EXPECT_EQ(page.items[1].observedsince, kT + 3);
}

// What `drec backfill` emits: a RepositoryUpdate with only observed_since, from the first line
// of a registry log. It creates the repository when missing, counts nothing, and only ever moves
// the observation start back.
TEST_P(StoreContractTest, AnObservationStartAloneCreatesTheRepositoryAndOnlyMovesItBack) {
  ApplyEach({RepositoryUpdate{"logs/app", Delta{}, "", kT + 100}});
  RepositoryRecord created = Repository("logs/app");
  EXPECT_EQ(created.observedsince, kT + 100);
  EXPECT_EQ(created.counters, Counters{});
  EXPECT_TRUE(created.actors.empty());
  EXPECT_EQ(created.numstars, 0);
  EXPECT_EQ(List({}).total, 1);
  ApplyEach({RepositoryUpdate{"logs/app", Delta{}, "", kT + 200}});
  EXPECT_EQ(Repository("logs/app").observedsince, kT + 100);
  ApplyEach({RepositoryUpdate{"logs/app", Delta{}, "", kT + 50}});
  EXPECT_EQ(Repository("logs/app").observedsince, kT + 50);

  // An observed repository keeps its numbers and actors; only the start moves back.
  ApplyEach({RepositoryUpdate{"app", Push(kT + 10), "amy", kT + 10}});
  ApplyEach({RepositoryUpdate{"app", Delta{}, "", kT - 86'400'000}});
  const RepositoryRecord app = Repository("app");
  EXPECT_EQ(app.observedsince, kT - 86'400'000);
  EXPECT_EQ(app.counters, Pushed(1, kT + 10, kT + 10));
  EXPECT_EQ(app.actors, std::vector<std::string>{"amy"});
  ApplyEach({RepositoryUpdate{"app", Delta{}, "", kT + 1000}});
  EXPECT_EQ(Repository("app").observedsince, kT - 86'400'000);
}

TEST_P(StoreContractTest, TagUpdatesAreListedSortedByTag) {
  ApplyEach({
      TagUpdate{"app", "v2", Push(kT + 2)},
      TagUpdate{"app", "latest", Pull(kT + 9)},
      TagUpdate{"app", "v2", Pull(kT + 7)},
      TagUpdate{"app", "v2", Pull(kT + 3)},
      TagUpdate{"other", "v1", Push(kT)},
  });
  const auto tags = Tags("app");
  ASSERT_EQ(tags.size(), 2u);
  EXPECT_EQ(tags[0].tag, "latest");
  EXPECT_EQ(tags[0].digest, "");
  EXPECT_FALSE(tags[0].deleted);
  EXPECT_EQ(tags[0].counters, Pulled(1, kT + 9, kT + 9));
  EXPECT_EQ(tags[1].tag, "v2");
  EXPECT_EQ(tags[1].counters, Activity(1, kT + 2, kT + 2, 2, kT + 3, kT + 7));
}

TEST_P(StoreContractTest, TagPointsAtTheNewestDigestWhateverTheArrivalOrder) {
  ApplyEach({
      TagPointsAt{"app", "latest", "sha256:b", kT + 20},
      TagPointsAt{"app", "latest", "sha256:a", kT + 10},
  });
  EXPECT_EQ(Tag("app", "latest").digest, "sha256:b");
  ApplyEach({TagPointsAt{"app", "latest", "sha256:c", kT + 20}});
  EXPECT_EQ(Tag("app", "latest").digest, "sha256:c");
  ApplyEach({
      TagPointsAt{"app", "latest", "sha256:d", kT + 30},
      TagPointsAt{"app", "latest", "sha256:e", kT + 25},
  });
  EXPECT_EQ(Tag("app", "latest").digest, "sha256:d");
  ApplyEach({RepositoryUpdate{"app", Push(kT + 20), "", std::nullopt}});
  EXPECT_EQ(Repository("app").tags, std::vector<std::string>{"latest"});
}

TEST_P(StoreContractTest, DeletedTagLeavesLiveListAndOnlyANewerPushBringsItBack) {
  ApplyEach({
      RepositoryUpdate{"app", Push(kT + 10), "", std::nullopt},
      TagPointsAt{"app", "v1", "sha256:a", kT + 10},
      TagPointsAt{"app", "v2", "sha256:a", kT + 10},
      TagDeleted{"app", "v1", kT + 20},
  });
  EXPECT_TRUE(Tag("app", "v1").deleted);
  EXPECT_EQ(Repository("app").tags, std::vector<std::string>{"v2"});

  ApplyEach({TagPointsAt{"app", "v1", "sha256:a", kT + 15}});
  EXPECT_TRUE(Tag("app", "v1").deleted);
  EXPECT_EQ(Tag("app", "v1").digest, "sha256:a");

  ApplyEach({TagPointsAt{"app", "v1", "sha256:b", kT + 30}});
  EXPECT_FALSE(Tag("app", "v1").deleted);
  EXPECT_EQ(Tag("app", "v1").digest, "sha256:b");
  EXPECT_EQ(Repository("app").tags, (std::vector<std::string>{"v1", "v2"}));
}

TEST_P(StoreContractTest, AttachmentTagsAreListedMarkedButStayOutOfTheImageTagList) {
  const std::string signature = "sha256-" + std::string(64, 'a') + ".sig";
  ApplyEach({
      RepositoryUpdate{"app", Push(kT), "", std::nullopt},
      TagPointsAt{"app", "latest", "sha256:a", kT},
      TagPointsAt{"app", signature, "sha256:s", kT, true},
  });
  EXPECT_EQ(Repository("app").tags, std::vector<std::string>{"latest"});
  const auto tags = Tags("app");
  ASSERT_EQ(tags.size(), 2u);
  EXPECT_EQ(tags[0].tag, "latest");
  EXPECT_FALSE(tags[0].attachment);
  EXPECT_EQ(tags[1].tag, signature);
  EXPECT_TRUE(tags[1].attachment);
  // A tag record made by a delete first is marked when the attachment's push arrives.
  ApplyEach({TagDeleted{"app", "sha256-" + std::string(64, 'b'), kT},
             TagPointsAt{"app", "sha256-" + std::string(64, 'b'), "sha256:t", kT + 1, true}});
  EXPECT_TRUE(Tags("app").at(2).attachment);
  EXPECT_EQ(Repository("app").tags, std::vector<std::string>{"latest"});
}

TEST_P(StoreContractTest, TagDeleteOlderThanThePointingItRacedWithIsOverruled) {
  ApplyEach({
      RepositoryUpdate{"app", Push(kT), "", std::nullopt},
      TagPointsAt{"app", "v1", "sha256:a", kT + 20},
      TagDeleted{"app", "v1", kT + 10},
      TagDeleted{"app", "never-pushed", kT + 10},
  });
  EXPECT_FALSE(Tag("app", "v1").deleted);
  EXPECT_TRUE(Tag("app", "never-pushed").deleted);
  EXPECT_EQ(Tag("app", "never-pushed").digest, "");
  EXPECT_EQ(Repository("app").tags, std::vector<std::string>{"v1"});
  // The delete at +10 is remembered: a pointing older than it cannot revive the tag.
  ApplyEach({TagPointsAt{"app", "never-pushed", "sha256:a", kT + 5}});
  EXPECT_TRUE(Tag("app", "never-pushed").deleted);
}

TEST_P(StoreContractTest, DigestUpdateKeepsKnownMediaTypeAndSize) {
  constexpr char kManifest[] = "application/vnd.oci.image.manifest.v1+json";
  ApplyEach({
      DigestUpdate{"app", "sha256:a", "", 0, Pull(kT + 5)},
      DigestUpdate{"app", "sha256:a", kManifest, 1234, Push(kT)},
      DigestUpdate{"app", "sha256:a", "", 0, Pull(kT + 9)},
      DigestUpdate{"app", "sha256:0", "", 0, Pull(kT)},
  });
  const auto digests = Digests("app");
  ASSERT_EQ(digests.size(), 2u);
  EXPECT_EQ(digests[0].digest, "sha256:0");
  EXPECT_EQ(digests[0].media_type, "");
  EXPECT_EQ(digests[0].size, 0);
  EXPECT_EQ(digests[1].digest, "sha256:a");
  EXPECT_EQ(digests[1].media_type, kManifest);
  EXPECT_EQ(digests[1].size, 1234);
  EXPECT_FALSE(digests[1].deleted);
  EXPECT_EQ(digests[1].counters, Activity(1, kT, kT, 2, kT + 5, kT + 9));

  // What is known is set: the latest known value wins.
  constexpr char kDockerManifest[] = "application/vnd.docker.distribution.manifest.v2+json";
  ApplyEach({DigestUpdate{"app", "sha256:a", kDockerManifest, 99, Delta{}}});
  EXPECT_EQ(Digests("app")[1].media_type, kDockerManifest);
  EXPECT_EQ(Digests("app")[1].size, 99);
}

TEST_P(StoreContractTest, DeletedDigestTakesItsTagsOutOfTheLiveList) {
  ApplyEach({
      RepositoryUpdate{"app", Push(kT), "", std::nullopt},
      DigestUpdate{"app", "sha256:a", "", 10, Push(kT)},
      TagPointsAt{"app", "latest", "sha256:a", kT + 10},
      TagPointsAt{"app", "v1", "sha256:a", kT + 10},
      TagPointsAt{"app", "v2", "sha256:b", kT + 10},
      TagPointsAt{"app", "v3", "sha256:a", kT + 30},
      TagPointsAt{"other", "v1", "sha256:a", kT + 10},
      DigestDeleted{"app", "sha256:a", kT + 20},
      DigestDeleted{"app", "sha256:unknown", kT + 20},
  });
  EXPECT_EQ(Repository("app").tags, (std::vector<std::string>{"v2", "v3"}));
  EXPECT_TRUE(Tag("app", "latest").deleted);
  EXPECT_TRUE(Tag("app", "v1").deleted);
  EXPECT_FALSE(Tag("other", "v1").deleted);
  const auto digests = Digests("app");
  ASSERT_EQ(digests.size(), 2u);
  EXPECT_EQ(digests[0].digest, "sha256:a");
  EXPECT_TRUE(digests[0].deleted);
  EXPECT_EQ(digests[0].size, 10);
  EXPECT_EQ(digests[0].counters, Pushed(1, kT, kT));
  EXPECT_EQ(digests[1].digest, "sha256:unknown");
  EXPECT_TRUE(digests[1].deleted);
  // A push newer than the delete makes the tag live again.
  ApplyEach({TagPointsAt{"app", "latest", "sha256:a", kT + 40}});
  EXPECT_EQ(Repository("app").tags, (std::vector<std::string>{"latest", "v2", "v3"}));
}

TEST_P(StoreContractTest, AnEffectRequiringAManifestCountsOnlyWhenTheManifestIsKnown) {
  Delta deleted;
  deleted.counts[Counter::kDeletes] = 1;
  const auto delete_of = [&](std::string id, const std::string& digest) {
    EventEffect effect = Effect(std::move(id), {RepositoryUpdate{"app", deleted, "", std::nullopt},
                                                DigestDeleted{"app", digest, kT + 20}});
    effect.requires_manifest = KnownManifest{"app", digest};
    return effect;
  };
  ApplyOutcome outcome;
  ASSERT_TRUE(
      store_
          ->Apply(
              Batch{{Effect("push", {RepositoryUpdate{"app", Push(kT), "", std::nullopt},
                                     DigestUpdate{"app", "sha256:m", kOciManifest, 10, Push(kT)},
                                     DigestDeleted{"app", "sha256:u", kT}}),
                     // Known earlier in the same batch: counts.
                     delete_of("manifest", "sha256:m"),
                     // A blob, or a manifest drec never saw: recorded, not counted.
                     delete_of("blob", "sha256:b"),
                     // Known only from a delete: still not a manifest.
                     delete_of("unknown", "sha256:u")}},
              &outcome)
          .ok());
  EXPECT_EQ(outcome.applied, 2);
  EXPECT_EQ(outcome.unknown_manifests, 2);
  EXPECT_EQ(Repository("app").counters.counts[Counter::kDeletes], 1);
  const auto digests = Digests("app");
  ASSERT_EQ(digests.size(), 2u);
  EXPECT_EQ(digests[0].digest, "sha256:m");
  EXPECT_TRUE(digests[0].deleted);
  EXPECT_EQ(digests[1].counters.counts[Counter::kDeletes], 0);
  // In a later batch the stored manifest counts; the blob's retry is a duplicate.
  ASSERT_TRUE(
      store_
          ->Apply(Batch{{delete_of("again", "sha256:m"), delete_of("blob", "sha256:b")}}, &outcome)
          .ok());
  EXPECT_EQ(outcome.applied, 1);
  EXPECT_EQ(outcome.duplicates, 1);
  EXPECT_EQ(outcome.unknown_manifests, 0);
  EXPECT_EQ(Repository("app").counters.counts[Counter::kDeletes], 2);
}

TEST_P(StoreContractTest, APushNewerThanItsDeleteBringsTheDigestBackInEitherOrder) {
  ApplyEach({
      DigestUpdate{"app", "sha256:a", "", 10, Push(kT)},
      DigestDeleted{"app", "sha256:a", kT + 10},
      DigestUpdate{"app", "sha256:a", "", 10, Push(kT + 20)},
      // The same story arriving out of order: the newer push first.
      DigestUpdate{"app", "sha256:b", "", 10, Push(kT + 20)},
      DigestDeleted{"app", "sha256:b", kT + 10},
      // A delete newer than every push stands.
      DigestUpdate{"app", "sha256:c", "", 10, Push(kT)},
      DigestDeleted{"app", "sha256:c", kT + 10},
  });
  const auto digests = Digests("app");
  ASSERT_EQ(digests.size(), 3u);
  EXPECT_FALSE(digests[0].deleted);
  EXPECT_FALSE(digests[1].deleted);
  EXPECT_TRUE(digests[2].deleted);
}

TEST_P(StoreContractTest, TagsByDigestUpdateReachesLiveTagsDirectlyAndThroughIndexes) {
  ApplyEach({
      TagPointsAt{"app", "latest", "sha256:index", kT},
      TagPointsAt{"app", "amd64", "sha256:child", kT},
      TagPointsAt{"app", "gone", "sha256:child", kT},
      TagDeleted{"app", "gone", kT + 1},
      TagPointsAt{"app", "unrelated", "sha256:x", kT},
      DigestParent{"app", "sha256:child", "sha256:index"},
      DigestParent{"app", "sha256:child", "sha256:index"},
      DigestParent{"app", "sha256:child", "sha256:untagged-index"},
      TagPointsAt{"other", "latest", "sha256:index", kT},
      TagPointsAt{"other", "amd64", "sha256:child", kT},
      DigestParent{"other", "sha256:x", "sha256:index"},
  });
  ApplyEach({TagsByDigestUpdate{"app", "sha256:child", Pull(kT + 5)}});
  EXPECT_EQ(Tag("app", "latest").counters, Pulled(1, kT + 5, kT + 5));
  EXPECT_EQ(Tag("app", "amd64").counters, Pulled(1, kT + 5, kT + 5));
  EXPECT_EQ(Tag("app", "gone").counters, Counters{});
  EXPECT_EQ(Tag("app", "unrelated").counters, Counters{});
  EXPECT_EQ(Tag("other", "latest").counters, Counters{});
  EXPECT_EQ(Tag("other", "amd64").counters, Counters{});

  ApplyEach({
      TagsByDigestUpdate{"app", "sha256:index", Pull(kT + 9)},
      TagsByDigestUpdate{"app", "sha256:nothing", Pull(kT + 9)},
  });
  EXPECT_EQ(Tag("app", "latest").counters, Pulled(2, kT + 5, kT + 9));
  EXPECT_EQ(Tag("app", "amd64").counters, Pulled(1, kT + 5, kT + 5));
  EXPECT_EQ(Tags("app").size(), 4u);
}

// The retention planner keeps a child of a kept index: each digest lists the indexes known to
// list it, sorted, each once, only those of its own repository.
TEST_P(StoreContractTest, ListDigestsReturnsTheIndexesThatListEachDigestSorted) {
  ApplyEach({
      DigestUpdate{"app", "sha256:child", kOciManifest, 100, Push(kT)},
      DigestUpdate{"app", "sha256:index-b", kOciManifest, 200, Push(kT)},
      DigestUpdate{"app", "sha256:index-a", kOciManifest, 300, Push(kT)},
      DigestUpdate{"app", "sha256:lonely", kOciManifest, 400, Push(kT)},
      DigestParent{"app", "sha256:child", "sha256:index-b"},
      DigestParent{"app", "sha256:child", "sha256:index-a"},
      DigestParent{"app", "sha256:child", "sha256:index-a"},
      DigestParent{"app", "sha256:index-a", "sha256:index-b"},
      DigestParent{"app", "sha256:no-record", "sha256:index-a"},
      DigestUpdate{"other", "sha256:child", kOciManifest, 100, Push(kT)},
      DigestParent{"other", "sha256:child", "sha256:other-index"},
  });
  const auto digests = Digests("app");
  ASSERT_EQ(digests.size(), 4u);
  EXPECT_EQ(digests[0].digest, "sha256:child");
  EXPECT_EQ(digests[0].parents, (std::vector<std::string>{"sha256:index-a", "sha256:index-b"}));
  EXPECT_EQ(digests[0].size, 100);
  EXPECT_EQ(digests[1].digest, "sha256:index-a");
  EXPECT_EQ(digests[1].parents, std::vector<std::string>{"sha256:index-b"});
  EXPECT_EQ(digests[2].digest, "sha256:index-b");
  EXPECT_TRUE(digests[2].parents.empty());
  EXPECT_EQ(digests[3].digest, "sha256:lonely");
  EXPECT_TRUE(digests[3].parents.empty());
  const auto other = Digests("other");
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].parents, std::vector<std::string>{"sha256:other-index"});
  // A link written in a later batch joins the others.
  ApplyEach({DigestParent{"app", "sha256:lonely", "sha256:index-a"}});
  EXPECT_EQ(Digests("app").at(3).parents, std::vector<std::string>{"sha256:index-a"});
}

TEST_P(StoreContractTest, ActorRecordsCountAndSpanPushesAndPulls) {
  Delta pulls;
  pulls.counts[Counter::kPulls] = 2;
  pulls.times[TimeField::kFirstPulled] = kT + 10;
  pulls.times[TimeField::kLastPulled] = kT + 20;
  ApplyEach({
      ActorUpdate{"app", "zed", Push(kT + 50), kT + 50, kT + 50},
      ActorUpdate{"app", "zed", pulls, kT + 10, kT + 20},
      ActorUpdate{"app", "zed", Pull(kT + 70), kT + 70, kT + 70},
      ActorUpdate{"app", "amy", Push(kT), kT, kT},
      ActorUpdate{"other", "zed", Push(kT), kT, kT},
      // A delete counts no push or pull, but the actor was seen doing it.
      ActorUpdate{"app", "zed", Deleted(), kT + 90, kT + 90},
  });
  auto actors = store_->ListActors("app");
  ASSERT_TRUE(actors.ok());
  ASSERT_EQ(actors->size(), 2u);
  EXPECT_EQ((*actors)[0].actor, "amy");
  EXPECT_EQ((*actors)[0].counters, Pushed(1, kT, kT));
  EXPECT_EQ((*actors)[0].firstseen, kT);
  EXPECT_EQ((*actors)[0].lastseen, kT);
  EXPECT_EQ((*actors)[1].actor, "zed");
  Counters zed = Activity(1, kT + 50, kT + 50, 3, kT + 10, kT + 70);
  zed.counts[Counter::kDeletes] = 1;
  EXPECT_EQ((*actors)[1].counters, zed);
  EXPECT_EQ((*actors)[1].firstseen, kT + 10);
  EXPECT_EQ((*actors)[1].lastseen, kT + 90);
}

TEST_P(StoreContractTest, DaysAreListedInAnInclusiveRange) {
  ApplyEach({
      DayUpdate{"app", "2026-01-05", Pull(kT)},
      DayUpdate{"app", "2026-01-01", Pull(kT)},
      DayUpdate{"app", "2026-01-02", Pull(kT + 1)},
      DayUpdate{"app", "2026-01-02", Pull(kT)},
      DayUpdate{"app", "2026-01-03", Push(kT)},
      DayUpdate{"app", "2026-01-06", Pull(kT)},
      DayUpdate{"other", "2026-01-04", Pull(kT)},
  });
  auto days = store_->ListDays("app", "2026-01-02", "2026-01-05");
  ASSERT_TRUE(days.ok());
  ASSERT_EQ(days->size(), 3u);
  EXPECT_EQ((*days)[0].day, "2026-01-02");
  EXPECT_EQ((*days)[0].counters, Pulled(2, kT, kT + 1));
  EXPECT_EQ((*days)[1].day, "2026-01-03");
  EXPECT_EQ((*days)[1].counters, Pushed(1, kT, kT));
  EXPECT_EQ((*days)[2].day, "2026-01-05");
}

TEST_P(StoreContractTest, ClassesAreListedAllTimePerTagAndPerDay) {
  ApplyEach({
      ClassUpdate{"app", "production", "", "", Pull(kT)},
      ClassUpdate{"app", "ci", "", "", Push(kT)},
      ClassUpdate{"app", "production", "", "", Pull(kT + 5)},
      ClassUpdate{"app", "production", "v1", "", Pull(kT)},
      ClassUpdate{"app", "ci", "v2", "", Push(kT)},
      ClassUpdate{"app", "production", "", "2026-01-02", Pull(kT)},
      ClassUpdate{"app", "production", "", "2026-01-01", Pull(kT)},
      ClassUpdate{"app", "ci", "", "2026-01-02", Push(kT)},
      ClassUpdate{"app", "ci", "", "2026-01-04", Push(kT)},
      ClassUpdate{"other", "ci", "", "", Pull(kT)},
  });
  auto all = store_->ListClasses("app", {});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, (std::vector<ClassRecord>{{"ci", "", "", Pushed(1, kT, kT)},
                                            {"production", "", "", Pulled(2, kT, kT + 5)}}));
  auto tag = store_->ListClasses("app", {"v1", std::nullopt, std::nullopt});
  ASSERT_TRUE(tag.ok());
  EXPECT_EQ(*tag, (std::vector<ClassRecord>{{"production", "v1", "", Pulled(1, kT, kT)}}));
  auto days = store_->ListClasses("app", {"", "2026-01-02", "2026-01-03"});
  ASSERT_TRUE(days.ok());
  EXPECT_EQ(*days, (std::vector<ClassRecord>{{"ci", "", "2026-01-02", Pushed(1, kT, kT)},
                                             {"production", "", "2026-01-02", Pulled(1, kT, kT)}}));
  EXPECT_TRUE(store_->ListClasses("nothing", {})->empty());
}

TEST_P(StoreContractTest, RepositoryDeletedMarksTagsAndDigestsButKeepsStatistics) {
  ApplyEach({
      RepositoryUpdate{"app", Push(kT), "", std::nullopt},
      TagPointsAt{"app", "old", "sha256:a", kT + 10},
      TagPointsAt{"app", "new", "sha256:b", kT + 30},
      DigestUpdate{"app", "sha256:a", "", 0, Push(kT)},
      DigestUpdate{"app", "sha256:b", "", 0, Push(kT)},
      RepositoryDeleted{"app", kT + 20},
  });
  EXPECT_TRUE(Tag("app", "old").deleted);
  EXPECT_FALSE(Tag("app", "new").deleted);
  EXPECT_EQ(Repository("app").tags, std::vector<std::string>{"new"});
  for (const auto& digest : Digests("app")) EXPECT_TRUE(digest.deleted) << digest.digest;
  EXPECT_EQ(Repository("app").counters, Pushed(1, kT, kT));
}

TEST_P(StoreContractTest, RepositoryRemovedForgetsEveryRecordButNotEventIds) {
  const std::vector<Operation> records = {
      RepositoryUpdate{"app", Push(kT), "amy", std::nullopt},
      TagPointsAt{"app", "latest", "sha256:index", kT},
      TagUpdate{"app", "latest", Push(kT)},
      DigestUpdate{"app", "sha256:index", "", 0, Push(kT)},
      DigestParent{"app", "sha256:child", "sha256:index"},
      ActorUpdate{"app", "amy", Push(kT), kT, kT},
      DayUpdate{"app", "2026-01-01", Push(kT)},
      ClassUpdate{"app", "ci", "", "", Push(kT)},
      ClassUpdate{"app", "ci", "", "2026-01-01", Push(kT)},
      ClassUpdate{"app", "ci", "latest", "", Push(kT)},
  };
  std::vector<Operation> both = records;
  for (Operation op : records) {
    std::visit([](auto& o) { o.repository = "app/sub"; }, op);
    both.push_back(op);
  }
  Apply({Effect("first", both)});
  Apply({Effect("remove", {RepositoryRemoved{"app"}})});

  auto gone = store_->GetRepository("app");
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
  EXPECT_TRUE(Tags("app").empty());
  EXPECT_TRUE(Digests("app").empty());
  EXPECT_TRUE(store_->ListActors("app")->empty());
  EXPECT_TRUE(store_->ListDays("app", "2026-01-01", "2026-01-01")->empty());
  EXPECT_TRUE(store_->ListClasses("app", {})->empty());
  EXPECT_TRUE(store_->ListClasses("app", {"latest", std::nullopt, std::nullopt})->empty());
  EXPECT_TRUE(store_->ListClasses("app", {"", "2026-01-01", "2026-01-01"})->empty());
  EXPECT_EQ(store_->ListClasses("app/sub", {})->size(), 1u);
  EXPECT_EQ(Names(List({})), std::vector<std::string>{"app/sub"});
  EXPECT_EQ(Repository("app/sub").actors, std::vector<std::string>{"amy"});
  EXPECT_EQ(Tags("app/sub").size(), 1u);

  const ApplyOutcome again = Apply({Effect("first", both)});
  EXPECT_EQ(again.duplicates, 1);
  EXPECT_EQ(again.applied, 0);
  // The index link went too: a child pull no longer reaches the re-created tag.
  ApplyEach({
      TagPointsAt{"app", "latest", "sha256:index", kT},
      TagsByDigestUpdate{"app", "sha256:child", Pull(kT)},
  });
  EXPECT_EQ(Tag("app", "latest").counters, Counters{});
}

TEST_P(StoreContractTest, EventIdsApplyOnceWithinAndAcrossBatches) {
  const ApplyOutcome first = Apply({
      Effect("id-1", {RepositoryUpdate{"app", Pull(kT), "", std::nullopt}}),
      Effect("id-1", {RepositoryUpdate{"app", Push(kT), "", std::nullopt}}),
      Effect("id-2", {RepositoryUpdate{"app", Pull(kT + 1), "", std::nullopt}}),
  });
  EXPECT_EQ(first.applied, 2);
  EXPECT_EQ(first.duplicates, 1);
  const ApplyOutcome second = Apply({
      Effect("id-2", {RepositoryUpdate{"app", Pull(kT + 1), "", std::nullopt}}),
      Effect("id-3", {RepositoryUpdate{"app", Pull(kT + 2), "", std::nullopt}}),
      Effect("id-1", {RepositoryUpdate{"app", Pull(kT), "", std::nullopt}}),
  });
  EXPECT_EQ(second.applied, 1);
  EXPECT_EQ(second.duplicates, 2);
  EXPECT_EQ(Repository("app").counters, Pulled(3, kT, kT + 2));
  const ApplyOutcome empty = Apply({});
  EXPECT_EQ(empty.applied, 0);
  EXPECT_EQ(empty.duplicates, 0);
}

TEST_P(StoreContractTest, LaterOperationsOfAnEffectSeeEarlierOnes) {
  Apply({Effect("push", {
                            TagPointsAt{"app", "latest", "sha256:a", kT},
                            TagsByDigestUpdate{"app", "sha256:a", Push(kT)},
                            TagDeleted{"app", "latest", kT + 1},
                            TagsByDigestUpdate{"app", "sha256:a", Pull(kT + 2)},
                        })});
  EXPECT_EQ(Tag("app", "latest").counters, Pushed(1, kT, kT));
}

TEST_P(StoreContractTest, EverythingSurvivesAReopen) {
  Apply({Effect("id-1", {RepositoryUpdate{"app", Push(kT), "amy", std::nullopt},
                         TagPointsAt{"app", "v1", "sha256:a", kT}, TagUpdate{"app", "v1", Push(kT)},
                         DayUpdate{"app", "2025-11-27", Push(kT)}})});
  Reopen();
  const RepositoryRecord repository = Repository("app");
  EXPECT_EQ(repository.counters, Pushed(1, kT, kT));
  EXPECT_EQ(repository.actors, std::vector<std::string>{"amy"});
  EXPECT_EQ(repository.tags, std::vector<std::string>{"v1"});
  EXPECT_EQ(Tag("app", "v1").digest, "sha256:a");
  EXPECT_EQ(store_->ListDays("app", "2025-11-27", "2025-11-27")->size(), 1u);
  EXPECT_EQ(
      Apply({Effect("id-1", {RepositoryUpdate{"app", Push(kT), "", std::nullopt}})}).duplicates, 1);
  EXPECT_EQ(Repository("app").counters.counts[Counter::kPushes], 1);
}

TEST_P(StoreContractTest, ListFiltersByLiteralPrefixAndPages) {
  const std::string u = "\xc3\xbc";  // ü; its successor ý is "\xc3\xbd"
  for (const std::string& name :
       {std::string("alpha"), std::string("alpha/one"), std::string("alpha/two"),
        std::string("alphabet"), std::string("al%pha"), std::string("al_pha"), std::string("beta"),
        u + "ber", u + "ber/x", std::string("\xc3\xbd")}) {
    ApplyEach({RepositoryUpdate{name, Pull(kT), "", std::nullopt}});
  }
  EXPECT_EQ(Names(List(Prefixed("alpha/"))), (std::vector<std::string>{"alpha/one", "alpha/two"}));
  EXPECT_EQ(Names(List(Prefixed("al%"))), std::vector<std::string>{"al%pha"});
  EXPECT_EQ(Names(List(Prefixed("al_"))), std::vector<std::string>{"al_pha"});
  EXPECT_EQ(Names(List(Prefixed(u))), (std::vector<std::string>{u + "ber", u + "ber/x"}));
  EXPECT_TRUE(List(Prefixed("gamma")).items.empty());

  const RepositoryPage page = List(Paged(Prefixed("al"), 1, 3));
  EXPECT_EQ(page.total, 6);
  EXPECT_EQ(Names(page), (std::vector<std::string>{"al_pha", "alpha", "alpha/one"}));
  const RepositoryPage last = List(Paged(Prefixed("al"), 5, 3));
  EXPECT_EQ(last.total, 6);
  EXPECT_EQ(Names(last), std::vector<std::string>{"alphabet"});
  const RepositoryPage counted = List(Paged({}, 0, 0));
  EXPECT_TRUE(counted.items.empty());
  EXPECT_EQ(counted.total, 10);
  const RepositoryPage beyond = List(Paged({}, 50, 10));
  EXPECT_TRUE(beyond.items.empty());
  EXPECT_EQ(beyond.total, 10);
}

TEST_P(StoreContractTest, ListItemsCarryTheirRecords) {
  ApplyEach({RepositoryUpdate{"app", Push(kT), "amy", std::nullopt},
             TagPointsAt{"app", "v1", "sha256:a", kT}});
  const RepositoryPage page = List({});
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_EQ(page.items[0].counters, Pushed(1, kT, kT));
  EXPECT_EQ(page.items[0].actors, std::vector<std::string>{"amy"});
  EXPECT_EQ(page.items[0].numstars, 0);
}

TEST_P(StoreContractTest, ListSortsByCountersWithTiesByName) {
  Delta three = Pull(kT);
  three.counts[Counter::kPulls] = 3;
  ApplyEach({
      RepositoryUpdate{"b", three, "", std::nullopt},
      RepositoryUpdate{"a", Pull(kT), "", std::nullopt},
      RepositoryUpdate{"c", three, "", std::nullopt},
      RepositoryUpdate{"d", Push(kT), "", std::nullopt},
  });
  EXPECT_EQ(Names(List(Sorted("numpulls", true))), (std::vector<std::string>{"b", "c", "a", "d"}));
  EXPECT_EQ(Names(List(Sorted("numpulls", false))), (std::vector<std::string>{"d", "a", "b", "c"}));
  EXPECT_EQ(Names(List(Sorted("repositoryname", true))),
            (std::vector<std::string>{"d", "c", "b", "a"}));
  EXPECT_EQ(Names(List(Paged(Sorted("numpulls", true), 1, 2))),
            (std::vector<std::string>{"c", "a"}));
}

TEST_P(StoreContractTest, ListSortsByEveryFieldWithUnsetTimesFirst) {
  // No two repositories tie on any field; "none" never had a push or pull.
  const auto delta = [](std::array<std::int64_t, 5> counts, std::array<UnixMillis, 4> times) {
    Delta d;
    for (std::size_t i = 0; i < counts.size(); ++i) d.counts.at(i) = counts[i];
    for (std::size_t i = 0; i < times.size(); ++i) d.times.at(i) = kT + times[i];
    return d;
  };
  ApplyEach({
      RepositoryUpdate{"w", delta({2, 1, 3, 4, 1}, {1, 3, 4, 5}), "", std::nullopt},
      RepositoryUpdate{"x", delta({1, 3, 1, 2, 3}, {6, 7, 1, 2}), "", std::nullopt},
      RepositoryUpdate{"y", delta({3, 2, 2, 1, 2}, {2, 9, 3, 8}), "", std::nullopt},
      RepositoryUpdate{"none", Delta{}, "", std::nullopt},
  });
  const std::vector<std::pair<std::string, std::vector<std::string>>> expected = {
      {"repositoryname", {"none", "w", "x", "y"}}, {"numpulls", {"none", "x", "w", "y"}},
      {"numpushs", {"none", "w", "y", "x"}},       {"numchecks", {"none", "x", "y", "w"}},
      {"numindexpulls", {"none", "y", "x", "w"}},  {"numdeletes", {"none", "w", "y", "x"}},
      {"firstpushed", {"none", "w", "y", "x"}},    {"lastpushed", {"none", "w", "x", "y"}},
      {"firstpulled", {"none", "x", "y", "w"}},    {"lastpulled", {"none", "x", "w", "y"}},
  };
  for (const auto& [field, order] : expected) {
    EXPECT_EQ(Names(List(Sorted(field, false))), order) << field;
    const std::vector<std::string> reversed(order.rbegin(), order.rend());
    EXPECT_EQ(Names(List(Sorted(field, true))), reversed) << field;
  }
}

TEST_P(StoreContractTest, PruneForgetsOnlyIdsAppliedBeforeTheCutoff) {
  const UnixMillis before = NowMillis();
  Apply({Effect("id-1", {RepositoryUpdate{"app", Pull(kT), "", std::nullopt}})});
  ASSERT_TRUE(store_->PruneEventIds(before).ok());
  EXPECT_EQ(
      Apply({Effect("id-1", {RepositoryUpdate{"app", Pull(kT), "", std::nullopt}})}).duplicates, 1);

  ASSERT_TRUE(store_->PruneEventIds(NowMillis() + 1).ok());
  const ApplyOutcome after =
      Apply({Effect("id-1", {RepositoryUpdate{"app", Pull(kT), "", std::nullopt}})});
  EXPECT_EQ(after.applied, 1);
  EXPECT_EQ(after.duplicates, 0);
  EXPECT_EQ(Repository("app").counters.counts[Counter::kPulls], 2);
}

TEST_P(StoreContractTest, QueriesRunWhileBatchesCommit) {
  constexpr int kBatches = 200;
  std::atomic<bool> done = false;
  std::vector<std::thread> readers;
  std::atomic<int> failures = 0;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      std::int64_t seen = 0;
      while (!done) {
        auto page = store_->ListRepositories(Sorted("numpulls", true));
        auto tags = store_->ListTags("app");
        if (!page.ok() || !tags.ok()) {
          ++failures;
          continue;
        }
        // Each batch adds one pull to the repository and its tag in one transaction.
        if (page->items.empty()) continue;
        const std::int64_t pulls = page->items[0].counters.counts[Counter::kPulls];
        if (pulls < seen || tags->empty() || tags->at(0).counters.counts[Counter::kPulls] < pulls)
          ++failures;
        seen = pulls;
      }
    });
  }
  for (int i = 0; i < kBatches; ++i) {
    Apply({Effect(fmt::format("id-{}", i),
                  {TagUpdate{"app", "latest", Pull(kT + i)},
                   RepositoryUpdate{"app", Pull(kT + i), "", std::nullopt}})});
  }
  done = true;
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(Repository("app").counters, Pulled(kBatches, kT, kT + kBatches - 1));
}

// The overview's numbers (Summarize, a list's total) are kept at write time by some stores:
// after every kind of write they must equal what the repositories' own records add up to.
TEST_P(StoreContractTest, TotalsAndCountsStayExactThroughEveryKindOfWrite) {
  const auto expect_totals_match_records = [&](const std::string& when) {
    SCOPED_TRACE(when);
    const RepositoryPage all = List(Paged({}, 0, 1000));
    auto summary = store_->Summarize("2000-01-01", "2100-01-01");
    ASSERT_TRUE(summary.ok()) << summary.status().message();
    Counters sum;
    for (const auto& item : all.items) sum += item.counters;
    const auto count = static_cast<std::int64_t>(all.items.size());
    EXPECT_EQ(summary->repositories, count);
    EXPECT_EQ(all.total, count);
    EXPECT_EQ(summary->totals, sum);
    // Filtered totals count the matching repositories.
    RepositoryQuery stale = Paged({}, 0, 1);
    stale.pulled_before = kT + 2;
    std::int64_t stale_count = 0, prefixed_count = 0;
    for (const auto& item : all.items) {
      const auto& last_pulled = item.counters.times[TimeField::kLastPulled];
      if (!last_pulled || *last_pulled < kT + 2) ++stale_count;
      if (item.repositoryname.starts_with("team/")) ++prefixed_count;
    }
    EXPECT_EQ(List(stale).total, stale_count);
    EXPECT_EQ(List(Paged(Prefixed("team/"), 0, 1)).total, prefixed_count);
    RepositoryQuery top = Sorted("numpulls", true);
    top.limit = 1;
    EXPECT_EQ(List(top).total, count);
  };
  expect_totals_match_records("empty");

  Apply({
      Effect("p1", {RepositoryUpdate{"team/a", Push(kT), "amy", std::nullopt},
                    DayUpdate{"team/a", "2026-01-01", Push(kT)}}),
      Effect("p2", {RepositoryUpdate{"team/b", Push(kT + 1), "bob", std::nullopt}}),
      Effect("p3", {RepositoryUpdate{"team/a", Pull(kT + 3, 4), "", std::nullopt},
                    RepositoryUpdate{"team/a", Pull(kT + 4), "", std::nullopt}}),
      Effect("p4", {RepositoryUpdate{"solo", Pull(kT + 1, 2), "", std::nullopt}}),
  });
  expect_totals_match_records("after pushes and pulls");
  auto summary = store_->Summarize("2000-01-01", "2100-01-01");
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->repositories, 3);
  EXPECT_EQ(summary->totals.counts[Counter::kPulls], 7);
  EXPECT_EQ(summary->totals.counts[Counter::kPushes], 2);

  // Replayed events change nothing; a delete marks but keeps the statistics.
  Apply({
      Effect("p3", {RepositoryUpdate{"team/a", Pull(kT + 3, 4), "", std::nullopt}}),
      Effect("d1", {RepositoryUpdate{"team/b", Deleted(), "", std::nullopt},
                    RepositoryDeleted{"team/b", kT + 5}}),
  });
  expect_totals_match_records("after a replay and a delete");

  // on_delete: remove, of a repository, of one that is unknown, and of one re-created and
  // removed again within one batch and one effect.
  Apply({
      Effect("r1", {RepositoryRemoved{"team/a"}, RepositoryRemoved{"ghost"}}),
      Effect("r2", {RepositoryUpdate{"team/a", Pull(kT + 6), "", std::nullopt}}),
      Effect("r3", {RepositoryUpdate{"brief", Push(kT + 7), "", std::nullopt},
                    RepositoryRemoved{"brief"}, RepositoryRemoved{"brief"}}),
      Effect("r4",
             {RepositoryRemoved{"solo"}, RepositoryUpdate{"solo", Pull(kT, 3), "", std::nullopt}}),
  });
  expect_totals_match_records("after removals");
  summary = store_->Summarize("2000-01-01", "2100-01-01");
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->repositories, 3);
  EXPECT_EQ(summary->totals.counts[Counter::kPulls], 4);
  EXPECT_EQ(summary->totals.counts[Counter::kPushes], 1);
  EXPECT_EQ(summary->totals.counts[Counter::kDeletes], 1);
  EXPECT_EQ(summary->totals.times[TimeField::kFirstPulled], kT);
  EXPECT_EQ(summary->totals.times[TimeField::kLastPushed], kT + 1);

  Reopen();
  expect_totals_match_records("after a reopen");
  Apply({Effect("last", {RepositoryRemoved{"team/a"}, RepositoryRemoved{"team/b"},
                         RepositoryRemoved{"solo"}})});
  expect_totals_match_records("after removing everything");
  summary = store_->Summarize("2000-01-01", "2100-01-01");
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->repositories, 0);
  EXPECT_EQ(summary->totals, Counters{});
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContractTest,
                         ::testing::Values(SqliteBackend(), MongoBackend(), PostgresBackend()),
                         [](const ::testing::TestParamInfo<StoreBackend>& info) {
                           return info.param.name;
                         });

// The trending window (docs/design.md#the-rolling-window): a store may keep the window of
// kRollingWindowDays days at write time instead of summing days at query time; either way a
// window holds exactly the sum of the repository's days from its first day on.
class RollingWindowTest : public StoreContractTest {
 protected:
  static constexpr UnixMillis kDay0 = kT / kDayMillis * kDayMillis;

  // One pull-or-push event as the semantics shape it: the repository, then its day.
  void Event(const std::string& repository, int day, std::int64_t pulls, bool push = false) {
    const UnixMillis at = kDay0 + day * kDayMillis + 1000;
    Delta delta = Pull(at, pulls);
    if (push) {
      delta.counts[Counter::kPushes] = 1;
      delta.Pushed(at);
    }
    Apply({Effect(fmt::format("w{}", next_id_++), {RepositoryUpdate{repository, delta, "amy", at},
                                                   DayUpdate{repository, UtcDay(at), delta}})});
  }

  // The store's clock on the last day of the window that starts on day `first`.
  void WindowStartsOn(int first) {
    now_ = kDay0 + (first + kRollingWindowDays - 1) * kDayMillis + 12 * 3600 * 1000;
  }

  RepositoryPage Window(int first, RepositoryQuery query) {
    query.window_from_day = UtcDay(kDay0 + first * kDayMillis);
    return List(query);
  }

  // Pulls and pushes of the window, by repository name, in the page's order.
  static std::vector<std::string> Described(const RepositoryPage& page) {
    std::vector<std::string> out;
    for (const auto& item : page.items) {
      EXPECT_TRUE(item.window.has_value()) << item.repositoryname;
      if (!item.window) continue;
      out.push_back(fmt::format("{} {}/{}", item.repositoryname, (*item.window)[Counter::kPulls],
                                (*item.window)[Counter::kPushes]));
    }
    out.push_back(fmt::format("total {}", page.total));
    return out;
  }

  // The window starting on day `first` as the store answers it today (the rolling window), and
  // checked against the same window asked on a day when it is not the rolling one (summed).
  std::vector<std::string> Trending(int first,
                                    RepositoryQuery query = Sorted("window.numpulls", true)) {
    WindowStartsOn(first);
    const std::vector<std::string> rolled = Described(Window(first, query));
    const UnixMillis today = now_;
    now_ = today + 400 * kDayMillis;
    EXPECT_EQ(Described(Window(first, query)), rolled) << "summed and rolled windows differ";
    now_ = today;
    return rolled;
  }
};

TEST_P(RollingWindowTest, WindowCountsExactlyTheDaysFromItsFirstDayOnWhateverTheArrivalOrder) {
  Event("a", 0, 3);   // the window's first day
  Event("a", -1, 2);  // the day before: outside
  Event("b", 10, 5, true);
  Event("c", 40, 1);   // dated in the future: a window has no end
  Event("c", -5, 4);   // outside
  Event("d", -20, 9);  // nothing in the window
  using V = std::vector<std::string>;
  EXPECT_EQ(Trending(0), (V{"b 5/1", "a 3/0", "c 1/0", "d 0/0", "total 4"}));
  // Late events, after the window was read: inside and outside it.
  Event("a", 1, 4);
  Event("c", -3, 7);
  Event("d", 29, 1);
  EXPECT_EQ(Trending(0), (V{"a 7/0", "b 5/1", "c 1/0", "d 1/0", "total 4"}));
  // Two days later a's days have left the window; then a clock set back brings them back.
  EXPECT_EQ(Trending(2), (V{"b 5/1", "c 1/0", "d 1/0", "a 0/0", "total 4"}));
  EXPECT_EQ(Trending(-1), (V{"a 9/0", "b 5/1", "c 1/0", "d 1/0", "total 4"}));
  Event("e", -1, 6);
  EXPECT_EQ(Trending(-1), (V{"a 9/0", "e 6/0", "b 5/1", "c 1/0", "d 1/0", "total 5"}));
  // The rolled window survives a restart.
  Reopen();
  EXPECT_EQ(Trending(-1), (V{"a 9/0", "e 6/0", "b 5/1", "c 1/0", "d 1/0", "total 5"}));
}

TEST_P(RollingWindowTest, RolledWindowSortsFiltersAndPagesAsTheSummedOne) {
  for (int i = 0; i < 12; ++i) {
    const std::string name = fmt::format("{}/app-{}", i % 2 == 0 ? "team" : "ops", i);
    Event(name, i - 4, i % 5, i % 3 == 0);
    Event(name, i + 3, 1);
  }
  RepositoryQuery prefixed = Sorted("window.numpulls", false);
  prefixed.name_prefix = "team/";
  RepositoryQuery by_pushes = Paged(Sorted("window.numpushs", true), 2, 5);
  RepositoryQuery by_name = Sorted("repositoryname", false);
  by_name.actor = "amy";
  RepositoryQuery pulled_before = Sorted("window.numpulls", true);
  pulled_before.pulled_before = kDay0 + 10 * kDayMillis;
  for (int first : {0, 5, -3}) {
    for (const RepositoryQuery& query : {Paged(Sorted("window.numpulls", true), 0, 4), prefixed,
                                         by_pushes, by_name, pulled_before}) {
      EXPECT_FALSE(Trending(first, query).empty());
    }
  }
  // A window other than the rolling one (7 days) is summed, and equal however the clock is.
  WindowStartsOn(0);
  RepositoryQuery week = Sorted("window.numpulls", true);
  const auto seven = Described(Window(23, week));
  now_ = now_ + 3 * kDayMillis;
  EXPECT_EQ(Described(Window(23, week)), seven);
}

TEST_P(RollingWindowTest, RemovedRepositoryLeavesTheWindow) {
  Event("a", 3, 2);
  Event("b", 4, 1);
  using V = std::vector<std::string>;
  EXPECT_EQ(Trending(0), (V{"a 2/0", "b 1/0", "total 2"}));
  ApplyEach({RepositoryRemoved{"a"}});
  EXPECT_EQ(Trending(0), (V{"b 1/0", "total 1"}));
  Event("a", 5, 3);
  EXPECT_EQ(Trending(0), (V{"a 3/0", "b 1/0", "total 2"}));
}

// Within one batch (a group commit), a removal forgets the updates before it and not those after
// it: in the window and in the daily totals, as when each came in a batch of its own.
TEST_P(RollingWindowTest, ARemovalWithinABatchForgetsOnlyWhatCameBeforeIt) {
  Event("a", 3, 2);
  Event("b", 4, 1);
  using V = std::vector<std::string>;
  EXPECT_EQ(Trending(0), (V{"a 2/0", "b 1/0", "total 2"}));
  const auto pull = [](int day, std::int64_t pulls) {
    const UnixMillis at = kDay0 + day * kDayMillis + 1000;
    return std::vector<Operation>{RepositoryUpdate{"a", Pull(at, pulls), "amy", at},
                                  DayUpdate{"a", UtcDay(at), Pull(at, pulls)}};
  };
  Apply({Effect("before", pull(6, 4)), Effect("remove", {RepositoryRemoved{"a"}}),
         Effect("after", pull(6, 3)), Effect("later", pull(7, 5))});
  EXPECT_EQ(Trending(0), (V{"a 8/0", "b 1/0", "total 2"}));
  auto summary = store_->Summarize(UtcDay(kDay0), UtcDay(kDay0 + 10 * kDayMillis));
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  std::vector<std::string> days;
  for (const DayRecord& day : summary->days) {
    days.push_back(fmt::format("{} {}", day.day, day.counters.counts[Counter::kPulls]));
  }
  EXPECT_EQ(days,
            (V{UtcDay(kDay0 + 3 * kDayMillis) + " 0", UtcDay(kDay0 + 4 * kDayMillis) + " 1",
               UtcDay(kDay0 + 6 * kDayMillis) + " 3", UtcDay(kDay0 + 7 * kDayMillis) + " 5"}));
  EXPECT_EQ(summary->totals.counts[Counter::kPulls], 9);
}

INSTANTIATE_TEST_SUITE_P(Backends, RollingWindowTest,
                         ::testing::Values(SqliteBackend(), MongoBackend(), PostgresBackend()),
                         [](const ::testing::TestParamInfo<StoreBackend>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace drec
