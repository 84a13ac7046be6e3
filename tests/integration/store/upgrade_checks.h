// What an upgrade that computes repository_totals must leave, whatever the store: shared by the
// per-store upgrade tests, each of which seeds its old schema in its own dialect.
#pragma once

#include <gtest/gtest.h>

#include <optional>

#include "deltas.h"
#include "store/store.h"

namespace drec::testing {

// The values an upgrade test seeds into the repositories of its old schema, as SQL rows of
// (repositoryname, numpulls, numpushs, numattachmentpulls, firstpushed, lastpulled).
inline constexpr const char kSeededRepositories[] =
    "('a', 9, 1, 2, 1000, 5000), ('b', 4, 0, 0, 800, NULL), ('c', 0, 0, 0, NULL, 7000)";

// Checks that the upgraded `store` answers the seeded repositories' totals, and that a batch
// after the upgrade (a new repository, an update, a removal) keeps them exact.
inline void ExpectTotalsOfTheSeededRepositoriesKeptUp(Store& store) {
  const auto summary = [&] {
    auto got = store.Summarize("2026-01-01", "2026-01-31");
    EXPECT_TRUE(got.ok()) << got.status().message();
    return got.ok() ? *got : Summary{};
  };
  Summary before = summary();
  EXPECT_EQ(before.repositories, 3);
  EXPECT_EQ(before.totals.counts[Counter::kPulls], 13);
  EXPECT_EQ(before.totals.counts[Counter::kAttachmentPulls], 2);
  EXPECT_EQ(before.totals.times[TimeField::kFirstPushed], 800);
  EXPECT_EQ(before.totals.times[TimeField::kLastPulled], 7000);
  auto all = store.ListRepositories(RepositoryQuery{});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->total, 3);

  ASSERT_TRUE(store
                  .Apply(Batch{{EventEffect{"id-1",
                                            9000,
                                            {RepositoryUpdate{"d", Pull(9000, 5), "", std::nullopt},
                                             RepositoryUpdate{"a", Pull(9000, 5), "", std::nullopt},
                                             RepositoryRemoved{"b"}},
                                            std::nullopt}}},
                         nullptr)
                  .ok());
  Summary after = summary();
  EXPECT_EQ(after.repositories, 3);
  EXPECT_EQ(after.totals.counts[Counter::kPulls], 13 + 5 + 5 - 4);
  EXPECT_EQ(after.totals.times[TimeField::kFirstPushed], 1000);
  EXPECT_EQ(after.totals.times[TimeField::kLastPulled], 9000);
}

}  // namespace drec::testing
