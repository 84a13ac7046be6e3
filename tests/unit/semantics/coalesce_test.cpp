#include "semantics/coalesce.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace drec {
namespace {

Delta Pulls(std::int64_t n, UnixMillis at) {
  Delta delta;
  delta.counts[Counter::kPulls] = n;
  delta.Pulled(at);
  return delta;
}

Delta Sum(Delta a, const Delta& b) {
  a += b;
  return a;
}

EventEffect Effect(const std::string& id, std::vector<Operation> operations) {
  return EventEffect{id, 0, std::move(operations)};
}

TEST(CoalesceTest, UpdatesOfOneRecordMergeIntoTheFirst) {
  const std::vector<Operation> coalesced = CoalesceEffects({
      Effect("1", {RepositoryUpdate{"app", Pulls(1, 30), "alice", 500},
                   DayUpdate{"app", "2026-12-01", Pulls(1, 30)}}),
      Effect("2", {RepositoryUpdate{"app", Pulls(2, 10), "alice", 400},
                   DayUpdate{"app", "2026-12-01", Pulls(2, 10)}}),
  });
  const Delta both = Sum(Pulls(1, 30), Pulls(2, 10));
  ASSERT_EQ(both.counts[Counter::kPulls], 3);
  EXPECT_EQ(coalesced, (std::vector<Operation>{RepositoryUpdate{"app", both, "alice", 400},
                                               DayUpdate{"app", "2026-12-01", both}}));
}

TEST(CoalesceTest, DifferentRecordsStayApartInTheOrderFirstSeen) {
  const std::vector<Operation> coalesced = CoalesceEffects({
      Effect("1", {RepositoryUpdate{"app", Pulls(1, 1), "bob", std::nullopt},
                   TagUpdate{"app", "v1", Pulls(1, 1)}}),
      Effect("2", {RepositoryUpdate{"app", Pulls(1, 2), "alice", std::nullopt},
                   TagUpdate{"app", "v2", Pulls(1, 2)}, TagUpdate{"db", "v1", Pulls(1, 2)}}),
  });
  // The repository's actor list keeps first-seen order: bob's update stays first.
  EXPECT_EQ(coalesced,
            (std::vector<Operation>{RepositoryUpdate{"app", Pulls(1, 1), "bob", std::nullopt},
                                    TagUpdate{"app", "v1", Pulls(1, 1)},
                                    RepositoryUpdate{"app", Pulls(1, 2), "alice", std::nullopt},
                                    TagUpdate{"app", "v2", Pulls(1, 2)},
                                    TagUpdate{"db", "v1", Pulls(1, 2)}}));
}

TEST(CoalesceTest, TheLastKnownMediaTypeAndSizeWin) {
  const std::vector<Operation> coalesced = CoalesceEffects({
      Effect("1", {DigestUpdate{"app", "sha256:aa", "index", 10, Pulls(1, 1)}}),
      Effect("2", {DigestUpdate{"app", "sha256:aa", "manifest", 0, Pulls(1, 2)}}),
      Effect("3", {DigestUpdate{"app", "sha256:aa", "", 0, Pulls(1, 3)}}),
  });
  const Delta all = Sum(Sum(Pulls(1, 1), Pulls(1, 2)), Pulls(1, 3));
  EXPECT_EQ(all.times[TimeField::kLastPulled], 3);
  EXPECT_EQ(coalesced,
            (std::vector<Operation>{DigestUpdate{"app", "sha256:aa", "manifest", 10, all}}));
}

TEST(CoalesceTest, OtherOperationsKeepTheirOrderAndNumber) {
  const std::vector<Operation> input = {
      TagPointsAt{"app", "v1", "sha256:aa", 5, false},
      TagsByDigestUpdate{"app", "sha256:aa", Pulls(1, 5)},
      TagPointsAt{"app", "v1", "sha256:aa", 5, false},
      TagsByDigestUpdate{"app", "sha256:aa", Pulls(1, 5)},
      DigestDeleted{"app", "sha256:aa", 6},
      TagDeleted{"app", "v1", 6},
      DigestParent{"app", "sha256:aa", "sha256:bb"},
      RepositoryDeleted{"app", 7},
  };
  EXPECT_EQ(CoalesceEffects({Effect("1", input)}), input);
}

TEST(CoalesceTest, UpdatesNeverMergeAcrossARemovalOfTheirRepository) {
  const std::vector<Operation> coalesced = CoalesceEffects({
      Effect("1", {RepositoryUpdate{"app", Pulls(1, 1), "", std::nullopt},
                   RepositoryUpdate{"db", Pulls(1, 1), "", std::nullopt}}),
      Effect("2", {RepositoryRemoved{"app"}}),
      Effect("3", {RepositoryUpdate{"app", Pulls(1, 2), "", std::nullopt},
                   RepositoryUpdate{"db", Pulls(1, 2), "", std::nullopt}}),
      Effect("4", {RepositoryUpdate{"app", Pulls(1, 3), "", std::nullopt}}),
  });
  EXPECT_EQ(coalesced,
            (std::vector<Operation>{
                RepositoryUpdate{"app", Pulls(1, 1), "", std::nullopt},
                RepositoryUpdate{"db", Sum(Pulls(1, 1), Pulls(1, 2)), "", std::nullopt},
                RepositoryRemoved{"app"},
                RepositoryUpdate{"app", Sum(Pulls(1, 2), Pulls(1, 3)), "", std::nullopt}}));
}

TEST(CoalesceTest, RegistriesKeepTheirRecordsApart) {
  EventEffect eu = Effect("1", {TagUpdate{"app", "v1", Pulls(1, 1)}});
  eu.registry = "eu";
  EventEffect us = Effect("2", {TagUpdate{"app", "v1", Pulls(1, 1)}});
  us.registry = "us";
  EXPECT_EQ(CoalesceEffects({eu, us}).size(), 2U);
}

}  // namespace
}  // namespace drec
