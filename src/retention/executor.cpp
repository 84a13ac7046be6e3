#include "retention/executor.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "util/text_parse.h"

namespace drec::retention {
namespace {

// The registry's tag -> digest mapping of one repository, read once for the run.
class CurrentTags {
 public:
  explicit CurrentTags(RegistryClient& registry) : registry_(registry) {}

  Result<std::map<std::string, std::string>> Of(const std::string& repository) {
    std::unique_lock lock(mutex_);
    if (auto it = cache_.find(repository); it != cache_.end()) return it->second;
    lock.unlock();
    auto tags = registry_.ListTags(repository);
    if (!tags.ok()) return tags.status();
    std::map<std::string, std::string> mapping;
    for (const std::string& tag : *tags) {
      auto head = registry_.HeadManifest(repository, tag);
      if (!head.ok()) return head.status();
      if (*head) mapping[tag] = (*head)->digest;
    }
    lock.lock();
    return cache_.emplace(repository, std::move(mapping)).first->second;
  }

 private:
  RegistryClient& registry_;
  std::mutex mutex_;
  std::map<std::string, std::map<std::string, std::string>> cache_;
};

}  // namespace

std::string ChangedSincePlan(const Deletion& d, const std::map<std::string, std::string>& tags) {
  const std::set<std::string> planned(d.tags.begin(), d.tags.end());
  for (const std::string& tag : d.tags) {
    auto it = tags.find(tag);
    if (it == tags.end()) continue;  // already untagged: the digest may still go
    if (it->second != d.digest) {
      return fmt::format("tag {} now points at {}, not {}", tag, it->second, d.digest);
    }
  }
  for (const auto& [tag, digest] : tags) {
    if (digest == d.digest && !planned.count(tag)) {
      return fmt::format("tag {} now points at {} too, and the plan keeps it", tag, d.digest);
    }
  }
  return {};
}

std::string_view OutcomeName(DeletionOutcome::Result result) {
  switch (result) {
    case DeletionOutcome::Result::kDeleted:
      return "deleted";
    case DeletionOutcome::Result::kSkipped:
      return "skipped";
    case DeletionOutcome::Result::kFailed:
      return "failed";
    case DeletionOutcome::Result::kNotAttempted:
      return "not attempted";
  }
  return "not attempted";
}

ApplyReport ApplyPlan(const Plan& plan, RegistryClient& registry, int concurrency,
                      const ProgressFn& progress) {
  ApplyReport report;
  for (const Deletion& d : plan.deletions) report.outcomes.push_back({d, {}, {}});
  CurrentTags current(registry);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex progress_mutex;
  std::size_t done = 0;
  const auto work = [&] {
    for (;;) {
      if (stop.load()) return;
      const std::size_t i = next.fetch_add(1);
      if (i >= report.outcomes.size()) return;
      DeletionOutcome& outcome = report.outcomes[i];
      const Deletion& d = outcome.deletion;
      auto tags = current.Of(d.repository);
      Status status = tags.ok() ? Status::Ok() : tags.status();
      if (status.ok()) {
        if (std::string why = ChangedSincePlan(d, *tags); !why.empty()) {
          outcome.result = DeletionOutcome::Result::kSkipped;
          outcome.message = "changed since the plan: " + why;
        } else {
          status = registry.DeleteManifest(d.repository, d.digest);
          if (status.ok()) {
            outcome.result = DeletionOutcome::Result::kDeleted;
          } else if (status.code() == Status::Code::kNotFound) {
            outcome.result = DeletionOutcome::Result::kSkipped;
            outcome.message = "already gone from the registry";
            status = Status::Ok();
          }
        }
      }
      if (!status.ok()) {
        outcome.result = DeletionOutcome::Result::kFailed;
        outcome.message = status.message();
        stop.store(true);
      }
      std::lock_guard lock(progress_mutex);
      ++done;
      if (progress) progress(outcome, done, report.outcomes.size());
    }
  };
  std::vector<std::thread> workers;
  const int n = std::clamp(concurrency, 1, 64);
  workers.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) workers.emplace_back(work);
  for (std::thread& worker : workers) worker.join();
  for (const DeletionOutcome& o : report.outcomes) {
    switch (o.result) {
      case DeletionOutcome::Result::kDeleted:
        ++report.deleted;
        break;
      case DeletionOutcome::Result::kSkipped:
        ++report.skipped;
        break;
      case DeletionOutcome::Result::kFailed:
        ++report.failed;
        break;
      case DeletionOutcome::Result::kNotAttempted:
        ++report.not_attempted;
        break;
    }
  }
  return report;
}

}  // namespace drec::retention
