#include "metrics/mongodb_commands.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "metrics/metrics.h"
#include "store/mongo/mongo_driver.h"

namespace drec {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MongoDbCommandsTest, CountsByCommandAndRoleAndRendersOnMetrics) {
  const std::int64_t before = MongoDbCommands("update", "tags");
  CountMongoDbCommand("update", "tags");
  CountMongoDbCommand("update", "tags");
  EXPECT_EQ(MongoDbCommands("update", "tags"), before + 2);
  EXPECT_THAT(Metrics().Render(),
              HasSubstr(fmt::format(
                  "\ndrec_mongodb_commands_total{{command=\"update\",collection=\"tags\"}} {}\n",
                  before + 2)));
  EXPECT_THAT(Metrics().Render(), HasSubstr("# TYPE drec_mongodb_commands_total counter\n"));
}

TEST(MongoDbCommandsTest, NamesOutsideTheVocabularyCountAsOther) {
  const std::int64_t before = MongoDbCommands("other", "other");
  CountMongoDbCommand("bulkWrite", "team/app");  // never a name from the data as a label
  EXPECT_EQ(MongoDbCommands("other", "other"), before + 1);
  EXPECT_THAT(RenderMongoDbCommandMetrics(), Not(HasSubstr("team/app")));
}

TEST(MongoDbCommandsTest, CollectionsAreNamedByTheirRoleInTheCollectionSet) {
  using mongo::CollectionRole;
  EXPECT_EQ(CollectionRole("registry-stats", "registry-stats"), "repositories");
  EXPECT_EQ(CollectionRole("registry-stats.tags", "registry-stats"), "tags");
  EXPECT_EQ(CollectionRole("registry-stats.eventids", "registry-stats"), "eventids");
  EXPECT_EQ(CollectionRole("", "registry-stats"), "none");
  EXPECT_EQ(CollectionRole("elsewhere", "registry-stats"), "other");
  EXPECT_EQ(CollectionRole("registry-statsx", "registry-stats"), "other");
}

}  // namespace
}  // namespace drec
