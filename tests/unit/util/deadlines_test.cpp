#include "util/deadlines.h"

#include <gtest/gtest.h>

#include <future>

namespace drec {
namespace {

TEST(DeadlinesTest, RunsACallbackAfterItsDelay) {
  Deadlines deadlines;
  std::promise<std::chrono::steady_clock::time_point> fired;
  const auto start = std::chrono::steady_clock::now();
  deadlines.After(std::chrono::milliseconds(30),
                  [&fired] { fired.set_value(std::chrono::steady_clock::now()); });
  auto future = fired.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_GE(future.get() - start, std::chrono::milliseconds(30));
}

TEST(DeadlinesTest, CallbacksNotYetDueNeverRunAfterDestruction) {
  bool ran = false;
  {
    Deadlines deadlines;
    deadlines.After(std::chrono::hours(1), [&ran] { ran = true; });
  }
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace drec
