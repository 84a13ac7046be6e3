// The store-neutral tables of drec migrate: they cover every table of the data model with every
// counter and time of model/fields.h (a counter added there is copied with no edit), keys are
// text and lead, a row's shape is checked, and the actors list survives JSON both ways.
#include "store/transfer/record_tables.h"

#include <gtest/gtest.h>

#include <set>

#include "model/fields.h"

namespace drec::transfer {
namespace {

bool HasColumn(const Table& table, std::string_view name, ColumnType type) {
  for (const Column& column : table.columns) {
    if (column.name == name) return column.type == type;
  }
  return false;
}

TEST(RecordTablesTest, EveryTableOfTheDataModel) {
  std::set<std::string> names;
  for (const Table& table : Tables()) names.insert(table.name);
  EXPECT_EQ(names, (std::set<std::string>{"repositories", "tags", "digests", "digest_parents",
                                          "actors", "days", "total_days", "classes", "event_ids"}));
  EXPECT_EQ(TableNamed("tags")->collection, "tags");
  EXPECT_EQ(TableNamed("repositories")->collection, "");
  EXPECT_EQ(TableNamed("nope"), nullptr);
}

TEST(RecordTablesTest, EveryCounterAndTimeIsCopied) {
  for (const char* name : {"repositories", "tags", "digests", "actors", "days", "classes"}) {
    const Table& table = *TableNamed(name);
    for (const auto& counter : kCounterFields) {
      EXPECT_TRUE(HasColumn(table, counter.name, ColumnType::kInt)) << name << counter.name;
    }
    for (const auto& time : kTimeFields) {
      EXPECT_TRUE(HasColumn(table, time.name, ColumnType::kTime)) << name << time.name;
    }
  }
  for (const auto& counter : kCounterFields) {
    EXPECT_TRUE(HasColumn(*TableNamed("total_days"), counter.name, ColumnType::kInt));
  }
  EXPECT_TRUE(HasColumn(*TableNamed("repositories"), "actors", ColumnType::kTextList));
  EXPECT_TRUE(HasColumn(*TableNamed("repositories"), "numstars", ColumnType::kInt));
  EXPECT_TRUE(HasColumn(*TableNamed("repositories"), "observedsince", ColumnType::kTime));
  EXPECT_TRUE(HasColumn(*TableNamed("tags"), "attachment", ColumnType::kBool));
  EXPECT_TRUE(HasColumn(*TableNamed("event_ids"), "applied_at", ColumnType::kTime));
}

TEST(RecordTablesTest, KeysAreLeadingTextColumns) {
  for (const Table& table : Tables()) {
    ASSERT_GE(table.key_size, 1u) << table.name;
    ASSERT_LE(table.key_size, table.columns.size()) << table.name;
    for (std::size_t i = 0; i < table.key_size; ++i) {
      EXPECT_EQ(table.columns[i].type, ColumnType::kText) << table.name;
      EXPECT_FALSE(table.columns[i].nullable) << table.name;
    }
  }
  EXPECT_EQ(TableNamed("classes")->key_size, 4u);
}

TEST(RecordTablesTest, RowFitsChecksTypesAndUnsetValues) {
  const Table& ids = *TableNamed("event_ids");
  EXPECT_TRUE(RowFits(ids, {std::string("id-1"), std::int64_t{5}}));
  EXPECT_FALSE(RowFits(ids, {std::string("id-1"), std::monostate{}})) << "applied_at is required";
  EXPECT_FALSE(RowFits(ids, {std::string("id-1"), std::string("5")}));
  EXPECT_FALSE(RowFits(ids, {std::string("id-1")}));
  EXPECT_EQ(KeyOf(ids, {std::string("id-1"), std::int64_t{5}}), Key{"id-1"});
}

TEST(RecordTablesTest, TextListJsonRoundTrips) {
  const std::vector<std::string> actors = {"ci.bot", R"(robot "x\y",{z})", "été", ""};
  auto back = TextListFromJson(TextListToJson(actors));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, actors);
  EXPECT_EQ(TextListToJson({}), "[]");
  EXPECT_FALSE(TextListFromJson("[1]").ok());
  EXPECT_FALSE(TextListFromJson("{").ok());
}

}  // namespace
}  // namespace drec::transfer
