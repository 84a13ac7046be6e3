// Where each registry's statistics live, which drec, drec migrate and drec backup must agree on:
// the configured file, schema or collection for the default registry, named after the registry
// beside it for the others, and the registries in order without duplicates.
#include "app/open_stores.h"

#include <gtest/gtest.h>

namespace drec {
namespace {

TEST(OpenStoresTest, RegistryStoresAreNamedAfterTheDefaultOne) {
  Settings settings;
  settings.sqlite_path = "/var/lib/drec/drec.db";
  settings.postgresql_schema = "stats";
  settings.mongodb_collection = "registry-stats";
  EXPECT_EQ(SqlitePathOf(settings, "default"), "/var/lib/drec/drec.db");
  EXPECT_EQ(SqlitePathOf(settings, "r28"), "/var/lib/drec/drec@r28.db");
  EXPECT_EQ(PostgresSchemaOf(settings, "default"), "stats");
  EXPECT_EQ(PostgresSchemaOf(settings, "r28"), "stats@r28");
  EXPECT_EQ(MongoCollectionOf(settings, "default"), "registry-stats");
  EXPECT_EQ(MongoCollectionOf(settings, "r28"), "registry-stats@r28");
}

TEST(OpenStoresTest, RegistryNamesStartWithTheDefault) {
  Settings settings;
  settings.registries = {"r28", "default", "r31", "r28"};
  EXPECT_EQ(RegistryNames(settings), (std::vector<std::string>{"default", "r28", "r31"}));
}

TEST(OpenStoresTest, DescriptionHoldsNoUri) {
  Settings settings;
  settings.backend = Backend::kPostgresql;
  settings.postgresql_uri = "postgresql://drec:secret@db/drec";
  EXPECT_EQ(StoreDescription(settings).find("secret"), std::string::npos);
}

}  // namespace
}  // namespace drec
