#include "util/deadlines.h"

#include <algorithm>
#include <utility>

namespace drec {

Deadlines::Deadlines() : thread_([this] { Run(); }) {}

Deadlines::~Deadlines() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Deadlines::After(std::chrono::steady_clock::duration delay, std::function<bool()> settled,
                      std::function<void()> fn) {
  bool was_empty = false;
  {
    std::lock_guard lock(mu_);
    was_empty = deadlines_.empty();
    deadlines_.push_back(
        {std::chrono::steady_clock::now() + delay, std::move(settled), std::move(fn)});
  }
  // A thread with deadlines wakes every sweep anyway: only an idle one needs waking, so a
  // request costs no thread wake-up.
  if (was_empty) wake_.notify_one();
}

std::size_t Deadlines::waiting() const {
  std::lock_guard lock(mu_);
  return deadlines_.size();
}

void Deadlines::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !deadlines_.empty(); });
    if (stopping_) return;
    auto wake_at = std::chrono::steady_clock::now() + kSweepInterval;
    for (const Deadline& deadline : deadlines_) wake_at = std::min(wake_at, deadline.due);
    if (wake_.wait_until(lock, wake_at, [this] { return stopping_; })) return;
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::function<void()>> due;
    std::erase_if(deadlines_, [&](Deadline& deadline) {
      if (deadline.settled()) return true;
      if (deadline.due > now) return false;
      due.push_back(std::move(deadline.fn));
      return true;
    });
    // Run outside the lock: a callback answers a connection.
    lock.unlock();
    for (const auto& fn : due) fn();
    lock.lock();
  }
}

}  // namespace drec
