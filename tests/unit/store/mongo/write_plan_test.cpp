// The MongoDB write plan on its own: pure planning, so it runs without a server.
#include "store/mongo/write_plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace drec::mongo {
namespace {

constexpr UnixMillis kT = 1'764'210'266'171;

// One write of a journal, with its filter and update decoded into JSON.
struct Write {
  std::string coll;
  boost::json::object filter, update;
  bool remove = false, multi = false, upsert = false;
};

boost::json::object Decode(const bson_iter_t* iter) {
  bson_subtype_t subtype;
  std::uint32_t length = 0;
  const std::uint8_t* data = nullptr;
  bson_iter_binary(iter, &subtype, &length, &data);
  bson_t doc;
  EXPECT_TRUE(bson_init_static(&doc, data, length));
  char* json = bson_as_relaxed_extended_json(&doc, nullptr);
  auto parsed = boost::json::parse(json).as_object();
  bson_free(json);
  return parsed;
}

struct Journal {
  std::vector<std::string> events;
  std::vector<Write> writes;
};

Journal Read(const Bson& journal) {
  Journal out;
  bson_iter_t iter, child;
  EXPECT_TRUE(bson_iter_init_find(&iter, journal.get(), "events"));
  EXPECT_TRUE(bson_iter_recurse(&iter, &child));
  while (bson_iter_next(&child)) out.events.emplace_back(bson_iter_utf8(&child, nullptr));
  EXPECT_TRUE(bson_iter_init_find(&iter, journal.get(), "writes"));
  EXPECT_TRUE(bson_iter_recurse(&iter, &child));
  while (bson_iter_next(&child)) {
    bson_iter_t field;
    EXPECT_TRUE(bson_iter_recurse(&child, &field));
    Write write;
    while (bson_iter_next(&field)) {
      const std::string key = bson_iter_key(&field);
      if (key == "coll") write.coll = bson_iter_utf8(&field, nullptr);
      if (key == "filter") write.filter = Decode(&field);
      if (key == "update") write.update = Decode(&field);
      if (key == "remove") write.remove = bson_iter_bool(&field);
      if (key == "multi") write.multi = bson_iter_bool(&field);
      if (key == "upsert") write.upsert = bson_iter_bool(&field);
    }
    out.writes.push_back(std::move(write));
  }
  return out;
}

Journal Plan(const std::vector<EventEffect>& effects, StoredState stored = {}) {
  std::vector<const EventEffect*> pointers;
  for (const auto& e : effects) pointers.push_back(&e);
  bson_oid_t batch;
  bson_oid_init(&batch, nullptr);
  return Read(BuildJournal(batch, kT, pointers, std::move(stored)));
}

Delta Pulls(std::int64_t n) {
  Delta d;
  d.counts[Counter::kPulls] = n;
  d.Pulled(kT);
  return d;
}

std::int64_t IncOf(const Write& w, Counter c) {
  const auto* inc = w.update.if_contains("$inc");
  if (inc == nullptr) return 0;
  const auto* v = inc->as_object().if_contains(NameOf(c));
  return v == nullptr ? 0 : v->to_number<std::int64_t>();
}

std::vector<const Write*> Changes(const Journal& j, std::string_view coll) {
  std::vector<const Write*> found;
  for (const Write& w : j.writes) {
    if (w.coll == coll && w.update.contains("$inc")) found.push_back(&w);
  }
  return found;
}

TEST(WritePlanTest, UpdatesOfOneDocumentAcrossEventsBecomeOneIncrement) {
  const auto journal = Plan({
      {"e1", kT, {RepositoryUpdate{"team/app", Pulls(1), "amy", std::nullopt}}},
      {"e2", kT, {RepositoryUpdate{"team/app", Pulls(2), "bob", std::nullopt}}},
      {"e3", kT, {RepositoryUpdate{"other", Pulls(5), "", std::nullopt}}},
  });
  EXPECT_EQ(journal.events, (std::vector<std::string>{"e1", "e2", "e3"}));
  const auto changes = Changes(journal, "repositories");
  ASSERT_EQ(changes.size(), 2u);
  std::int64_t app = 0, other = 0;
  for (const Write* w : changes) {
    const auto name = w->filter.at("repositoryname").as_string();
    (name == "team/app" ? app : other) += IncOf(*w, Counter::kPulls);
  }
  EXPECT_EQ(app, 3);
  EXPECT_EQ(other, 5);
}

// Merged repository updates keep the earliest observation start, in one $min with the counters.
TEST(WritePlanTest, MergedRepositoryUpdatesFoldTheObservationStartWithMin) {
  const auto journal = Plan({
      {"e1", kT, {RepositoryUpdate{"team/app", Pulls(1), "amy", kT}}},
      {"e2", kT, {RepositoryUpdate{"team/app", Delta{}, "", kT - 5000}}},
      {"e3", kT, {RepositoryUpdate{"team/app", Pulls(1), "", std::nullopt}}},
      {"e4", kT, {RepositoryUpdate{"team/app", Delta{}, "", kT + 5000}}},
      {"e5", kT, {RepositoryUpdate{"other", Pulls(1), "", std::nullopt}}},
  });
  std::vector<const Write*> app, other;
  for (const Write& w : journal.writes) {
    if (w.coll != "repositories" || w.upsert) continue;
    if (w.update.contains("$push")) continue;  // the actor's own write
    (w.filter.at("repositoryname").as_string() == "team/app" ? app : other).push_back(&w);
  }
  ASSERT_EQ(app.size(), 1u);
  EXPECT_EQ(IncOf(*app[0], Counter::kPulls), 2);
  const auto* min = app[0]->update.if_contains("$min");
  ASSERT_NE(min, nullptr);
  EXPECT_EQ(boost::json::serialize(min->as_object().at("observedsince")),
            boost::json::serialize(boost::json::value{{"$date", FormatRfc3339(kT - 5000)}}));
  ASSERT_EQ(other.size(), 1u);
  const auto* other_min = other[0]->update.if_contains("$min");
  EXPECT_TRUE(other_min == nullptr || !other_min->as_object().contains("observedsince"));
}

TEST(WritePlanTest, EveryChangeIsGuardedSoReplayingTheJournalChangesNothingTwice) {
  const auto journal =
      Plan({{"e1",
             kT,
             {RepositoryUpdate{"app", Pulls(1), "", std::nullopt}, TagUpdate{"app", "v1", Pulls(1)},
              DayUpdate{"app", UtcDay(kT), Pulls(1)}}}});
  int guarded = 0;
  for (const Write& w : journal.writes) {
    if (!w.update.contains("$inc")) continue;
    // A document already changed by this batch at or after this write is left alone.
    EXPECT_TRUE(w.filter.contains("$or") || w.filter.contains("lastop.batch") ||
                boost::json::serialize(w.filter).find("lastop") != std::string::npos)
        << w.coll << " " << boost::json::serialize(w.filter);
    EXPECT_NE(boost::json::serialize(w.update).find("lastop"), std::string::npos) << w.coll;
    ++guarded;
  }
  EXPECT_GE(guarded, 3);
}

TEST(WritePlanTest, EveryWriteTargetsACollectionOfTheSendingOrder) {
  const auto journal = Plan(
      {{"e1",
        kT,
        {RepositoryUpdate{"app", Pulls(1), "amy", std::nullopt}, TagUpdate{"app", "v1", Pulls(1)},
         DigestUpdate{"app", "sha256:a", "", 0, Pulls(1)},
         ActorUpdate{"app", "amy", Pulls(1), kT, kT}, DayUpdate{"app", UtcDay(kT), Pulls(1)}}}});
  std::set<std::string> seen;
  for (const Write& w : journal.writes) {
    EXPECT_NE(std::find(kWriteTargets.begin(), kWriteTargets.end(), w.coll), kWriteTargets.end())
        << w.coll;
    seen.insert(w.coll);
  }
  EXPECT_EQ(seen, (std::set<std::string>{"tags", "digests", "actors", "days", "totaldays",
                                         "repositories"}));
}

TEST(WritePlanTest, RemovingARepositoryTakesItsStoredDaysOffTheTotals) {
  StoredState stored;
  stored.days["app"][UtcDay(kT)][Counter::kPulls] = 3;
  const auto removed = std::vector<EventEffect>{{"e1", kT, {RepositoryRemoved{"app"}}}};
  std::vector<const EventEffect*> pointers = {&removed[0]};
  EXPECT_EQ(RepositoriesRemoved(pointers), (std::set<std::string>{"app"}));
  const auto journal = Plan(removed, stored);
  const auto totals = Changes(journal, "totaldays");
  ASSERT_EQ(totals.size(), 1u);
  EXPECT_EQ(IncOf(*totals[0], Counter::kPulls), -3);
  int removes = 0;
  for (const Write& w : journal.writes) removes += w.remove ? 1 : 0;
  EXPECT_EQ(removes, 7);  // the repository and its six companion collections
}

TEST(WritePlanTest, PullsByDigestNameTheDigestsWhoseParentsMustBeRead) {
  const auto effects =
      std::vector<EventEffect>{{"e1", kT, {TagsByDigestUpdate{"app", "sha256:child", Pulls(1)}}}};
  std::vector<const EventEffect*> pointers = {&effects[0]};
  EXPECT_EQ(DigestsPulledByDigest(pointers),
            (std::set<std::pair<std::string, std::string>>{{"app", "sha256:child"}}));
  StoredState stored;
  stored.parents[{"app", "sha256:child"}] = {"sha256:index"};
  const auto journal = Plan(effects, stored);
  const auto tags = Changes(journal, "tags");
  ASSERT_EQ(tags.size(), 1u);
  EXPECT_TRUE(tags[0]->multi);
  const auto digests = boost::json::serialize(tags[0]->filter);
  EXPECT_NE(digests.find("sha256:child"), std::string::npos) << digests;
  EXPECT_NE(digests.find("sha256:index"), std::string::npos) << digests;
}

TEST(WritePlanTest, AnEffectWhoseManifestIsUnknownRecordsItsIdAndWritesNothing) {
  Delta deleted;
  deleted.counts[Counter::kDeletes] = 1;
  std::vector<EventEffect> effects;
  for (const char* digest : {"sha256:stored", "sha256:blob", "sha256:pushed"}) {
    effects.push_back({std::string("delete-") + digest,
                       kT,
                       {RepositoryUpdate{"app", deleted, "", std::nullopt}},
                       KnownManifest{"app", digest}});
  }
  // A manifest pushed earlier in the batch is known to the effects after it.
  effects.insert(
      effects.begin() + 2,
      EventEffect{"push",
                  kT,
                  {DigestUpdate{
                      "app", "sha256:pushed", "application/vnd.oci.image.manifest.v1+json", 1, {}}},
                  std::nullopt});
  std::vector<const EventEffect*> pointers;
  for (const auto& effect : effects) pointers.push_back(&effect);
  EXPECT_EQ(ManifestsRequired(pointers),
            (std::set<std::pair<std::string, std::string>>{
                {"app", "sha256:stored"}, {"app", "sha256:blob"}, {"app", "sha256:pushed"}}));
  StoredState stored;
  stored.manifests = {{"app", "sha256:stored"}};
  bson_oid_t batch;
  bson_oid_init(&batch, nullptr);
  std::int64_t unknown = 0;
  const Journal journal = Read(BuildJournal(batch, kT, pointers, std::move(stored), &unknown));
  EXPECT_EQ(unknown, 1);
  EXPECT_EQ(journal.events.size(), 4u);  // every id is recorded, the blob's too
  const auto repositories = Changes(journal, "repositories");
  ASSERT_EQ(repositories.size(), 1u);  // the two counted deletes, merged
  EXPECT_EQ(IncOf(*repositories[0], Counter::kDeletes), 2);
}

}  // namespace
}  // namespace drec::mongo

namespace drec::mongo {
namespace {

TEST(WritePlanTest, ClassUpdatesOfOneRecordBecomeOneIncrementUntilARemoval) {
  const auto journal = Plan({
      {"e1", kT, {ClassUpdate{"app", "ci", "", "", Pulls(1)}}},
      {"e2", kT, {ClassUpdate{"app", "ci", "", "", Pulls(2)}}},
      {"e3", kT, {ClassUpdate{"app", "ci", "v1", "", Pulls(4)}}},
      {"e4", kT, {ClassUpdate{"app", "ci", "", UtcDay(kT), Pulls(8)}}},
  });
  const auto classes = Changes(journal, "classes");
  ASSERT_EQ(classes.size(), 3u);
  EXPECT_EQ(IncOf(*classes[0], Counter::kPulls), 3);
  EXPECT_EQ(classes[0]->filter.at("class").as_string(), "ci");
  EXPECT_EQ(classes[0]->filter.at("tag").as_string(), "");
  EXPECT_EQ(classes[0]->filter.at("day").as_string(), "");
  EXPECT_EQ(classes[1]->filter.at("tag").as_string(), "v1");
  EXPECT_EQ(classes[2]->filter.at("day").as_string(), UtcDay(kT));

  const auto removed = Plan({
      {"e1", kT, {ClassUpdate{"app", "ci", "", "", Pulls(1)}}},
      {"e2", kT, {RepositoryRemoved{"app"}}},
      {"e3", kT, {ClassUpdate{"app", "ci", "", "", Pulls(2)}}},
  });
  EXPECT_EQ(Changes(removed, "classes").size(), 2u);  // the removal lies between them
}

}  // namespace
}  // namespace drec::mongo

namespace drec::mongo {
namespace {

std::int64_t WindowIncOf(const Write& w) {
  const auto* inc = w.update.if_contains("$inc");
  if (inc == nullptr) return 0;
  const auto* v = inc->as_object().if_contains(WindowField(Counter::kPulls));
  return v == nullptr ? 0 : v->to_number<std::int64_t>();
}

// The rolling window rides in the repository's own update: a day from the window's first day on
// adds to window_*, an earlier day or a window not valid adds nothing, and a day without its
// repository's update changes the document without creating it.
TEST(WritePlanTest, DaysInTheRollingWindowAddToTheRepositorysOwnUpdate) {
  const auto event = [](std::string id, const std::string& repository, const std::string& day,
                        std::int64_t n) {
    return EventEffect{std::move(id),
                       kT,
                       {RepositoryUpdate{repository, Pulls(n), "", std::nullopt},
                        DayUpdate{repository, day, Pulls(n)}}};
  };
  StoredState stored;
  stored.window_from = "2026-11-10";
  const auto journal = Plan({event("e1", "app", "2026-11-10", 2),
                             event("e2", "app", "2026-11-09", 3),
                             event("e3", "app", "2026-12-31", 4),
                             event("e4", "old", "2026-11-01", 1),
                             {"e5", kT, {DayUpdate{"bare", "2026-11-20", Pulls(6)}}}},
                            stored);
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> repositories;  // pulls, window
  std::set<std::string> created;
  for (const Write& w : journal.writes) {
    if (w.coll != "repositories") continue;
    const std::string name(w.filter.at("repositoryname").as_string());
    if (w.upsert) {
      created.insert(name);
      continue;
    }
    repositories[name].first += IncOf(w, Counter::kPulls);
    repositories[name].second += WindowIncOf(w);
  }
  EXPECT_EQ(repositories["app"], (std::pair<std::int64_t, std::int64_t>{9, 6}));
  EXPECT_EQ(repositories["old"], (std::pair<std::int64_t, std::int64_t>{1, 0}));
  EXPECT_EQ(repositories["bare"], (std::pair<std::int64_t, std::int64_t>{0, 6}));
  EXPECT_EQ(created, (std::set<std::string>{"app", "old"}));
  // One repository update per repository: no extra write for the window.
  EXPECT_EQ(Changes(journal, "repositories").size(), 3u);

  const auto unset = Plan({event("e1", "app", "2026-11-10", 2)});
  for (const Write& w : unset.writes) EXPECT_EQ(WindowIncOf(w), 0);
}

}  // namespace
}  // namespace drec::mongo
