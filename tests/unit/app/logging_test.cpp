#include "app/logging.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>

namespace drec {
namespace {

std::string Format(LogFormat format, std::string_view message) {
  spdlog::details::log_msg msg("drec", spdlog::level::warn, message);
  spdlog::memory_buf_t out;
  MakeLogFormatter(format)->format(msg, out);
  return std::string(out.data(), out.size());
}

TEST(LoggingTest, JsonLinesStayValidWhateverTheMessageHolds) {
  const std::string message = "bad body \"x\\y\"\n\tfrom\x01 registry";
  const std::string line = Format(LogFormat::kJson, message);
  ASSERT_EQ(line.back(), '\n');
  const auto object = boost::json::parse(line).as_object();
  EXPECT_EQ(object.at("message").as_string(), message);
  EXPECT_EQ(object.at("level").as_string(), "warning");
  EXPECT_EQ(object.at("time").as_string().size(), 24u);  // 2026-11-27T02:24:26.171Z
}

TEST(LoggingTest, TextLinesCarryTimeLevelAndMessage) {
  const std::string line = Format(LogFormat::kText, "hello");
  EXPECT_EQ(line.size(), 24u + std::string(" warning hello\n").size());
  EXPECT_EQ(line.substr(24), " warning hello\n");
  EXPECT_EQ(line[23], 'Z');
}

}  // namespace
}  // namespace drec
