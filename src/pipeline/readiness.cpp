#include "pipeline/readiness.h"

#include <string>

namespace drec {

namespace {

std::string Millis(std::chrono::steady_clock::duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

}  // namespace

Readiness::Readiness(Check check, CommitHealth commits, Metrics& metrics, Options options)
    : check_(std::move(check)),
      commits_(std::move(commits)),
      metrics_(metrics),
      options_(options),
      thread_([this] { RunChecks(); }) {}

Readiness::~Readiness() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Readiness::Answer(const std::shared_ptr<Once<Status>>& done, const Status& status) {
  if (done->Call(status)) metrics_.Ready(status.ok());
}

void Readiness::Probe(Done done) {
  auto once = std::make_shared<Once<Status>>(std::move(done));
  const auto now = std::chrono::steady_clock::now();
  const Committer::Health commits = commits_();
  if (commits.last_failed) {
    return Answer(once, Status::Unavailable("the last commit failed: " + commits.last_error));
  }
  if (commits.running_since && now - *commits.running_since > options_.commit_timeout) {
    return Answer(once, Status::Unavailable("a commit has been running for " +
                                            Millis(now - *commits.running_since)));
  }
  std::chrono::steady_clock::duration left = options_.check_timeout;
  std::optional<std::chrono::steady_clock::duration> late;
  {
    std::lock_guard lock(mu_);
    if (check_started_) {
      left = *check_started_ + options_.check_timeout - now;
      if (left <= std::chrono::steady_clock::duration::zero()) late = now - *check_started_;
    } else {
      check_started_ = now;
      check_wanted_ = true;
      wake_.notify_one();
    }
    if (!late) waiting_.push_back(once);
  }
  // Answered outside the lock: the answer writes to a connection.
  if (late) {
    return Answer(once,
                  Status::Unavailable("the store check has not returned for " + Millis(*late)));
  }
  deadlines_.After(
      left, [once] { return once->Called(); },
      [this, once, ms = options_.check_timeout.count()] {
        Answer(once, Status::Unavailable("the store check did not return within " +
                                         std::to_string(ms) + " ms"));
      });
}

void Readiness::RunChecks() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || check_wanted_; });
      if (stopping_) return;
      check_wanted_ = false;
    }
    const Status checked = check_();
    std::vector<std::shared_ptr<Once<Status>>> waiting;
    {
      std::lock_guard lock(mu_);
      check_started_.reset();
      waiting.swap(waiting_);
    }
    const Status answer =
        checked.ok() ? checked : Status::Unavailable("store unreachable: " + checked.message());
    for (const auto& once : waiting) Answer(once, answer);
  }
}

}  // namespace drec
