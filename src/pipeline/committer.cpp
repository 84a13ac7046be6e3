#include "pipeline/committer.h"

#include <spdlog/spdlog.h>

#include "util/time.h"

namespace drec {

Committer::Committer(StoreWriter& store, Metrics& metrics, Options options)
    : store_(store), metrics_(metrics), options_(options), thread_([this] { Run(); }) {}

Committer::~Committer() { Stop(); }

Status Committer::Submit(std::vector<EventEffect> effects, Done done) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status::Unavailable("drec is shutting down");
    if (static_cast<std::int64_t>(queue_.size()) >= options_.queue_capacity) {
      return Status::Unavailable("commit queue is full");
    }
    queue_.push_back({std::move(effects), std::move(done)});
    metrics_.QueueDepth(static_cast<std::int64_t>(queue_.size()));
  }
  wake_.notify_one();
  return Status::Ok();
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
  for (;;) {
    std::vector<Submission> group;
    {
      std::unique_lock lock(mu_);
      wake_.wait_until(lock, next_prune, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      // Always take at least one submission, however large, then fill up to the limit.
      std::int64_t events = 0;
      while (!queue_.empty() &&
             (group.empty() || events + static_cast<std::int64_t>(queue_.front().effects.size()) <=
                                   options_.max_batch_events)) {
        events += static_cast<std::int64_t>(queue_.front().effects.size());
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      metrics_.QueueDepth(static_cast<std::int64_t>(queue_.size()));
    }
    if (!group.empty()) CommitGroup(group);
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
  if (status.ok()) {
    metrics_.EventsApplied(outcome.applied);
    metrics_.EventsDuplicate(outcome.duplicates);
    metrics_.EventIgnored(IgnoreReason::kUnknownDigestDelete, outcome.unknown_manifests);
  } else {
    spdlog::error("store commit of {} events failed: {}", batch.effects.size(), status.message());
    status = Status::Unavailable("store commit failed: " + status.message());
  }
  for (auto& submission : group) submission.done(status);
}

}  // namespace drec
