#include "pipeline/readiness.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>

namespace drec {
namespace {

// Bounds every wait, so a regression fails instead of hanging.
constexpr auto kBound = std::chrono::seconds(10);

// A store check that blocks, as a Ping on a frozen file system does, until released.
class BlockingCheck {
 public:
  Status operator()() {
    ++calls;
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return released_; });
    return result;
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

  std::atomic<int> calls{0};
  Status result = Status::Ok();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
};

// Probes once and waits (bounded) for the answer.
Status ProbeAndWait(Readiness& readiness) {
  auto answer = std::make_shared<std::promise<Status>>();
  auto future = answer->get_future();
  readiness.Probe([answer](Status s) { answer->set_value(std::move(s)); });
  if (future.wait_for(kBound) != std::future_status::ready) {
    return Status::Internal("no answer within the bound");
  }
  return future.get();
}

TEST(ReadinessTest, ReadyWhenTheCheckPassesAndCommitsAreHealthy) {
  Metrics metrics;
  Readiness readiness([] { return Status::Ok(); }, [] { return Committer::Health{}; }, metrics, {});
  EXPECT_TRUE(ProbeAndWait(readiness).ok());
  EXPECT_NE(metrics.Render().find("drec_ready 1\n"), std::string::npos);
}

TEST(ReadinessTest, AFailedLastCommitIsNotReadyWithoutAskingTheStore) {
  Metrics metrics;
  std::atomic<int> checks{0};
  Readiness readiness(
      [&checks] {
        ++checks;
        return Status::Ok();
      },
      [] {
        return Committer::Health{
            .running_since = std::nullopt, .last_failed = true, .last_error = "disk full"};
      },
      metrics, {});
  const Status status = ProbeAndWait(readiness);
  EXPECT_EQ(status.code(), Status::Code::kUnavailable);
  EXPECT_NE(status.message().find("disk full"), std::string::npos);
  EXPECT_EQ(checks.load(), 0);
  EXPECT_NE(metrics.Render().find("drec_ready 0\n"), std::string::npos);
}

TEST(ReadinessTest, ACommitRunningLongerThanTheBoundIsNotReady) {
  Metrics metrics;
  const auto started = std::chrono::steady_clock::now() - std::chrono::seconds(2);
  Readiness readiness([] { return Status::Ok(); },
                      [started] {
                        return Committer::Health{
                            .running_since = started, .last_failed = false, .last_error = {}};
                      },
                      metrics, {.commit_timeout = std::chrono::milliseconds(1'000)});
  const Status status = ProbeAndWait(readiness);
  EXPECT_EQ(status.code(), Status::Code::kUnavailable);
  EXPECT_NE(status.message().find("a commit has been running"), std::string::npos);
}

TEST(ReadinessTest, AFailingCheckIsNotReady) {
  Metrics metrics;
  Readiness readiness([] { return Status::Unavailable("connection refused"); },
                      [] { return Committer::Health{}; }, metrics, {});
  const Status status = ProbeAndWait(readiness);
  EXPECT_EQ(status.code(), Status::Code::kUnavailable);
  EXPECT_NE(status.message().find("connection refused"), std::string::npos);
}

TEST(ReadinessTest, AStuckCheckAnswers503InTimeAndIsNeverMultiplied) {
  Metrics metrics;
  BlockingCheck check;
  Readiness readiness([&check] { return check(); }, [] { return Committer::Health{}; }, metrics,
                      {.check_timeout = std::chrono::milliseconds(50)});
  const auto start = std::chrono::steady_clock::now();
  const Status first = ProbeAndWait(readiness);
  EXPECT_EQ(first.code(), Status::Code::kUnavailable);
  EXPECT_NE(first.message().find("did not return within 50 ms"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // More probes while the check is stuck: answered at once, the store is not asked again.
  for (int i = 0; i < 5; ++i) {
    const Status again = ProbeAndWait(readiness);
    EXPECT_EQ(again.code(), Status::Code::kUnavailable);
    EXPECT_NE(again.message().find("has not returned for"), std::string::npos);
  }
  EXPECT_EQ(check.calls.load(), 1);
  check.Release();
  // Once the check returns, the next probe starts a new one and is ready.
  const auto deadline = std::chrono::steady_clock::now() + kBound;
  Status later = ProbeAndWait(readiness);
  while (!later.ok() && std::chrono::steady_clock::now() < deadline) {
    later = ProbeAndWait(readiness);
  }
  EXPECT_TRUE(later.ok()) << later.message();
  EXPECT_EQ(check.calls.load(), 2);
}

TEST(ReadinessTest, ProbesDuringACheckShareItsResult) {
  Metrics metrics;
  BlockingCheck check;
  Readiness readiness([&check] { return check(); }, [] { return Committer::Health{}; }, metrics,
                      {.check_timeout = std::chrono::milliseconds(60'000)});
  std::vector<std::future<Status>> answers;
  for (int i = 0; i < 3; ++i) {
    auto answer = std::make_shared<std::promise<Status>>();
    answers.push_back(answer->get_future());
    readiness.Probe([answer](Status s) { answer->set_value(std::move(s)); });
  }
  check.Release();
  for (auto& answer : answers) {
    ASSERT_EQ(answer.wait_for(kBound), std::future_status::ready);
    EXPECT_TRUE(answer.get().ok());
  }
  EXPECT_EQ(check.calls.load(), 1);
}

}  // namespace
}  // namespace drec
