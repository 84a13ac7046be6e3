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
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "metrics/metrics.h"
#include "semantics/operations.h"
#include "store/store.h"
#include "util/deadlines.h"
#include "util/once.h"
#include "util/status.h"

namespace drec {

class Committer {
 public:
  // Called once per submission, after its commit (Ok) or failure (Unavailable), on the
  // committer thread; or with Unavailable on the deadline thread when the commit has not
  // finished within the commit timeout (the commit may still land later: a retry of the same
  // events is then a duplicate by event id, so nothing counts twice). Must not block.
  using Done = std::function<void(Status)>;

  struct Options {
    std::int64_t queue_capacity = 1024;    // submissions waiting; beyond it Submit refuses
    std::int64_t max_batch_events = 4096;  // effects per transaction
    std::int64_t retention_days = 7;       // event ids older than this are pruned
    std::chrono::minutes prune_interval{10};
    // A submission not committed within this is answered Unavailable; zero: never.
    std::chrono::milliseconds commit_timeout{5'000};
  };

  // What /readyz needs to know about the commits (pipeline/readiness.h).
  struct Health {
    // When the commit now running started; nullopt when none runs.
    std::optional<std::chrono::steady_clock::time_point> running_since;
    bool last_failed = false;  // the last commit failed (none succeeded since)
    std::string last_error;    // its message, when it failed
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

  // The state of the commits now; callable from any thread, never waits for the store.
  Health health() const;

 private:
  struct Submission {
    std::vector<EventEffect> effects;
    std::shared_ptr<Once<Status>> done;
  };

  void Run();
  void CommitGroup(std::vector<Submission>& group);
  // StoreWriter::Settle, its failures logged at most once per kFailureLogInterval.
  void SettleStore();
  // When an idle committer settles next: kSettleAfterIdle after the last commit, and not
  // sooner than kTrialInterval after a failed Settle. mu_ held.
  std::chrono::steady_clock::time_point SettleDue() const;
  // Logs a failed commit, at most one line per kFailureLogInterval while they keep failing,
  // and the recovery. Committer thread only.
  void LogOutcome(const Status& status, std::size_t events);

  static constexpr std::chrono::seconds kFailureLogInterval{30};

  StoreWriter& store_;
  Metrics& metrics_;
  const Options options_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Submission> queue_;
  bool stopping_ = false;
  Health health_;                                           // guarded by mu_
  std::chrono::steady_clock::time_point last_commit_end_;   // guarded by mu_
  std::int64_t failures_ = 0;                               // committer thread only
  std::chrono::steady_clock::time_point last_failure_log_;  // committer thread only
  std::chrono::steady_clock::time_point last_settle_log_;   // committer thread only
  bool unsettled_ = false;  // committer thread only: batches committed since the last Settle
  std::chrono::steady_clock::time_point last_settle_failure_;  // committer thread only
  std::thread thread_;
  // Last, so it stops first: its callbacks use metrics_ only.
  Deadlines deadlines_;
};

}  // namespace drec
