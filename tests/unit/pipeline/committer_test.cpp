#include "pipeline/committer.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>

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
  bool fail = false;
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
