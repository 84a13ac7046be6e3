#include "pipeline/committer.h"

#include <spdlog/spdlog.h>

#include "util/time.h"

namespace drec {

namespace {

// How often an idle committer tries an empty commit after a failed one.
constexpr std::chrono::seconds kTrialInterval{1};
// How long the committer waits for more batches before it folds what the store deferred
// (StoreWriter::Settle): folding many batches at once writes each changed page once.
constexpr std::chrono::milliseconds kSettleAfterIdle{20};

}  // namespace

Committer::Committer(StoreWriter& store, Metrics& metrics, Options options)
    : store_(store), metrics_(metrics), options_(options), thread_([this] { Run(); }) {}

Committer::~Committer() { Stop(); }

Status Committer::Submit(std::vector<EventEffect> effects, Done done) {
  auto once = std::make_shared<Once<Status>>(std::move(done));
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status::Unavailable("drec is shutting down");
    if (static_cast<std::int64_t>(queue_.size()) >= options_.queue_capacity) {
      return Status::Unavailable("commit queue is full");
    }
    queue_.push_back({std::move(effects), once});
    metrics_.QueueDepth(static_cast<std::int64_t>(queue_.size()));
  }
  wake_.notify_one();
  if (options_.commit_timeout.count() > 0) {
    // Whichever comes first answers: the commit or this deadline. A stuck store (a frozen file
    // system, a stopped database) then costs the registry a 503 and a retry, not a hung request.
    deadlines_.After(
        options_.commit_timeout, [once] { return once->Called(); },
        [once, &metrics = metrics_, ms = options_.commit_timeout.count()] {
          if (once->Call(Status::Unavailable("the store did not commit within " +
                                             std::to_string(ms) + " ms"))) {
            metrics.CommitTimeout();
          }
        });
  }
  return Status::Ok();
}

Committer::Health Committer::health() const {
  std::lock_guard lock(mu_);
  return health_;
}

void Committer::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Committer::Run() {
  auto next_prune = std::chrono::steady_clock::now();
  bool trial = false;
  for (;;) {
    std::vector<Submission> group;
    std::chrono::steady_clock::time_point settle_due;
    {
      std::unique_lock lock(mu_);
      // After a failed commit an idle committer tries an empty one now and then: /readyz stays
      // 503 until a commit succeeds, and a replica taken out of service gets no envelopes that
      // would show the store is back.
      auto wake_at = health_.last_failed ? std::min(next_prune, last_commit_end_ + kTrialInterval)
                                         : next_prune;
      settle_due = SettleDue();
      if (unsettled_) wake_at = std::min(wake_at, settle_due);
      wake_.wait_until(lock, wake_at, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      trial = queue_.empty() && health_.last_failed &&
              std::chrono::steady_clock::now() >= last_commit_end_ + kTrialInterval;
      // Always take at least one submission, however large, then fill up to the limit.
      std::int64_t events = 0;
      while (!queue_.empty() &&
             (group.empty() || events + static_cast<std::int64_t>(queue_.front().effects.size()) <=
                                   options_.max_batch_events)) {
        // Already answered 503 by its deadline: the registry retries it, so committing it now
        // would only add work while the store recovers.
        if (queue_.front().done->Called()) {
          queue_.pop_front();
          continue;
        }
        events += static_cast<std::int64_t>(queue_.front().effects.size());
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      metrics_.QueueDepth(static_cast<std::int64_t>(queue_.size()));
      if (!group.empty() || trial) health_.running_since = std::chrono::steady_clock::now();
    }
    if (!group.empty() || trial) CommitGroup(group);
    // What the store deferred past the acknowledgements is folded once no batch has come for a
    // while: acknowledgements come first, and the store itself bounds what it defers.
    if (group.empty() && unsettled_ && std::chrono::steady_clock::now() >= settle_due) {
      SettleStore();
    }
    if (std::chrono::steady_clock::now() >= next_prune) {
      const UnixMillis cutoff = NowMillis() - options_.retention_days * kDayMillis;
      if (Status s = store_.PruneEventIds(cutoff); !s.ok()) {
        spdlog::warn("pruning old event ids failed: {}", s.message());
      }
      next_prune = std::chrono::steady_clock::now() + options_.prune_interval;
    }
  }
}

void Committer::CommitGroup(std::vector<Submission>& group) {
  Batch batch;
  for (auto& submission : group) {
    for (auto& effect : submission.effects) batch.effects.push_back(std::move(effect));
  }
  ApplyOutcome outcome;
  const auto start = std::chrono::steady_clock::now();
  Status status = store_.Apply(batch, &outcome);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  metrics_.Commit(status.ok(), took.count());
  {
    std::lock_guard lock(mu_);
    health_.running_since.reset();
    last_commit_end_ = std::chrono::steady_clock::now();
    health_.last_failed = !status.ok();
    health_.last_error = status.ok() ? std::string() : status.message();
  }
  if (status.ok()) {
    unsettled_ = unsettled_ || outcome.applied > 0;
    metrics_.EventsApplied(outcome.applied);
    metrics_.EventsDuplicate(outcome.duplicates);
    metrics_.EventIgnored(IgnoreReason::kUnknownDigestDelete, outcome.unknown_manifests);
  } else {
    status = Status::Unavailable("store commit failed: " + status.message());
  }
  LogOutcome(status, batch.effects.size());
  for (auto& submission : group) submission.done->Call(status);
}

std::chrono::steady_clock::time_point Committer::SettleDue() const {
  return std::max(last_commit_end_ + kSettleAfterIdle, last_settle_failure_ + kTrialInterval);
}

void Committer::SettleStore() {
  // A Settle stuck on the store is a stuck commit to /readyz.
  {
    std::lock_guard lock(mu_);
    health_.running_since = std::chrono::steady_clock::now();
  }
  Status status = store_.Settle();
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    health_.running_since.reset();
  }
  if (status.ok()) {
    unsettled_ = false;
    return;
  }
  last_settle_failure_ = now;
  // An idle committer retries every kTrialInterval: while it fails, one line now and then.
  if (now - last_settle_log_ >= kFailureLogInterval) {
    spdlog::warn(
        "folding acknowledged events into the store failed (retried after the next "
        "commit): {}",
        status.message());
    last_settle_log_ = now;
  }
}

void Committer::LogOutcome(const Status& status, std::size_t events) {
  const auto now = std::chrono::steady_clock::now();
  if (status.ok()) {
    if (failures_ > 0) {
      spdlog::info("store commits succeed again, after {} failed", failures_);
    }
    failures_ = 0;
    return;
  }
  ++failures_;
  // During an outage every envelope (and every retry of it) fails its commit: one line when it
  // begins, then one now and then, so a store outage or a client posting fast cannot grow the
  // log without bound.
  if (failures_ == 1 || now - last_failure_log_ >= kFailureLogInterval) {
    spdlog::error("store commit of {} events failed ({} failed commits in this outage): {}", events,
                  failures_, status.message());
    last_failure_log_ = now;
  }
}

}  // namespace drec
