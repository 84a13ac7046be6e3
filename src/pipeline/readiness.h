// What /readyz answers, without ever waiting for the store on the caller's thread: 503 when the
// last commit failed (until one succeeds), when a commit has been running longer than the commit
// timeout, or when the store check does not return within the check timeout. One store check
// runs at a time, on a thread of its own; probes that arrive meanwhile share its result, and
// once it is late they are answered 503 at once, so a stuck store is not asked again and again.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "metrics/metrics.h"
#include "pipeline/committer.h"
#include "util/deadlines.h"
#include "util/once.h"
#include "util/status.h"

namespace drec {

class Readiness {
 public:
  // The store check (StoreWriter::Ping); runs on the readiness thread and may block.
  using Check = std::function<Status()>;
  // The committer's state (Committer::health); must not block.
  using CommitHealth = std::function<Committer::Health()>;
  // Receives Ok (ready) or Unavailable with the reason; called exactly once, from any thread.
  using Done = std::function<void(Status)>;

  struct Options {
    std::chrono::milliseconds check_timeout{500};
    // A commit running longer than this means the store is stuck (pipeline.commit_timeout_ms).
    std::chrono::milliseconds commit_timeout{5'000};
  };

  Readiness(Check check, CommitHealth commits, Metrics& metrics, Options options);
  // Waits for a store check in progress to return.
  ~Readiness();
  Readiness(const Readiness&) = delete;
  Readiness& operator=(const Readiness&) = delete;

  // Answers through `done` within the check timeout; never blocks the caller.
  void Probe(Done done);

 private:
  void RunChecks();
  void Answer(const std::shared_ptr<Once<Status>>& done, const Status& status);

  const Check check_;
  const CommitHealth commits_;
  Metrics& metrics_;
  const Options options_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool check_wanted_ = false;
  // When the check in progress started; nullopt when none runs.
  std::optional<std::chrono::steady_clock::time_point> check_started_;
  std::vector<std::shared_ptr<Once<Status>>> waiting_;  // probes waiting for that check
  std::thread thread_;
  Deadlines deadlines_;  // declared last: stops first
};

}  // namespace drec
