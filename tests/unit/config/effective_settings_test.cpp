#include "config/effective_settings.h"

#include <gtest/gtest.h>

namespace drec::config {
namespace {

TEST(RedactUriTest, HidesPasswordsOnly) {
  EXPECT_EQ(RedactUri("postgresql://drec:s3cret@db1:5432,db2:5432/drec?sslmode=require"),
            "postgresql://drec:***@db1:5432,db2:5432/drec?sslmode=require");
  EXPECT_EQ(RedactUri("mongodb://user:p%40ss@mongo/?authSource=admin"),
            "mongodb://user:***@mongo/?authSource=admin");
  EXPECT_EQ(RedactUri("postgresql://db/drec?user=drec&password=s3cret&sslmode=verify-full"),
            "postgresql://db/drec?user=drec&password=***&sslmode=verify-full");
  EXPECT_EQ(RedactUri("postgresql://drec@db/drec"), "postgresql://drec@db/drec");
  EXPECT_EQ(RedactUri("postgresql://db/drec?application_password=x"),
            "postgresql://db/drec?application_password=x");
  EXPECT_EQ(RedactUri(""), "");
}

TEST(ChangedSettingsTest, NamesWhatDiffers) {
  Settings before;
  Settings after = before;
  EXPECT_TRUE(ChangedSettings(before, after).empty());
  after.tokens = {"new"};
  after.port = 9443;
  after.postgresql_uri = "postgresql://drec:changed@db/drec";
  EXPECT_EQ(ChangedSettings(before, after),
            (std::vector<std::string>{"server.port", "auth.tokens", "storage.postgresql.uri"}));
}

}  // namespace
}  // namespace drec::config
