#include "retention/executor.h"

#include <gtest/gtest.h>

namespace drec::retention {
namespace {

const Deletion kDeletion{"app", "sha256:old", {"a", "b"}, "rule", "reason"};

TEST(ChangedSincePlanTest, ADeletionStillMatchingTheRegistryGoesAhead) {
  EXPECT_EQ(ChangedSincePlan(kDeletion,
                             {{"a", "sha256:old"}, {"b", "sha256:old"}, {"c", "sha256:other"}}),
            "");
  // A planned tag already gone: the digest may still go.
  EXPECT_EQ(ChangedSincePlan(kDeletion, {{"a", "sha256:old"}}), "");
}

TEST(ChangedSincePlanTest, AMovedTagOrANewTagOnTheDigestStopsTheDeletion) {
  const std::string moved = ChangedSincePlan(kDeletion, {{"a", "sha256:new"}, {"b", "sha256:old"}});
  EXPECT_NE(moved.find("tag a now points at sha256:new"), std::string::npos) << moved;
  const std::string gained =
      ChangedSincePlan(kDeletion, {{"a", "sha256:old"}, {"b", "sha256:old"}, {"c", "sha256:old"}});
  EXPECT_NE(gained.find("tag c now points at sha256:old too"), std::string::npos) << gained;
  const Deletion untagged{"app", "sha256:loose", {}, "rule", "reason"};
  EXPECT_NE(ChangedSincePlan(untagged, {{"v1", "sha256:loose"}}), "");
}

}  // namespace
}  // namespace drec::retention
