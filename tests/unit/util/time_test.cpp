#include "util/time.h"

#include <gtest/gtest.h>

namespace drec {
namespace {

TEST(TimeTest, ParsesUtcWithNanoseconds) {
  auto t = ParseRfc3339("2026-11-27T02:24:26.171909475Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(FormatRfc3339(*t), "2026-11-27T02:24:26.171Z");
}

TEST(TimeTest, AppliesOffsets) {
  auto plus = ParseRfc3339("2026-11-27T04:24:26.5+02:00");
  auto minus = ParseRfc3339("2026-11-26T21:24:26.500-05:00");
  ASSERT_TRUE(plus && minus);
  EXPECT_EQ(FormatRfc3339(*plus), "2026-11-27T02:24:26.500Z");
  EXPECT_EQ(*plus, *minus);
}

TEST(TimeTest, OffsetCanMoveTheDay) {
  auto t = ParseRfc3339("2026-01-01T00:30:00+01:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(UtcDay(*t), "2025-12-31");
}

TEST(TimeTest, NoFractionAndLeapDay) {
  auto t = ParseRfc3339("2024-02-29T23:59:59Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(FormatRfc3339(*t), "2024-02-29T23:59:59.000Z");
  EXPECT_EQ(*t, 1709251199000);
}

TEST(TimeTest, RejectsMalformed) {
  for (const char* bad : {"", "2026-11-27", "2026-11-27T02:24:26", "2026-13-01T00:00:00Z",
                          "2023-02-29T00:00:00Z", "2026-11-27T25:00:00Z", "2026-11-27T02:24:26.Z",
                          "2026-11-27T02:24:26Zjunk", "2026-11-27T02:24:26+0200", "yesterday"}) {
    EXPECT_FALSE(ParseRfc3339(bad)) << bad;
  }
}

TEST(TimeTest, StartOfUtcDayFloorsEvenBeforeTheEpoch) {
  EXPECT_EQ(StartOfUtcDay(*ParseRfc3339("2026-11-27T23:59:59.999Z")), *ParseDay("2026-11-27"));
  EXPECT_EQ(StartOfUtcDay(*ParseDay("2026-11-27")), *ParseDay("2026-11-27"));
  EXPECT_EQ(StartOfUtcDay(-1), -kDayMillis);
}

TEST(TimeTest, DaysRoundTrip) {
  auto day = ParseDay("1999-12-31");
  ASSERT_TRUE(day);
  EXPECT_EQ(UtcDay(*day), "1999-12-31");
  EXPECT_EQ(UtcDay(*day + kDayMillis - 1), "1999-12-31");
  EXPECT_EQ(UtcDay(*day + kDayMillis), "2000-01-01");
  EXPECT_FALSE(ParseDay("1999-12-32"));
  EXPECT_FALSE(ParseDay("99-12-31"));
}

}  // namespace
}  // namespace drec
