// The write path between HTTP and the store: a bounded queue feeding one
// committer thread. Envelopes that arrive while a transaction runs share the
// next one (group commit), so a slow disk or database costs one round trip per
// batch, not per event. Callers learn the outcome only after the commit, which
// is what lets HTTP answer 200 only for events that survive a kill -9.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "metrics/metrics.h"
#include "semantics/operations.h"
#include "store/store.h"
#include "util/status.h"

namespace drec {

class Committer {
 public:
  // Called once per submission, on the committer thread, after its commit (Ok)
  // or failure (Unavailable). Must not block.
  using Done = std::function<void(Status)>;

  struct Options {
    std::int64_t queue_capacity = 1024;    // submissions waiting; beyond it Submit refuses
    std::int64_t max_batch_events = 4096;  // effects per transaction
    std::int64_t retention_days = 7;       // event ids older than this are pruned
    std::chrono::minutes prune_interval{10};
  };

  Committer(StoreWriter& store, Metrics& metrics, Options options);
  ~Committer();
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  // Queues effects for the next commit. Unavailable when the queue is full or
  // the committer is stopping: the caller answers 503 and the registry retries.
  Status Submit(std::vector<EventEffect> effects, Done done);

  // Stops taking submissions, commits what is queued, and joins the thread.
  void Stop();

 private:
  struct Submission {
    std::vector<EventEffect> effects;
    Done done;
  };

  void Run();
  void CommitGroup(std::vector<Submission>& group);

  StoreWriter& store_;
  Metrics& metrics_;
  const Options options_;

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Submission> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace drec
