#include "api/csv.h"

#include <gtest/gtest.h>

namespace drec {
namespace {

TEST(CsvCellTest, PlainTextStaysAsItIs) {
  EXPECT_EQ(CsvCell("team/app"), "team/app");
  EXPECT_EQ(CsvCell(""), "");
  EXPECT_EQ(CsvCell("a=b+c-d@e"), "a=b+c-d@e");  // only the first character matters
}

TEST(CsvCellTest, SeparatorsQuotesAndLineBreaksAreQuoted) {
  EXPECT_EQ(CsvCell("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvCell("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvCell("a\nb"), "\"a\nb\"");
}

TEST(CsvCellTest, FormulaLikeCellsBecomeText) {
  EXPECT_EQ(CsvCell("=1+1"), "'=1+1");
  EXPECT_EQ(CsvCell("+1"), "'+1");
  EXPECT_EQ(CsvCell("-1"), "'-1");
  EXPECT_EQ(CsvCell("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(CsvCell("\tx"), "'\tx");
  // The apostrophe goes inside the quotes, where a spreadsheet still reads it as text.
  EXPECT_EQ(CsvCell("\rx"), "\"'\rx\"");
  EXPECT_EQ(CsvCell("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
}

}  // namespace
}  // namespace drec
