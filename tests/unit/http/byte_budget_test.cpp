#include "http/byte_budget.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace drec {
namespace {

TEST(ByteBudget, ReservesUpToTheCapacityAndNoMore) {
  ByteBudget budget(100);
  ByteBudget::Reservation a;
  ByteBudget::Reservation b;
  ByteBudget::Reservation c;
  EXPECT_TRUE(budget.TryReserve(60, a));
  EXPECT_TRUE(budget.TryReserve(40, b));
  EXPECT_EQ(budget.used(), 100);
  EXPECT_FALSE(budget.TryReserve(1, c));
  EXPECT_EQ(c.bytes(), 0);
  EXPECT_EQ(budget.used(), 100);
  // A request without a body needs no budget, even when it is spent.
  EXPECT_TRUE(budget.TryReserve(0, c));
}

TEST(ByteBudget, ReleasesOnResetDestructionAndMove) {
  ByteBudget budget(100);
  {
    ByteBudget::Reservation a;
    ASSERT_TRUE(budget.TryReserve(70, a));
    ByteBudget::Reservation moved = std::move(a);
    // A moved-from reservation holds nothing.
    // NOLINTNEXTLINE(bugprone-use-after-move,clang-analyzer-cplusplus.Move)
    EXPECT_EQ(a.bytes(), 0);
    EXPECT_EQ(budget.used(), 70);
    moved.Reset();
    EXPECT_EQ(budget.used(), 0);
    ASSERT_TRUE(budget.TryReserve(100, moved));
  }
  EXPECT_EQ(budget.used(), 0);
  ByteBudget::Reservation r;
  ASSERT_TRUE(budget.TryReserve(30, r));
  // Reserving into a held reservation gives its bytes back first.
  ASSERT_TRUE(budget.TryReserve(100, r));
  EXPECT_EQ(budget.used(), 100);
}

TEST(ByteBudget, NeverExceedsTheCapacityUnderContention) {
  ByteBudget budget(1000);
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::atomic<bool> exceeded{false};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        ByteBudget::Reservation r;
        if (budget.TryReserve(300, r) && budget.used() > 1000) exceeded = true;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(exceeded.load());
  EXPECT_EQ(budget.used(), 0);
}

}  // namespace
}  // namespace drec
