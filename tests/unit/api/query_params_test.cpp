#include "api/query_params.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/url/parse.hpp>

namespace drec {
namespace {

const UnixMillis kToday = *ParseDay("2026-11-27");

Result<RepositoryListParams> Parse(std::string_view target) {
  auto url = boost::urls::parse_origin_form(target);
  EXPECT_TRUE(url.has_value()) << target;
  return ParseRepositoryListParams(url->params(), kToday);
}

TEST(QueryParamsTest, EveryTableFieldIsASortKeyBothWays) {
  for (const auto& field : kCounterFields) {
    RepositoryQuery query;
    ASSERT_TRUE(ParseSort(fmt::format("-{}", field.name), &query).ok()) << field.name;
    EXPECT_EQ(query.sort.kind, SortKey::Kind::kCounter);
    EXPECT_EQ(query.sort.counter, field.counter);
    EXPECT_TRUE(query.descending);
  }
  for (const auto& field : kTimeFields) {
    RepositoryQuery query;
    ASSERT_TRUE(ParseSort(field.name, &query).ok()) << field.name;
    EXPECT_EQ(query.sort.kind, SortKey::Kind::kTime);
    EXPECT_EQ(query.sort.time, field.field);
    EXPECT_FALSE(query.descending);
  }
}

TEST(QueryParamsTest, UnknownSortFieldsAreRejectedByNameBeforeAnyStore) {
  for (std::string_view bad : {"numpulls; DROP TABLE repositories", "actors", "numstars", "",
                               "--numpulls", "window.repositoryname", "window."}) {
    RepositoryQuery query;
    const Status status = ParseSort(bad, &query);
    ASSERT_FALSE(status.ok()) << bad;
    EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
    const std::string_view shown = bad.starts_with('-') ? bad.substr(1) : bad;
    EXPECT_NE(status.message().find(shown), std::string::npos) << status.message();
  }
}

TEST(QueryParamsTest, AWindowSortNeedsAWindowAndAWindowStartsNMinusOneDaysAgo) {
  auto without = Parse("/?sort=-window.numpulls");
  ASSERT_FALSE(without.ok());
  EXPECT_NE(without.status().message().find("window"), std::string::npos);

  auto with = Parse("/?sort=-window.numpulls&window=7d");
  ASSERT_TRUE(with.ok()) << with.status().message();
  EXPECT_EQ(with->query.sort.kind, SortKey::Kind::kWindowCounter);
  EXPECT_EQ(with->query.window_from_day, UtcDay(kToday - 6 * kDayMillis));
  EXPECT_EQ(with->window_days, 7);
}

TEST(QueryParamsTest, FiltersAndPagingBecomeTypedValues) {
  auto params = Parse(
      "/?prefix=team/&actor=amy&offset=20&limit=10&not_pulled_since=30d"
      "&pushed_after=2026-11-01&format=csv");
  ASSERT_TRUE(params.ok()) << params.status().message();
  EXPECT_EQ(params->query.name_prefix, "team/");
  EXPECT_EQ(params->query.actor, "amy");
  EXPECT_EQ(params->query.offset, 20);
  EXPECT_EQ(params->query.limit, 10);
  EXPECT_EQ(params->query.pulled_before, kToday - 29 * kDayMillis);
  EXPECT_EQ(params->query.pushed_after, ParseDay("2026-11-01"));
  EXPECT_TRUE(params->csv);
}

TEST(QueryParamsTest, OutOfRangeValuesNameTheirParameter) {
  for (auto [target, name] : std::initializer_list<std::pair<std::string_view, std::string_view>>{
           {"/?limit=0", "limit"},
           {"/?limit=1001", "limit"},
           {"/?offset=-1", "offset"},
           {"/?window=0d", "window"},
           {"/?window=99999d", "window"},
           {"/?pulled_before=yesterday", "pulled_before"},
           {"/?format=xml", "format"},
           {"/?bogus=1", "bogus"}}) {
    auto params = Parse(target);
    ASSERT_FALSE(params.ok()) << target;
    EXPECT_NE(params.status().message().find(name), std::string::npos) << params.status().message();
  }
}

TEST(QueryParamsTest, DayRangeDefaultsToThirtyDaysEndingToday) {
  auto url = boost::urls::parse_origin_form("/");
  auto range = ParseDayRange(url->params(), kToday);
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->to, kToday);
  EXPECT_EQ(range->from, kToday - 29 * kDayMillis);
  auto reversed = boost::urls::parse_origin_form("/?from=2026-11-27&to=2026-11-01");
  EXPECT_FALSE(ParseDayRange(reversed->params(), kToday).ok());
}

}  // namespace
}  // namespace drec
