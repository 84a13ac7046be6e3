#include "pipeline/committer.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

namespace drec {
namespace {

// Records the batches it is given; can hold the first Apply to let a queue build up.
class RecordingStore : public StoreWriter {
 public:
  Status Apply(const Batch& batch, ApplyOutcome* outcome) override {
    std::unique_lock lock(mu_);
    entered_ = true;
    entered_cv_.notify_all();
    release_cv_.wait(lock, [this] { return released_; });
    batch_sizes.push_back(batch.effects.size());
    if (fail) return Status::Unavailable("down");
    outcome->applied = static_cast<std::int64_t>(batch.effects.size());
    return Status::Ok();
  }
  void WaitEntered() {
    std::unique_lock lock(mu_);
    entered_cv_.wait(lock, [this] { return entered_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    release_cv_.notify_all();
  }
  Status Ping() override { return Status::Ok(); }
  Status PruneEventIds(UnixMillis) override {
    ++prunes;
    return Status::Ok();
  }

  std::vector<size_t> batch_sizes;
  std::atomic<bool> fail{false};
  int prunes = 0;

 private:
  std::mutex mu_;
  std::condition_variable entered_cv_, release_cv_;
  bool entered_ = false, released_ = false;
};

std::vector<EventEffect> Effects(int n) {
  std::vector<EventEffect> effects;
  for (int i = 0; i < n; ++i) effects.push_back({fmt::format("id{}", i), 0, {}});
  return effects;
}

TEST(CommitterTest, RequestsWaitingDuringACommitShareTheNextOne) {
  RecordingStore store;
  Metrics metrics;
  Committer committer(store, metrics, {});
  std::promise<Status> first;
  ASSERT_TRUE(committer.Submit(Effects(1), [&](Status s) { first.set_value(s); }).ok());
  store.WaitEntered();  // the first commit is running; the next three queue behind it
  std::vector<std::promise<Status>> later(3);
  for (auto& p : later) {
    ASSERT_TRUE(committer.Submit(Effects(2), [&p](Status s) { p.set_value(s); }).ok());
  }
  store.Release();
  EXPECT_TRUE(first.get_future().get().ok());
  for (auto& p : later) EXPECT_TRUE(p.get_future().get().ok());
  committer.Stop();
  EXPECT_EQ(store.batch_sizes, (std::vector<size_t>{1, 6}));
}

TEST(CommitterTest, FullQueueRefusesAtOnce) {
  RecordingStore store;
  Metrics metrics;
  Committer committer(store, metrics, {.queue_capacity = 1});
  int done = 0;
  ASSERT_TRUE(committer.Submit(Effects(1), [&](Status) { ++done; }).ok());
  store.WaitEntered();
  ASSERT_TRUE(committer.Submit(Effects(1), [&](Status) { ++done; }).ok());
  Status refused = committer.Submit(Effects(1), [&](Status) { ++done; });
  EXPECT_EQ(refused.code(), Status::Code::kUnavailable);
  store.Release();
  committer.Stop();
  EXPECT_EQ(done, 2);
}

TEST(CommitterTest, StoreFailureReachesEverySubmitterAsUnavailable) {
  RecordingStore store;
  store.fail = true;
  store.Release();
  Metrics metrics;
  Committer committer(store, metrics, {});
  std::promise<Status> result;
  ASSERT_TRUE(committer.Submit(Effects(3), [&](Status s) { result.set_value(s); }).ok());
  EXPECT_EQ(result.get_future().get().code(), Status::Code::kUnavailable);
}

// During an outage every envelope and every retry fails its commit; the log gets one line
// for the outage, not one per commit, and one when commits succeed again.
TEST(CommitterTest, AnOutageLogsOnceNotOncePerFailedCommit) {
  auto lines = std::make_shared<std::ostringstream>();
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(*lines)));
  {
    RecordingStore store;
    store.fail = true;
    store.Release();
    Metrics metrics;
    Committer committer(store, metrics, {});
    for (int i = 0; i < 50; ++i) {
      std::promise<Status> result;
      ASSERT_TRUE(committer.Submit(Effects(1), [&](Status s) { result.set_value(s); }).ok());
      EXPECT_EQ(result.get_future().get().code(), Status::Code::kUnavailable);
    }
    store.fail = false;
    std::promise<Status> result;
    ASSERT_TRUE(committer.Submit(Effects(1), [&](Status s) { result.set_value(s); }).ok());
    EXPECT_TRUE(result.get_future().get().ok());
    committer.Stop();
  }
  spdlog::set_default_logger(previous);
  const std::string log = lines->str();
  std::size_t failures = 0;
  for (std::size_t at = log.find("store commit of"); at != std::string::npos;
       at = log.find("store commit of", at + 1)) {
    ++failures;
  }
  EXPECT_EQ(failures, 1u) << log;
  EXPECT_NE(log.find("store commits succeed again, after 50 failed"), std::string::npos) << log;
}

TEST(CommitterTest, BatchesRespectTheEventLimit) {
  RecordingStore store;
  Metrics metrics;
  Committer committer(store, metrics, {.max_batch_events = 4});
  std::promise<Status> first;
  ASSERT_TRUE(committer.Submit(Effects(1), [&](Status s) { first.set_value(s); }).ok());
  store.WaitEntered();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(committer.Submit(Effects(3), [](Status) {}).ok());
  store.Release();
  committer.Stop();
  EXPECT_EQ(store.batch_sizes, (std::vector<size_t>{1, 3, 3, 3}));
}

TEST(CommitterTest, StopDrainsTheQueueAndPrunes) {
  RecordingStore store;
  store.Release();
  Metrics metrics;
  int done = 0;
  {
    Committer committer(store, metrics, {});
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE(committer.Submit(Effects(1), [&](Status) { ++done; }).ok());
    committer.Stop();
    EXPECT_EQ(committer.Submit(Effects(1), [](Status) {}).code(), Status::Code::kUnavailable);
  }
  EXPECT_EQ(done, 5);
  EXPECT_GE(store.prunes, 1);
}

}  // namespace
}  // namespace drec

namespace drec {
namespace {

// Bounds every wait of the tests below, so a regression fails instead of hanging.
constexpr auto kBound = std::chrono::seconds(10);

TEST(CommitterTimeoutTest, AStuckCommitIsAnsweredUnavailableOnceAndStillLandsLater) {
  RecordingStore store;
  Metrics metrics;
  Committer committer(store, metrics, {.commit_timeout = std::chrono::milliseconds(50)});
  std::promise<Status> answer;
  std::atomic<int> answers{0};
  ASSERT_TRUE(committer
                  .Submit(Effects(1),
                          [&](Status s) {
                            if (answers.fetch_add(1) == 0) answer.set_value(s);
                          })
                  .ok());
  store.WaitEntered();
  auto future = answer.get_future();
  ASSERT_EQ(future.wait_for(kBound), std::future_status::ready);
  const Status status = future.get();
  EXPECT_EQ(status.code(), Status::Code::kUnavailable);
  EXPECT_NE(status.message().find("did not commit within 50 ms"), std::string::npos);
  // The deadline counts the timeout right after its answer, on its own thread.
  const auto until = std::chrono::steady_clock::now() + kBound;
  while (metrics.Render().find("drec_commit_timeouts_total 1\n") == std::string::npos &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::yield();
  }
  EXPECT_NE(metrics.Render().find("drec_commit_timeouts_total 1\n"), std::string::npos);
  EXPECT_TRUE(committer.health().running_since.has_value());
  store.Release();  // the commit finishes after its answer: the registry's retry is a duplicate
  committer.Stop();
  EXPECT_EQ(store.batch_sizes, (std::vector<size_t>{1}));
  EXPECT_EQ(answers.load(), 1);
  EXPECT_FALSE(committer.health().running_since.has_value());
}

TEST(CommitterTimeoutTest, ASubmissionAnsweredWhileQueuedIsNeverCommitted) {
  RecordingStore store;
  Metrics metrics;
  Committer committer(store, metrics, {.commit_timeout = std::chrono::milliseconds(50)});
  std::promise<Status> first, second;
  ASSERT_TRUE(committer.Submit(Effects(1), [&](const Status& s) { first.set_value(s); }).ok());
  store.WaitEntered();
  ASSERT_TRUE(committer.Submit(Effects(2), [&](const Status& s) { second.set_value(s); }).ok());
  auto queued = second.get_future();
  ASSERT_EQ(queued.wait_for(kBound), std::future_status::ready);
  EXPECT_EQ(queued.get().code(), Status::Code::kUnavailable);
  store.Release();
  committer.Stop();
  EXPECT_EQ(first.get_future().get().code(), Status::Code::kUnavailable);
  // Only the first, already running, was committed; the queued one was answered and dropped.
  EXPECT_EQ(store.batch_sizes, (std::vector<size_t>{1}));
}

TEST(CommitterTimeoutTest, AFastCommitIsAnsweredOkNotByItsDeadline) {
  RecordingStore store;
  store.Release();
  Metrics metrics;
  Committer committer(store, metrics, {.commit_timeout = std::chrono::milliseconds(5'000)});
  std::promise<Status> answer;
  ASSERT_TRUE(committer.Submit(Effects(3), [&](const Status& s) { answer.set_value(s); }).ok());
  auto future = answer.get_future();
  ASSERT_EQ(future.wait_for(kBound), std::future_status::ready);
  EXPECT_TRUE(future.get().ok());
  EXPECT_NE(metrics.Render().find("drec_commit_timeouts_total 0\n"), std::string::npos);
}

TEST(CommitterTimeoutTest, AFailedCommitShowsInHealthUntilATrialCommitSucceeds) {
  RecordingStore store;
  store.fail = true;
  store.Release();
  Metrics metrics;
  Committer committer(store, metrics, {});
  std::promise<Status> answer;
  ASSERT_TRUE(committer.Submit(Effects(1), [&](const Status& s) { answer.set_value(s); }).ok());
  EXPECT_FALSE(answer.get_future().get().ok());
  EXPECT_TRUE(committer.health().last_failed);
  EXPECT_EQ(committer.health().last_error, "down");
  store.fail = false;  // read by the committer thread only after its trial interval
  // No envelope arrives: the idle committer's empty trial commit must clear the failure.
  const auto deadline = std::chrono::steady_clock::now() + kBound;
  while (committer.health().last_failed && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(committer.health().last_failed);
  committer.Stop();
}

}  // namespace
}  // namespace drec
