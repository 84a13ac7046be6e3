#include "util/text_parse.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace drec {
namespace {

TEST(TextParseTest, TrimRemovesWhiteSpaceAtBothEnds) {
  EXPECT_EQ(Trim(" \t a b\r\n"), "a b");
  EXPECT_EQ(Trim("\v\f"), "");
  EXPECT_EQ(Trim(""), "");
  EXPECT_EQ(Trim("x"), "x");
}

TEST(TextParseTest, AsciiLowerChangesOnlyAsciiLetters) {
  EXPECT_EQ(AsciiLower("MongoDB-1_\u00c9"), "mongodb-1_\u00c9");
}

TEST(TextParseTest, ParseIntTakesTheWholeText) {
  EXPECT_EQ(ParseInt("0"), 0);
  EXPECT_EQ(ParseInt("8443"), 8443);
  EXPECT_EQ(ParseInt("-12"), -12);
  EXPECT_EQ(ParseInt("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(ParseInt(""), std::nullopt);
  EXPECT_EQ(ParseInt("+1"), std::nullopt);
  EXPECT_EQ(ParseInt(" 1"), std::nullopt);
  EXPECT_EQ(ParseInt("1 "), std::nullopt);
  EXPECT_EQ(ParseInt("1.5"), std::nullopt);
  EXPECT_EQ(ParseInt("12abc"), std::nullopt);
  EXPECT_EQ(ParseInt("9223372036854775808"), std::nullopt);
}

TEST(TextParseTest, ParseIntInRangeIncludesBothEnds) {
  EXPECT_EQ(ParseIntInRange("1", 1, 65535), 1);
  EXPECT_EQ(ParseIntInRange("65535", 1, 65535), 65535);
  EXPECT_EQ(ParseIntInRange("0", 1, 65535), std::nullopt);
  EXPECT_EQ(ParseIntInRange("65536", 1, 65535), std::nullopt);
  EXPECT_EQ(ParseIntInRange("port", 1, 65535), std::nullopt);
}

TEST(TextParseTest, ParseDaysReadsAPositiveNumberOfDays) {
  EXPECT_EQ(ParseDays("30d"), 30);
  EXPECT_EQ(ParseDays("1d"), 1);
  EXPECT_EQ(ParseDays("0d"), std::nullopt);
  EXPECT_EQ(ParseDays("-3d"), std::nullopt);
  EXPECT_EQ(ParseDays("d"), std::nullopt);
  EXPECT_EQ(ParseDays("30"), std::nullopt);
  EXPECT_EQ(ParseDays("30D"), std::nullopt);
  EXPECT_EQ(ParseDays("30 d"), std::nullopt);
  EXPECT_EQ(ParseDays("1.5d"), std::nullopt);
}

std::optional<double> Nanos(std::string_view text) {
  const auto duration = ParseGoDuration(text);
  if (!duration) return std::nullopt;
  return duration->count();
}

TEST(TextParseTest, ParseGoDurationReadsGoSyntax) {
  EXPECT_EQ(Nanos("10s"), 10e9);
  EXPECT_EQ(Nanos("300ms"), 300e6);
  EXPECT_EQ(Nanos("1m30s"), 90e9);
  EXPECT_EQ(Nanos("1.5h"), 5400e9);
  EXPECT_EQ(Nanos(".5s"), 0.5e9);
  EXPECT_EQ(Nanos("2us"), 2e3);
  EXPECT_EQ(Nanos("2\u00b5s"), 2e3);
  EXPECT_EQ(Nanos("7ns"), 7);
  EXPECT_EQ(Nanos("0s"), 0);
}

TEST(TextParseTest, ParseGoDurationRefusesWhatGoRefuses) {
  EXPECT_EQ(Nanos(""), std::nullopt);
  EXPECT_EQ(Nanos("10"), std::nullopt);  // a unit is required
  EXPECT_EQ(Nanos("s"), std::nullopt);   // so is a number
  EXPECT_EQ(Nanos("."), std::nullopt);
  EXPECT_EQ(Nanos("3d"), std::nullopt);  // Go has no days
  EXPECT_EQ(Nanos("1x"), std::nullopt);
  EXPECT_EQ(Nanos(" 1s"), std::nullopt);  // the caller trims
}

TEST(TextParseTest, ParseBoolKnowsThreeSpellingsAnyCase) {
  for (const char* yes : {"true", "TRUE", "Yes", "1"}) EXPECT_EQ(ParseBool(yes), true) << yes;
  for (const char* no : {"false", "False", "NO", "0"}) EXPECT_EQ(ParseBool(no), false) << no;
  for (const char* neither : {"", "on", "2", "y", " true"}) {
    EXPECT_EQ(ParseBool(neither), std::nullopt) << neither;
  }
}

TEST(TextParseTest, SplitListTrimsItemsAndKeepsEmptyOnes) {
  using Items = std::vector<std::string>;
  EXPECT_EQ(SplitList("a, b,c"), (Items{"a", "b", "c"}));
  EXPECT_EQ(SplitList("one"), (Items{"one"}));
  EXPECT_EQ(SplitList("  "), Items{});
  EXPECT_EQ(SplitList(""), Items{});
  EXPECT_EQ(SplitList("a,,b,"), (Items{"a", "", "b", ""}));
}

TEST(TextParseTest, JoinPutsTheSeparatorBetweenItems) {
  EXPECT_EQ(Join({"a", "b", "c"}, ", "), "a, b, c");
  EXPECT_EQ(Join({"x"}, "|"), "x");
  EXPECT_EQ(Join({}, ","), "");
}

}  // namespace
}  // namespace drec
