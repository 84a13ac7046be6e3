#include "util/once.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace drec {
namespace {

TEST(OnceTest, OnlyTheFirstCallRunsTheCallback) {
  int runs = 0;
  int seen = 0;
  Once<int> once([&](int value) {
    ++runs;
    seen = value;
  });
  EXPECT_FALSE(once.Called());
  EXPECT_TRUE(once.Call(1));
  EXPECT_FALSE(once.Call(2));
  EXPECT_TRUE(once.Called());
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(seen, 1);
}

TEST(OnceTest, RacingThreadsRunItExactlyOnce) {
  std::atomic<int> runs{0};
  std::atomic<int> winners{0};
  Once<> once([&] { ++runs; });
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (once.Call()) ++winners;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(winners.load(), 1);
}

}  // namespace
}  // namespace drec
