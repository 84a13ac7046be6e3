// What only the MongoDB store promises beyond the store contract: the documents other tools read
// (docs/data-model.md), fields they add surviving drec's writes, coalesced batches, exactly once
// across a crash between any two writes, and outages answered with Unavailable.
#include "store/mongo/mongo_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/query_params.h"
#include "deltas.h"
#include "metrics/mongodb_commands.h"
#include "mongo_test_server.h"
#include "store/mongo/mongo_driver.h"
#include "store/mongo/write_plan.h"
#include "store/sqlite/sqlite_store.h"

namespace drec {
namespace {

using testing::kT;
using testing::Pull;
using testing::Push;

Delta Check(UnixMillis t) {
  Delta d;
  d.counts[Counter::kChecks] = 1;
  d.Pulled(t);
  return d;
}

// The operations the event semantics makes of a pull by digest.
EventEffect PullByDigest(std::string id, const std::string& repository, const std::string& digest,
                         const std::string& actor, UnixMillis t) {
  return {
      std::move(id),
      t,
      {RepositoryUpdate{repository, Pull(t), actor, std::nullopt},
       DigestUpdate{repository, digest, "", 0, Pull(t)},
       TagsByDigestUpdate{repository, digest, Pull(t)},
       ActorUpdate{repository, actor, Pull(t), t, t}, DayUpdate{repository, UtcDay(t), Pull(t)}}};
}

// ... and of a tagged push.
EventEffect TaggedPush(std::string id, const std::string& repository, const std::string& tag,
                       const std::string& digest, const std::string& actor, UnixMillis t) {
  return {
      std::move(id),
      t,
      {RepositoryUpdate{repository, Push(t), actor, std::nullopt},
       DigestUpdate{repository, digest, "application/vnd.oci.image.index.v1+json", 500, Push(t)},
       TagPointsAt{repository, tag, digest, t}, TagUpdate{repository, tag, Push(t)},
       ActorUpdate{repository, actor, Push(t), t, t}, DayUpdate{repository, UtcDay(t), Push(t)}}};
}

std::string Time(const std::optional<UnixMillis>& t) { return t ? FormatRfc3339(*t) : "-"; }

std::string Text(const Counters& c) {
  std::ostringstream out;
  out << c.counts[Counter::kPulls] << "/" << c.counts[Counter::kPushes] << "/"
      << c.counts[Counter::kChecks] << "/" << c.counts[Counter::kIndexPulls] << "/"
      << c.counts[Counter::kDeletes] << " pushed " << Time(c.times[TimeField::kFirstPushed]) << ".."
      << Time(c.times[TimeField::kLastPushed]) << " pulled "
      << Time(c.times[TimeField::kFirstPulled]) << ".." << Time(c.times[TimeField::kLastPulled]);
  return out.str();
}

// Everything a store answers about its data, as text: two stores holding the same statistics
// give the same text, and a difference reads as a diff.
std::string Dump(Store& store) {
  std::ostringstream out;
  RepositoryQuery all;
  all.limit = 1'000'000;
  auto page = store.ListRepositories(all);
  if (!page.ok()) return "error: " + page.status().message();
  out << "repositories " << page->total << "\n";
  for (const RepositoryRecord& listed : page->items) {
    const std::string& name = listed.repositoryname;
    auto repository = store.GetRepository(name);
    if (!repository.ok() || !repository->has_value()) return "error: repository " + name;
    const RepositoryRecord& r = **repository;
    out << name << ": " << Text(r.counters) << " stars " << r.numstars << " actors";
    for (const auto& actor : r.actors) out << " " << actor;
    out << " tags";
    for (const auto& tag : r.tags) out << " " << tag;
    out << "\n";
    auto tags = store.ListTags(name);
    auto digests = store.ListDigests(name);
    auto actors = store.ListActors(name);
    auto days = store.ListDays(name, "0000-00-00", "9999-99-99");
    if (!tags.ok() || !digests.ok() || !actors.ok() || !days.ok()) return "error: " + name;
    for (const TagRecord& t : *tags) {
      out << "  tag " << t.tag << " -> " << t.digest << (t.deleted ? " deleted " : " live ")
          << Text(t.counters) << "\n";
    }
    for (const DigestRecord& d : *digests) {
      out << "  digest " << d.digest << " " << d.media_type << " " << d.size
          << (d.deleted ? " deleted " : " live ") << Text(d.counters) << "\n";
    }
    for (const ActorRecord& a : *actors) {
      out << "  actor " << a.actor << " " << Text(a.counters) << " seen " << Time(a.firstseen)
          << ".." << Time(a.lastseen) << "\n";
    }
    for (const DayRecord& d : *days) {
      out << "  day " << d.day << " " << Text(d.counters) << "\n";
    }
  }
  auto summary = store.Summarize("0000-00-00", "9999-99-99");
  if (!summary.ok()) return "error: " + summary.status().message();
  out << "summary " << summary->repositories << " " << Text(summary->totals) << "\n";
  for (const DayRecord& d : summary->days)
    out << "  total " << d.day << " " << Text(d.counters) << "\n";
  return out.str();
}

// The embedded store, the reference the MongoDB store must agree with.
class Oracle {
 public:
  Oracle() {
    std::string dir = (std::filesystem::path(::testing::TempDir()) / "drec-oracle-XXXXXX");
    if (mkdtemp(dir.data()) != nullptr) dir_ = dir;
    auto store = SqliteStore::Open(dir_ + "/drec.db");
    EXPECT_TRUE(store.ok()) << store.status().message();
    if (store.ok()) store_ = std::move(*store);
  }
  ~Oracle() {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  Store& store() { return *store_; }

 private:
  std::string dir_;
  std::unique_ptr<SqliteStore> store_;
};

class MongoStoreTest : public testing::MongoDatabaseTest {
 protected:
  void TearDown() override {
    store_.reset();
    MongoDatabaseTest::TearDown();
  }

  // (Re)opens the store on this test's database, as a restarted drec would; the old store object
  // is dropped without any clean-up, as if the process had died, except that it releases its
  // writer lease (mongo_lease_test.cpp covers a lease left behind).
  MongoStore& Open(const std::string& collection = "repositories") {
    store_.reset();
    auto store = MongoStore::Open(server_->uri(), database_, collection);
    EXPECT_TRUE(store.ok()) << store.status().message();
    if (store.ok()) store_ = std::move(*store);
    return *store_;
  }

  // A fresh database for one round of a loop, replacing the test's.
  void FreshDatabase() {
    store_.reset();
    server_->DropDatabase(database_);
    database_ = server_->FreshDatabase();
  }

  ApplyOutcome Apply(const Batch& batch) {
    ApplyOutcome outcome;
    const Status status = store_->Apply(batch, &outcome);
    EXPECT_TRUE(status.ok()) << status.message();
    return outcome;
  }

  // Runs a command as another tool would, on a connection of its own; returns the reply as JSON.
  std::string Command(const std::string& json) {
    mongo::InitializeDriver();
    bson_error_t error;
    mongo::Bson command(bson_new_from_json(reinterpret_cast<const std::uint8_t*>(json.data()),
                                           static_cast<ssize_t>(json.size()), &error));
    EXPECT_NE(command.get(), nullptr) << error.message;
    mongoc_client_t* client = mongoc_client_new(server_->uri().c_str());
    bson_t reply;
    const bool ok = mongoc_client_command_simple(client, database_.c_str(), command.get(), nullptr,
                                                 &reply, &error);
    EXPECT_TRUE(ok) << json << ": " << error.message;
    char* text = bson_as_relaxed_extended_json(&reply, nullptr);
    std::string result = text;
    bson_free(text);
    bson_destroy(&reply);
    mongoc_client_destroy(client);
    return result;
  }

  // The first document of a collection matching `filter`, as canonical extended JSON (so BSON
  // types show: {"$numberLong": ...}, {"$date": ...}).
  std::string FindOne(const std::string& collection, const std::string& filter) {
    return testing::FindOne(server_->uri(), database_, collection, filter,
                            testing::JsonForm::kCanonical, true);
  }

  std::unique_ptr<MongoStore> store_;
};

TEST_F(MongoStoreTest, DocumentsCarryTheOriginalFieldNamesAndBsonTypes) {
  Open("registry-stats");
  Apply(Batch{{TaggedPush("push", "team/app.web", "v1.0", "sha256:a", "ci.bot", kT),
               PullByDigest("pull", "team/app.web", "sha256:a", "amy", kT + 5)}});
  const std::string repository = FindOne("registry-stats", R"({"repositoryname": "team/app.web"})");
  for (const char* field :
       {R"("numpulls" : { "$numberLong" : "1" })", R"("numpushs" : { "$numberLong" : "1" })",
        R"("numchecks" : { "$numberLong" : "0" })", R"("numindexpulls" : { "$numberLong" : "0" })",
        R"("numdeletes" : { "$numberLong" : "0" })", R"("numstars" : { "$numberLong" : "0" })",
        R"("actors" : [ "ci.bot", "amy" ])",
        R"("firstpushed" : { "$date" : { "$numberLong" : "1764210266171" } })",
        R"("lastpulled" : { "$date" : { "$numberLong" : "1764210266176" } })"}) {
    EXPECT_NE(repository.find(field), std::string::npos) << field << " in " << repository;
  }
  const std::string tag = FindOne("registry-stats.tags", R"({"tag": "v1.0"})");
  EXPECT_NE(tag.find(R"("repository" : "team/app.web")"), std::string::npos) << tag;
  EXPECT_NE(tag.find(R"("digest" : "sha256:a")"), std::string::npos) << tag;
  EXPECT_NE(tag.find(R"("deleted" : false)"), std::string::npos) << tag;
  EXPECT_NE(tag.find(R"("numpulls" : { "$numberLong" : "1" })"), std::string::npos) << tag;
  EXPECT_NE(FindOne("registry-stats.digests", R"({"digest": "sha256:a"})")
                .find(R"("media_type" : "application/vnd.oci.image.index.v1+json")"),
            std::string::npos);
  EXPECT_NE(FindOne("registry-stats.actors", R"({"actor": "amy"})").find(R"("firstseen")"),
            std::string::npos);
  EXPECT_NE(FindOne("registry-stats.days", R"({"day": "2025-11-27"})").find(R"("numpushs")"),
            std::string::npos);
  EXPECT_NE(FindOne("registry-stats.totaldays", R"({"day": "2025-11-27"})")
                .find(R"("numpulls" : { "$numberLong" : "1" })"),
            std::string::npos);
  EXPECT_NE(FindOne("registry-stats.eventids", R"({})").find(R"("applied_at")"), std::string::npos);
  // The journal is one document: the last batch, until a start finds it finished and keeps only
  // its sequence number (the claims of a later one are undone if its journal is missing).
  EXPECT_NE(FindOne("registry-stats.journal", R"({})").find(R"("journal")"), std::string::npos);
  Open("registry-stats");
  EXPECT_EQ(FindOne("registry-stats.journal", R"({})"), R"({ "seq" : { "$numberLong" : "1" } })");
}

TEST_F(MongoStoreTest, IndexesAreCreatedIdempotentlyAtStartUp) {
  Open();
  Open();
  const std::string indexes = Command(R"({"listIndexes": "repositories"})");
  EXPECT_NE(indexes.find(R"("name" : "repositoryname_1", "unique" : true)"), std::string::npos)
      << indexes;
  EXPECT_NE(indexes.find(R"("key" : { "numpulls" : -1, "repositoryname" : 1 })"), std::string::npos)
      << indexes;
  EXPECT_NE(indexes.find("lastpulled_1_repositoryname_1"), std::string::npos) << indexes;
  EXPECT_NE(Command(R"({"listIndexes": "repositories.tags"})").find("repository_1_tag_1"),
            std::string::npos);
  EXPECT_NE(Command(R"({"listIndexes": "repositories.eventids"})").find("applied_at_1"),
            std::string::npos);
  EXPECT_NE(Command(R"({"listIndexes": "repositories.eventids"})").find("seq_1"),
            std::string::npos);
}

// Documents as the release before attachments wrote them (no attachment counters or marks, no
// schema record): the upgrade keeps every number and marks the signature tag, once.
TEST_F(MongoStoreTest, UpgradingFromTheReleaseBeforeAttachmentsKeepsEveryNumber) {
  const std::string signature = "sha256-" + std::string(64, 'c') + ".sig";
  Command(R"({"insert": "repositories", "documents": [{"repositoryname": "app",
              "numpulls": {"$numberLong": "11"}, "numpushs": {"$numberLong": "3"},
              "numchecks": {"$numberLong": "5"}, "numindexpulls": {"$numberLong": "2"},
              "numdeletes": {"$numberLong": "1"}, "actors": ["alice"],
              "numstars": {"$numberLong": "4"}}]})");
  Command(R"({"insert": "repositories.tags", "documents": [
              {"repository": "app", "tag": "latest", "digest": "sha256:a", "deleted": false,
               "numpulls": {"$numberLong": "7"}},
              {"repository": "app", "tag": ")" +
          signature + R"(", "digest": "sha256:s",
               "deleted": false, "numpulls": {"$numberLong": "4"}}]})");
  Open();
  auto repository = store_->GetRepository("app");
  ASSERT_TRUE(repository.ok() && repository->has_value());
  const Counters& counters = (*repository)->counters;
  EXPECT_EQ(counters.counts[Counter::kPulls], 11);
  EXPECT_EQ(counters.counts[Counter::kPushes], 3);
  EXPECT_EQ(counters.counts[Counter::kChecks], 5);
  EXPECT_EQ(counters.counts[Counter::kIndexPulls], 2);
  EXPECT_EQ(counters.counts[Counter::kDeletes], 1);
  EXPECT_EQ((*repository)->numstars, 4);
  EXPECT_EQ((*repository)->tags, std::vector<std::string>{"latest"});
  // The new counters exist on the old documents, so sorting by them sees every repository.
  EXPECT_NE(FindOne("repositories", R"({"repositoryname": "app"})")
                .find(R"("numattachmentpulls" : { "$numberLong" : "0" })"),
            std::string::npos);
  auto tags = store_->ListTags("app");
  ASSERT_TRUE(tags.ok());
  ASSERT_EQ(tags->size(), 2u);
  EXPECT_FALSE((*tags)[0].attachment);
  EXPECT_TRUE((*tags)[1].attachment);
  EXPECT_EQ((*tags)[1].counters.counts[Counter::kPulls], 4);
  EXPECT_NE(FindOne("repositories.meta", R"({"_id": "schema"})").find(R"("version")"),
            std::string::npos);
  // The migration ran once: a tag unmarked by hand after it stays unmarked across a restart.
  Command(R"({"update": "repositories.tags", "updates": [{"q": {"tag": ")" + signature +
          R"("}, "u": {"$set": {"attachment": false}}}]})");
  Open();
  tags = store_->ListTags("app");
  ASSERT_TRUE(tags.ok() && tags->size() == 2u);
  EXPECT_FALSE((*tags)[1].attachment);
}

// Documents as the release before observedsince wrote them (schema version 1): the upgrade
// starts each repository's observation at the earliest time known of it (a BSON date), and
// writes no field when none is known.
TEST_F(MongoStoreTest, UpgradingFromTheReleaseBeforeObservedSinceStartsAtTheEarliestKnownTime) {
  Command(R"({"insert": "repositories.meta", "documents": [
              {"_id": "schema", "version": {"$numberLong": "1"}}]})");
  Command(R"({"insert": "repositories", "documents": [
              {"repositoryname": "pushed-first", "numpulls": {"$numberLong": "1"},
               "firstpushed": {"$date": {"$numberLong": "5000"}},
               "firstpulled": {"$date": {"$numberLong": "7000"}}, "actors": ["amy"]},
              {"repositoryname": "pulled-first",
               "firstpushed": {"$date": {"$numberLong": "9000"}},
               "firstpulled": {"$date": {"$numberLong": "3000"}}, "actors": []},
              {"repositoryname": "actor-first",
               "firstpushed": {"$date": {"$numberLong": "8000"}}, "actors": ["bob"]},
              {"repositoryname": "unknown", "numdeletes": {"$numberLong": "2"},
               "actors": []}]})");
  Command(R"({"insert": "repositories.actors", "documents": [
              {"repository": "pushed-first", "actor": "amy",
               "firstseen": {"$date": {"$numberLong": "6000"}}},
              {"repository": "actor-first", "actor": "bob",
               "firstseen": {"$date": {"$numberLong": "2000"}}},
              {"repository": "actor-first", "actor": "eve",
               "firstseen": {"$date": {"$numberLong": "4000"}}},
              {"repository": "no-document", "actor": "eve",
               "firstseen": {"$date": {"$numberLong": "1000"}}}]})");
  Open();
  const auto observed = [&](const std::string& name) -> std::optional<UnixMillis> {
    auto repository = store_->GetRepository(name);
    EXPECT_TRUE(repository.ok() && repository->has_value()) << name;
    if (!repository.ok() || !repository->has_value()) return std::nullopt;
    return (*repository)->observedsince;
  };
  EXPECT_EQ(observed("pushed-first"), 5000);
  EXPECT_EQ(observed("pulled-first"), 3000);
  EXPECT_EQ(observed("actor-first"), 2000);
  EXPECT_EQ(observed("unknown"), std::nullopt);
  EXPECT_NE(FindOne("repositories", R"({"repositoryname": "actor-first"})")
                .find(R"("observedsince" : { "$date" : { "$numberLong" : "2000" } })"),
            std::string::npos);
  EXPECT_EQ(FindOne("repositories", R"({"repositoryname": "unknown"})").find("observedsince"),
            std::string::npos);
  // An actor without a repository document makes none.
  EXPECT_EQ(FindOne("repositories", R"({"repositoryname": "no-document"})"), "");
  EXPECT_NE(FindOne("repositories.meta", R"({"_id": "schema"})")
                .find(R"("version" : { "$numberLong" : "3" })"),
            std::string::npos);
  // The new field folds like the others from then on.
  Apply(Batch{{EventEffect{"id-1",
                           1000,
                           {RepositoryUpdate{"unknown", testing::Pull(1000), "", 1000},
                            RepositoryUpdate{"pushed-first", testing::Pull(1000), "", 1000}},
                           std::nullopt}}});
  EXPECT_EQ(observed("unknown"), 1000);
  EXPECT_EQ(observed("pushed-first"), 1000);
  EXPECT_EQ(observed("pulled-first"), 3000);
}

TEST_F(MongoStoreTest, FieldsThatOtherToolsWriteSurviveDrecsWrites) {
  Open();
  for (int i = 0; i < 10; ++i) {
    Apply(Batch{{PullByDigest(fmt::format("pull-{}", i), "app", "sha256:a", "amy", kT + i)}});
    // A frontend stars the repository and describes it, on a connection of its own.
    Command(R"({"update": "repositories", "updates": [{"q": {"repositoryname": "app"},
                "u": {"$inc": {"numstars": 1}, "$set": {"description": "kept"}}}]})");
  }
  auto repository = store_->GetRepository("app");
  ASSERT_TRUE(repository.ok() && repository->has_value());
  EXPECT_EQ((*repository)->counters.counts[Counter::kPulls], 10);
  EXPECT_EQ((*repository)->numstars, 10);
  EXPECT_NE(
      FindOne("repositories", R"({"repositoryname": "app"})").find(R"("description" : "kept")"),
      std::string::npos);
}

TEST_F(MongoStoreTest, ABatchCostsOneWritePerDocumentWhateverItsNumberOfEvents) {
  Open();
  Apply(Batch{{PullByDigest("one", "app", "sha256:a", "amy", kT)}});
  const std::int64_t one = store_->last_apply_writes_for_testing();
  Batch ten;
  for (int i = 0; i < 10; ++i) {
    ten.effects.push_back(
        PullByDigest(fmt::format("ten-{}", i), "app", "sha256:a", i % 2 ? "amy" : "bob", kT + i));
  }
  Apply(ten);
  // Ten event ids instead of one, and a second actor (its document, and its place in the
  // repository's list): every other write is shared.
  EXPECT_EQ(store_->last_apply_writes_for_testing(), one + 9 + 3);
  auto repository = store_->GetRepository("app");
  ASSERT_TRUE(repository.ok() && repository->has_value());
  EXPECT_EQ((*repository)->counters.counts[Counter::kPulls], 11);
  EXPECT_EQ((*repository)->actors, (std::vector<std::string>{"amy", "bob"}));
}

// The commands of the write path counted so far (drec_mongodb_commands_total), by command and
// collection role; the lease's (on `C.meta`) are not among them.
std::map<std::string, std::int64_t> WritePathCommands() {
  std::vector<std::string_view> roles(mongo::kWriteTargets.begin(), mongo::kWriteTargets.end());
  roles.insert(roles.end(), {"eventids", "journal"});
  std::map<std::string, std::int64_t> counts;
  for (const char* command : {"insert", "update", "delete", "find", "getMore", "aggregate"}) {
    for (std::string_view role : roles) {
      if (const std::int64_t n = MongoDbCommands(command, role)) {
        counts[fmt::format("{} {}", command, role)] = n;
      }
    }
  }
  return counts;
}

std::map<std::string, std::int64_t> Since(const std::map<std::string, std::int64_t>& before) {
  std::map<std::string, std::int64_t> since;
  for (const auto& [key, n] : WritePathCommands()) {
    const auto old = before.find(key);
    if (const std::int64_t d = n - (old == before.end() ? 0 : old->second)) since[key] = d;
  }
  return since;
}

TEST_F(MongoStoreTest, ABatchSendsItsClaimItsJournalAndOneWritePerCollectionWhateverItsSize) {
  Open();
  Apply(Batch{{TaggedPush("push", "app", "v1", "sha256:a", "amy", kT)}});
  auto before = WritePathCommands();
  Apply(Batch{{PullByDigest("one", "app", "sha256:a", "amy", kT + 1)}});
  const std::map<std::string, std::int64_t> one = Since(before);
  // One update claims the id and finds it new; one writes the journal; then one ordered update
  // per collection the pull changes. The digest's index links are read the first time only.
  std::map<std::string, std::int64_t> expected = {
      {"update eventids", 1}, {"update journal", 1},  {"update repositories", 1},
      {"update digests", 1},  {"update tags", 1},     {"update actors", 1},
      {"update days", 1},     {"update totaldays", 1}};
  std::map<std::string, std::int64_t> first = expected;
  first["find digestparents"] = 1;
  EXPECT_EQ(one, first);
  Batch ten;
  for (int i = 0; i < 10; ++i) {
    ten.effects.push_back(
        PullByDigest(fmt::format("ten-{}", i), "app", "sha256:a", i % 2 ? "amy" : "bob", kT + i));
  }
  before = WritePathCommands();
  EXPECT_EQ(Apply(ten).applied, 10);
  EXPECT_EQ(Since(before), expected);
  // A batch of known events: the claim finds them all known and nothing else is sent.
  before = WritePathCommands();
  EXPECT_EQ(Apply(ten).duplicates, 10);
  EXPECT_EQ(Since(before), (std::map<std::string, std::int64_t>{{"update eventids", 1}}));
}

TEST_F(MongoStoreTest, CachedIndexLinksFollowNewLinksRemovalsAndRestarts) {
  Oracle oracle;
  const std::vector<Batch> batches = {
      Batch{{TaggedPush("push", "app", "v1", "sha256:index", "amy", kT)}},
      Batch{{PullByDigest("pull-1", "app", "sha256:c", "amy", kT + 1)}},  // no links yet
      Batch{{{"link", kT + 2, {DigestParent{"app", "sha256:c", "sha256:index"}}}}},
      Batch{{PullByDigest("pull-2", "app", "sha256:c", "amy", kT + 3)}},  // reaches v1
      Batch{{{"remove", kT + 4, {RepositoryRemoved{"app"}}}}},
      Batch{{TaggedPush("push-again", "app", "v1", "sha256:index", "amy", kT + 5)}},
      Batch{{PullByDigest("pull-3", "app", "sha256:c", "amy", kT + 6)}},  // the link is gone
  };
  Open();
  for (std::size_t i = 0; i < batches.size(); ++i) {
    ASSERT_TRUE(oracle.store().Apply(batches[i], nullptr).ok());
    Apply(batches[i]);
    ASSERT_EQ(Dump(*store_), Dump(oracle.store())) << "after batch " << i;
    if (i == 3) Open();  // a restart starts with an empty cache
  }
  // A link the previous process wrote is read from the server after a restart.
  Batch link{{{"link-2", kT + 7, {DigestParent{"app", "sha256:c", "sha256:index"}}}}};
  Batch pull{{PullByDigest("pull-4", "app", "sha256:c", "amy", kT + 8)}};
  ASSERT_TRUE(oracle.store().Apply(link, nullptr).ok());
  ASSERT_TRUE(oracle.store().Apply(pull, nullptr).ok());
  Open();
  Apply(link);
  Open();
  Apply(pull);
  EXPECT_EQ(Dump(*store_), Dump(oracle.store()));
}

TEST_F(MongoStoreTest, AJournalLeftByTheReleaseBeforeClaimsIsFinishedAtStart) {
  Oracle oracle;
  const Batch batch{{TaggedPush("old-push", "app", "v1", "sha256:a", "amy", kT),
                     PullByDigest("old-pull", "app", "sha256:a", "bob", kT + 1)}};
  ASSERT_TRUE(oracle.store().Apply(batch, nullptr).ok());
  Open();
  store_.reset();
  // That release's journal: one document per batch, an ObjectId _id, its event ids not yet
  // recorded, none of its writes applied.
  std::vector<const EventEffect*> effects;
  for (const EventEffect& effect : batch.effects) effects.push_back(&effect);
  bson_oid_t id;
  bson_oid_init(&id, nullptr);
  mongo::Bson journal = mongo::BuildJournal(id, kT, effects, {});
  mongoc_client_t* client = mongoc_client_new(server_->uri().c_str());
  mongoc_collection_t* journals =
      mongoc_client_get_collection(client, database_.c_str(), "repositories.journal");
  bson_error_t error;
  EXPECT_TRUE(mongoc_collection_insert_one(journals, journal.get(), nullptr, nullptr, &error))
      << error.message;
  mongoc_collection_destroy(journals);
  mongoc_client_destroy(client);
  Open();
  EXPECT_EQ(Dump(*store_), Dump(oracle.store()));
  EXPECT_EQ(Apply(batch).duplicates, 2);
  EXPECT_EQ(FindOne("repositories.journal", R"({"_id": {"$type": "objectId"}})"), "");
  EXPECT_EQ(Dump(*store_), Dump(oracle.store()));
}

// State before the batch under test: a multi-arch push, and a repository to be removed.
Batch Before() {
  EventEffect index = TaggedPush("p-index", "app", "v1", "sha256:index", "alice", kT);
  index.operations.push_back(DigestParent{"app", "sha256:c1", "sha256:index"});
  index.operations.push_back(DigestParent{"app", "sha256:c2", "sha256:index"});
  return Batch{{
      index,
      TaggedPush("p-gone", "gone", "latest", "sha256:g", "alice", kT - kDayMillis),
      TaggedPush("p-old", "old", "v0", "sha256:o", "carol", kT - 2 * kDayMillis),
      PullByDigest("p-pull", "gone", "sha256:g", "bob", kT),
  }};
}

// A batch with every kind of operation, several events per document, operations that depend on
// earlier ones of the same batch, a duplicate of an applied event and one within the batch.
Batch Mixed() {
  Batch batch{{
      PullByDigest("b-pull-1", "app", "sha256:c1", "bob", kT + 10),
      PullByDigest("b-pull-2", "app", "sha256:c1", "bob", kT + 11),
      {"b-check",
       kT + 12,
       {TagPointsAt{"app", "v1", "sha256:index", kT + 12}, TagUpdate{"app", "v1", Check(kT + 12)},
        RepositoryUpdate{"app", Check(kT + 12), "dave", std::nullopt}}},
      // Pulled before the index that lists it arrives: the tag must not count it.
      PullByDigest("b-pull-c3", "app", "sha256:c3", "", kT + 13),
      {"b-link", kT + 14, {DigestParent{"app", "sha256:c3", "sha256:index"}}},
      PullByDigest("b-pull-c3-again", "app", "sha256:c3", "erin", kT + 15),
      TaggedPush("b-push-v2", "app", "v2", "sha256:c2", "alice", kT + 16),
      {"b-delete",
       kT + 17,
       {DigestDeleted{"app", "sha256:c2", kT + 17},
        DigestUpdate{"app", "sha256:c2", "", 0, Delta{}}, TagDeleted{"app", "v2", kT + 17}}},
      PullByDigest("b-pull-after-delete", "app", "sha256:c1", "bob", kT + 18),
      {"b-remove", kT + 19, {RepositoryRemoved{"gone"}}},
      TaggedPush("b-recreate", "gone", "next", "sha256:n", "frank", kT + 20),
      {"b-repo-delete", kT + 21, {RepositoryDeleted{"old", kT + 21}}},
      TaggedPush("p-index", "app", "v1", "sha256:index", "alice", kT),  // applied before
  }};
  batch.effects.push_back(batch.effects[0]);  // twice in one batch
  return batch;
}

TEST_F(MongoStoreTest, ExactlyOnceWhicheverWriteACrashInterrupts) {
  Oracle oracle;
  ASSERT_TRUE(oracle.store().Apply(Before(), nullptr).ok());
  ASSERT_TRUE(oracle.store().Apply(Mixed(), nullptr).ok());
  const std::string expected = Dump(oracle.store());

  bool completed = false;
  int crashes = 0;
  for (std::int64_t n = 0; !completed && n < 1000; ++n) {
    FreshDatabase();
    Open();
    Apply(Before());
    store_->SetFaultPointForTesting(n);
    completed = store_->Apply(Mixed(), nullptr).ok();
    if (completed) break;
    ++crashes;
    // drec died after n writes; it restarts, and the registry sends the batch again.
    Open();
    const ApplyOutcome retry = Apply(Mixed());
    EXPECT_EQ(retry.applied + retry.duplicates, static_cast<std::int64_t>(Mixed().effects.size()));
    ASSERT_EQ(Dump(*store_), expected) << "crash after write " << n;
    // And nothing changes when it arrives once more.
    EXPECT_EQ(Apply(Mixed()).applied, 0);
    ASSERT_EQ(Dump(*store_), expected) << "crash after write " << n << ", applied again";
  }
  EXPECT_TRUE(completed);
  EXPECT_GT(crashes, 40) << "every write of the batch is a crash point";
  std::printf("crashed and recovered after each of %d writes\n", crashes);
  EXPECT_EQ(Dump(*store_), expected);
}

TEST_F(MongoStoreTest, AFailedCommitIsFinishedBeforeTheNextBatchWithoutARestart) {
  Oracle oracle;
  const Batch later{{PullByDigest("later", "app", "sha256:c1", "zoe", kT + 30)}};
  ASSERT_TRUE(oracle.store().Apply(Before(), nullptr).ok());
  ASSERT_TRUE(oracle.store().Apply(Mixed(), nullptr).ok());
  ASSERT_TRUE(oracle.store().Apply(later, nullptr).ok());
  const std::string expected = Dump(oracle.store());
  // Mixed() claims its 13 distinct ids first, then writes its journal: these failures come after
  // the journal (a failure among the claims leaves nothing to finish, and Mixed() then lands
  // after `later`).
  for (const std::int64_t n : {14, 18, 33, 53}) {
    FreshDatabase();
    Open();
    Apply(Before());
    store_->SetFaultPointForTesting(n);
    ASSERT_FALSE(store_->Apply(Mixed(), nullptr).ok());
    // The store came back (no restart); another batch arrives before the retry.
    store_->SetFaultPointForTesting(-1);
    Apply(later);
    Apply(Mixed());
    ASSERT_EQ(Dump(*store_), expected) << "failure after write " << n;
  }
}

TEST_F(MongoStoreTest, ACrashWhileFinishingAPendingBatchIsFinishedOnTheNextStart) {
  Oracle oracle;
  ASSERT_TRUE(oracle.store().Apply(Before(), nullptr).ok());
  ASSERT_TRUE(oracle.store().Apply(Mixed(), nullptr).ok());
  const std::string expected = Dump(oracle.store());
  Open();
  Apply(Before());
  store_->SetFaultPointForTesting(30);
  ASSERT_FALSE(store_->Apply(Mixed(), nullptr).ok());
  // The next Apply first finishes the pending batch; it crashes in the middle of that too.
  store_->SetFaultPointForTesting(7);
  ASSERT_FALSE(store_->Apply(Batch{}, nullptr).ok());
  Open();
  Apply(Mixed());
  EXPECT_EQ(Dump(*store_), expected);
}

TEST_F(MongoStoreTest, ABatchTooLargeForOneJournalIsSplit) {
  Oracle oracle;
  Batch large;
  // Names of 400 KiB, each in two writes: twelve events are more than one journal holds.
  for (int i = 0; i < 12; ++i) {
    const std::string name = std::string(400 << 10, 'r') + fmt::format("/{}", i);
    large.effects.push_back(
        {fmt::format("large-{}", i), kT, {RepositoryUpdate{name, Pull(kT + i), "", std::nullopt}}});
  }
  ASSERT_TRUE(oracle.store().Apply(large, nullptr).ok());
  Open();
  EXPECT_EQ(Apply(large).applied, 12);
  // Claims of the ids, two writes per repository, and each journal's write: two journals.
  EXPECT_EQ(store_->last_apply_writes_for_testing(), 12 + 2 * 12 + 2);
  EXPECT_EQ(Apply(large).duplicates, 12);
  EXPECT_EQ(Dump(*store_), Dump(oracle.store()));
}

TEST_F(MongoStoreTest, QueriesAnswerAsTheEmbeddedStore) {
  Oracle oracle;
  Batch batch;
  int id = 0;
  const std::vector<std::string> names = {"team/a", "team/b", "team/c", "other", "team2/d", "zz"};
  for (std::size_t r = 0; r < names.size(); ++r) {
    for (std::size_t k = 0; k <= r; ++k) {
      const UnixMillis t = kT - static_cast<UnixMillis>((k * 3 + r) % 7) * kDayMillis;
      batch.effects.push_back(
          PullByDigest(fmt::format("q{}", id++), names[r], "sha256:x", k % 2 ? "amy" : "bob", t));
      if (r % 2 == 0) {
        batch.effects.push_back(TaggedPush(fmt::format("q{}", id++), names[r], "v1", "sha256:x",
                                           "carl", t - kDayMillis));
      }
    }
  }
  batch.effects.push_back(
      {"never", kT, {RepositoryUpdate{"never-used", Delta{}, "", std::nullopt}}});
  ASSERT_TRUE(oracle.store().Apply(batch, nullptr).ok());
  Open();
  Apply(batch);
  EXPECT_EQ(Dump(*store_), Dump(oracle.store()));

  std::vector<RepositoryQuery> queries;
  for (const char* sort : {"repositoryname", "numpulls", "lastpulled", "firstpushed",
                           "window.numpulls", "window.numpushs"}) {
    for (const bool descending : {false, true}) {
      RepositoryQuery q;
      EXPECT_TRUE(ParseSort(fmt::format("{}{}", descending ? "-" : "", sort), &q).ok()) << sort;
      q.window_from_day = UtcDay(kT - 3 * kDayMillis);
      queries.push_back(q);
      q.offset = 1;
      q.limit = 3;
      queries.push_back(q);
    }
  }
  RepositoryQuery q;
  q.name_prefix = "team/";
  queries.push_back(q);
  q.actor = "amy";
  queries.push_back(q);
  q = {};
  q.actor = "carl";
  EXPECT_TRUE(ParseSort("-numpushs", &q).ok());
  queries.push_back(q);
  q = {};
  q.pulled_before = kT - 2 * kDayMillis;
  queries.push_back(q);
  q = {};
  q.pushed_after = kT - 4 * kDayMillis;
  q.window_from_day = UtcDay(kT);
  queries.push_back(q);
  q.limit = 0;
  queries.push_back(q);

  for (const RepositoryQuery& query : queries) {
    auto expected = oracle.store().ListRepositories(query);
    auto actual = store_->ListRepositories(query);
    ASSERT_TRUE(expected.ok() && actual.ok()) << actual.status().message();
    std::ostringstream describe;
    describe << "sort " << static_cast<int>(query.sort.kind) << "/"
             << static_cast<int>(query.sort.counter) << "/" << static_cast<int>(query.sort.time)
             << (query.descending ? " desc" : " asc") << " offset " << query.offset << " limit "
             << query.limit << " prefix " << query.name_prefix << " actor " << query.actor;
    EXPECT_EQ(actual->total, expected->total) << describe.str();
    ASSERT_EQ(actual->items.size(), expected->items.size()) << describe.str();
    for (std::size_t i = 0; i < expected->items.size(); ++i) {
      EXPECT_EQ(actual->items[i].repositoryname, expected->items[i].repositoryname)
          << describe.str();
      EXPECT_EQ(actual->items[i].window, expected->items[i].window) << describe.str();
      EXPECT_EQ(actual->items[i].counters, expected->items[i].counters) << describe.str();
      EXPECT_EQ(actual->items[i].actors, expected->items[i].actors) << describe.str();
    }
  }
  auto summary = store_->Summarize(UtcDay(kT - 2 * kDayMillis), UtcDay(kT));
  auto reference = oracle.store().Summarize(UtcDay(kT - 2 * kDayMillis), UtcDay(kT));
  ASSERT_TRUE(summary.ok() && reference.ok());
  EXPECT_EQ(summary->repositories, reference->repositories);
  EXPECT_EQ(summary->totals, reference->totals);
  ASSERT_EQ(summary->days.size(), reference->days.size());
  for (std::size_t i = 0; i < summary->days.size(); ++i) {
    EXPECT_EQ(summary->days[i].day, reference->days[i].day);
    EXPECT_EQ(summary->days[i].counters, reference->days[i].counters);
  }
}

TEST_F(MongoStoreTest, OpeningWithoutAServerFailsFastAsUnavailable) {
  const auto start = std::chrono::steady_clock::now();
  // Nothing listens on the discard port of a test machine.
  auto store = MongoStore::Open("mongodb://127.0.0.1:9/", database_, "repositories");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Status::Code::kUnavailable) << store.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  auto bad = MongoStore::Open("postgres://nope", database_, "repositories");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalidArgument);
}

TEST(MongoStoreOutageTest, AnOutageAnswersUnavailableAndLosesNothing) {
  const std::string binary = testing::FerretDbBinary();
  if (binary.empty()) GTEST_SKIP() << "no FerretDB: run scripts/build-ferretdb.sh";
  std::string why;
  auto server = testing::FerretDb::Start(binary, &why);
  ASSERT_NE(server, nullptr) << why;
  auto opened = MongoStore::Open(server->uri(), "drec", "repositories");
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  std::unique_ptr<MongoStore> store = std::move(*opened);
  ASSERT_TRUE(
      store->Apply(Batch{{PullByDigest("before", "app", "sha256:a", "amy", kT)}}, nullptr).ok());

  server->Stop();
  const Batch during{{PullByDigest("during", "app", "sha256:a", "amy", kT + 1)}};
  const Status failed = store->Apply(during, nullptr);
  EXPECT_EQ(failed.code(), Status::Code::kUnavailable) << failed.message();
  EXPECT_EQ(store->Ping().code(), Status::Code::kUnavailable);
  EXPECT_EQ(store->Apply(during, nullptr).code(), Status::Code::kUnavailable);

  ASSERT_TRUE(server->Restart(&why)) << why;
  // The pool reconnects by itself; the registry retries until it succeeds.
  Status status;
  for (int attempt = 0; attempt < 20; ++attempt) {
    status = store->Apply(during, nullptr);
    if (status.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_TRUE(store->Ping().ok());
  ApplyOutcome again;
  ASSERT_TRUE(store->Apply(during, &again).ok());
  EXPECT_EQ(again.duplicates, 1);
  auto repository = store->GetRepository("app");
  ASSERT_TRUE(repository.ok() && repository->has_value());
  EXPECT_EQ((*repository)->counters.counts[Counter::kPulls], 2);
}

}  // namespace
}  // namespace drec
