#include "util/deadlines.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <thread>

namespace drec {
namespace {

TEST(DeadlinesTest, RunsACallbackAfterItsDelay) {
  Deadlines deadlines;
  std::promise<std::chrono::steady_clock::time_point> fired;
  const auto start = std::chrono::steady_clock::now();
  deadlines.After(
      std::chrono::milliseconds(30), [] { return false; },
      [&fired] { fired.set_value(std::chrono::steady_clock::now()); });
  auto future = fired.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_GE(future.get() - start, std::chrono::milliseconds(30));
}

TEST(DeadlinesTest, CallbacksNotYetDueNeverRunAfterDestruction) {
  bool ran = false;
  {
    Deadlines deadlines;
    deadlines.After(
        std::chrono::hours(1), [] { return false; }, [&ran] { ran = true; });
  }
  EXPECT_FALSE(ran);
}

// What a deadline holds is let go once its work settles, not when the deadline would have come:
// replies at thousands a second with a deadline of seconds must not pile up in memory.
TEST(DeadlinesTest, SettledDeadlinesAreDroppedAndNeverRun) {
  Deadlines deadlines;
  std::atomic<bool> settled{false};
  std::atomic<int> ran{0};
  auto held = std::make_shared<int>(0);
  for (int i = 0; i < 1000; ++i) {
    deadlines.After(
        std::chrono::hours(1), [&settled] { return settled.load(); },
        [&ran, held] { ran.fetch_add(1); });
  }
  EXPECT_EQ(deadlines.waiting(), 1000U);
  EXPECT_EQ(held.use_count(), 1001);
  settled = true;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (deadlines.waiting() > 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::yield();
  }
  EXPECT_EQ(deadlines.waiting(), 0U);
  EXPECT_EQ(held.use_count(), 1);
  EXPECT_EQ(ran.load(), 0);
}

TEST(DeadlinesTest, AnEarlierDeadlineAddedLaterStillRunsFirst) {
  Deadlines deadlines;
  std::promise<int> first;
  deadlines.After(
      std::chrono::hours(1), [] { return false; }, [&first] { first.set_value(1); });
  deadlines.After(
      std::chrono::milliseconds(10), [] { return false; }, [&first] { first.set_value(2); });
  auto future = first.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(future.get(), 2);
}

}  // namespace
}  // namespace drec
