// Several registries on one collector: each registry's statistics in a store of its own (here
// SQLite files), the same repository name in two registries two repositories, and the merged
// reader's list and summary equal to what one store holding them all would answer.
#include "store/registries/registry_set.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "deltas.h"
#include "store/registries/merged_reader.h"
#include "store/sqlite/sqlite_store.h"

namespace drec {
namespace {

using testing::kT;
using testing::Pull;
using testing::Push;

EventEffect In(const std::string& registry, const std::string& id, Operation op,
               UnixMillis at = kT) {
  EventEffect effect{id, at, {std::move(op)}};
  effect.registry = registry;
  return effect;
}

class RegistrySetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = (std::filesystem::path(::testing::TempDir()) / "drec-registries-XXXXXX");
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = dir;
    std::map<std::string, Store*, std::less<>> stores;
    for (const char* name : {"default", "hub", "mirror"}) {
      auto store = SqliteStore::Open((dir_ / fmt::format("{}.db", name)).string());
      ASSERT_TRUE(store.ok()) << store.status().message();
      stores.emplace(name, store->get());
      owned_.push_back(std::move(*store));
    }
    set_ = std::make_unique<RegistrySet>(std::move(stores));
  }
  void TearDown() override {
    set_.reset();
    owned_.clear();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::vector<std::unique_ptr<SqliteStore>> owned_;
  std::unique_ptr<RegistrySet> set_;
};

TEST_F(RegistrySetTest, TheSameNameInTwoRegistriesIsTwoRepositories) {
  ApplyOutcome outcome;
  ASSERT_TRUE(
      set_->Apply(Batch{{In("hub", "h1", RepositoryUpdate{"app", Pull(kT), "", std::nullopt}),
                         In("mirror", "m1", RepositoryUpdate{"app", Pull(kT, 5), "", std::nullopt}),
                         In("hub", "h2", RepositoryUpdate{"app", Push(kT + 1), "", std::nullopt})}},
                  &outcome)
          .ok());
  EXPECT_EQ(outcome.applied, 3);
  auto hub = set_->Reader("hub")->GetRepository("app");
  auto mirror = set_->Reader("mirror")->GetRepository("app");
  ASSERT_TRUE(hub.ok() && hub->has_value() && mirror.ok() && mirror->has_value());
  EXPECT_EQ((*hub)->counters.counts[Counter::kPulls], 1);
  EXPECT_EQ((*hub)->counters.counts[Counter::kPushes], 1);
  EXPECT_EQ((*hub)->registry, "hub");
  EXPECT_EQ((*mirror)->counters.counts[Counter::kPulls], 5);
  EXPECT_EQ((*mirror)->registry, "mirror");
  // The default registry saw none of it, and without a registry a repository means its.
  auto unnamed = set_->All().GetRepository("app");
  ASSERT_TRUE(unnamed.ok());
  EXPECT_FALSE(unnamed->has_value());
  EXPECT_EQ(set_->Reader("nope"), nullptr);
  EXPECT_EQ(set_->names(), (std::vector<std::string>{"default", "hub", "mirror"}));
}

TEST_F(RegistrySetTest, EachRegistryRemembersItsOwnEventIds) {
  const Batch batch{
      {In("hub", "same-id", RepositoryUpdate{"app", Pull(kT), "", std::nullopt}),
       In("mirror", "other-id", RepositoryUpdate{"app", Pull(kT), "", std::nullopt})}};
  ApplyOutcome outcome;
  ASSERT_TRUE(set_->Apply(batch, &outcome).ok());
  ASSERT_TRUE(set_->Apply(batch, &outcome).ok());
  EXPECT_EQ(outcome.applied, 0);
  EXPECT_EQ(outcome.duplicates, 2);
  EXPECT_EQ(set_->Reader("hub")->GetRepository("app")->value().counters.counts[Counter::kPulls], 1);
}

TEST_F(RegistrySetTest, AnEffectForAnUnservedRegistryFailsTheBatch) {
  EXPECT_FALSE(
      set_->Apply(
              Batch{{In("hub", "a", RepositoryUpdate{"app", Pull(kT), "", std::nullopt}),
                     In("elsewhere", "b", RepositoryUpdate{"app", Pull(kT), "", std::nullopt})}},
              nullptr)
          .ok());
}

TEST_F(RegistrySetTest, TheMergedListIsOrderedAndPagedAsOneStoreWouldBe) {
  // Pull counts chosen so that every registry holds some of each page, with ties.
  std::vector<EventEffect> effects;
  const std::vector<std::string> registries = {"default", "hub", "mirror"};
  int id = 0;
  for (int r = 0; r < 12; ++r) {
    const std::string& registry = registries[static_cast<std::size_t>(r % 3)];
    effects.push_back(In(
        registry, fmt::format("e{}", id++),
        RepositoryUpdate{fmt::format("repo{:02}", r / 2), Pull(kT + r, r % 4), "", std::nullopt}));
  }
  ASSERT_TRUE(set_->Apply(Batch{effects}, nullptr).ok());
  RepositoryQuery all;
  all.limit = 1000;
  all.sort.kind = SortKey::Kind::kCounter;
  all.sort.counter = Counter::kPulls;
  all.descending = true;
  auto everything = set_->All().ListRepositories(all);
  ASSERT_TRUE(everything.ok());
  ASSERT_EQ(everything->total, 12);
  ASSERT_EQ(everything->items.size(), 12u);
  EXPECT_TRUE(
      std::is_sorted(everything->items.begin(), everything->items.end(),
                     [&](const auto& a, const auto& b) { return ListedBefore(a, b, all); }));
  for (std::size_t i = 1; i < everything->items.size(); ++i) {
    const auto& a = everything->items[i - 1];
    const auto& b = everything->items[i];
    EXPECT_GE(a.counters.counts[Counter::kPulls], b.counters.counts[Counter::kPulls]);
  }
  // Pages of every size and offset are slices of the whole.
  for (std::int64_t limit : {1, 4, 5}) {
    for (std::int64_t offset = 0; offset < 14; offset += 3) {
      RepositoryQuery page = all;
      page.offset = offset;
      page.limit = limit;
      auto got = set_->All().ListRepositories(page);
      ASSERT_TRUE(got.ok());
      EXPECT_EQ(got->total, 12);
      std::vector<std::string> expected, actual;
      for (std::int64_t i = offset; i < std::min<std::int64_t>(12, offset + limit); ++i) {
        const auto& r = everything->items[static_cast<std::size_t>(i)];
        expected.push_back(r.registry + "/" + r.repositoryname);
      }
      for (const auto& r : got->items) actual.push_back(r.registry + "/" + r.repositoryname);
      EXPECT_EQ(actual, expected) << "offset " << offset << " limit " << limit;
    }
  }
}

TEST_F(RegistrySetTest, TheSummaryAddsUpEveryRegistry) {
  const std::string day = UtcDay(kT);
  ASSERT_TRUE(
      set_->Apply(
              Batch{{In("hub", "h", DayUpdate{"app", day, Pull(kT, 2)}),
                     In("hub", "hr", RepositoryUpdate{"app", Pull(kT, 2), "", std::nullopt}),
                     In("mirror", "m", DayUpdate{"app", day, Pull(kT + 5, 3)}),
                     In("mirror", "mr", RepositoryUpdate{"app", Pull(kT + 5, 3), "", std::nullopt}),
                     In("default", "d", RepositoryUpdate{"lib", Push(kT - 5), "", std::nullopt})}},
              nullptr)
          .ok());
  auto summary = set_->All().Summarize(day, day);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->repositories, 3);
  EXPECT_EQ(summary->totals.counts[Counter::kPulls], 5);
  EXPECT_EQ(summary->totals.counts[Counter::kPushes], 1);
  EXPECT_EQ(summary->totals.times[TimeField::kFirstPulled], kT);
  EXPECT_EQ(summary->totals.times[TimeField::kLastPulled], kT + 5);
  ASSERT_EQ(summary->days.size(), 1u);
  EXPECT_EQ(summary->days[0].counters.counts[Counter::kPulls], 5);
  auto hub = set_->Reader("hub")->Summarize(day, day);
  ASSERT_TRUE(hub.ok());
  EXPECT_EQ(hub->totals.counts[Counter::kPulls], 2);
}

}  // namespace
}  // namespace drec
