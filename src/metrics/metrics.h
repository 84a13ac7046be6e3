// Process-wide counters and histograms, rendered as Prometheus text on /metrics.
// Labels are only fixed vocabularies (reasons, status codes, the configured traffic classes),
// never repository, tag or actor names: /metrics needs no credentials (docs/openapi.json: the
// probes need no credentials).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "semantics/semantics.h"

namespace drec {

class Metrics {
 public:
  // `classes`: the traffic classes the configuration can produce (Classifier::ClassNames), the
  // only values of the `class` label, so its cardinality is fixed at start-up. `version`: the
  // label of drec_build_info (app/ knows it; no build_info when empty).
  explicit Metrics(std::vector<std::string> classes = {}, std::string version = {})
      : class_names_(std::move(classes)),
        by_class_(class_names_.size()),
        version_(std::move(version)) {}

  // Every event of every accepted envelope, before semantics.
  void EventsReceived(std::int64_t n) { events_received_.fetch_add(n, kRelaxed); }
  void EventIgnored(IgnoreReason reason, std::int64_t n = 1) {
    ignored_[static_cast<size_t>(reason)].fetch_add(n, kRelaxed);
  }
  // One counted event of traffic class `cls`, as interpreted (a registry retry counts again); a
  // class not given to the constructor is not counted.
  void EventClassified(std::string_view cls);
  void EventsApplied(std::int64_t n) { events_applied_.fetch_add(n, kRelaxed); }
  // Events whose id had been applied before (registry retries).
  void EventsDuplicate(std::int64_t n) { events_duplicate_.fetch_add(n, kRelaxed); }
  // One store transaction, successful or not, and how long it took.
  void Commit(bool ok, double seconds);
  void HttpResponse(unsigned status);
  // A connection the server accepted and serves (+1) or that ended (-1): the open-connections
  // gauge.
  void ConnectionsOpen(std::int64_t delta) { connections_open_.fetch_add(delta, kRelaxed); }
  // A connection accepted and closed at once because server.max_connections were open.
  void ConnectionRefused() { connections_refused_.fetch_add(1, kRelaxed); }
  // A failed accept (no descriptors, no memory): the server backs off.
  void AcceptError() { accept_errors_.fetch_add(1, kRelaxed); }
  // Request body bytes reserved (+) or given back (-): the buffered-bytes gauge.
  void BufferedBytes(std::int64_t delta) { buffered_bytes_.fetch_add(delta, kRelaxed); }
  // A request answered 503 because server.max_buffered_bytes were reserved by others.
  void BufferedBytesRefused() { buffered_refused_.fetch_add(1, kRelaxed); }
  void QueueDepth(std::int64_t depth) { queue_depth_.store(depth, kRelaxed); }
  // One envelope answered 503 because its commit did not finish within the commit timeout.
  void CommitTimeout() { commit_timeouts_.fetch_add(1, kRelaxed); }
  // One API query answered 503 because the store did not answer within the query timeout.
  void QueryTimeout() { query_timeouts_.fetch_add(1, kRelaxed); }
  // The answer of the last /readyz, so a scrape shows why a replica left the service.
  void Ready(bool ready) { ready_.store(ready, kRelaxed); }
  // One reload of the configuration (SIGHUP or a changed file), applied or refused.
  void ConfigReload(bool ok) {
    (ok ? reloads_ok_ : reloads_failed_).fetch_add(1, kRelaxed);
    last_reload_ok_.store(ok, kRelaxed);
  }

  std::int64_t events_duplicate() const { return events_duplicate_.load(kRelaxed); }

  // Prometheus text exposition format 0.0.4: drec's metrics, drec_build_info and the process's
  // (metrics/process_metrics.h).
  std::string Render() const;

 private:
  static constexpr auto kRelaxed = std::memory_order_relaxed;
  static constexpr std::array<double, 12> kCommitBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

  std::atomic<std::int64_t> events_received_{0};
  std::array<std::atomic<std::int64_t>, kIgnoreReasonCount> ignored_{};
  const std::vector<std::string> class_names_;
  std::vector<std::atomic<std::int64_t>> by_class_;  // by position in class_names_
  const std::string version_;
  std::atomic<std::int64_t> events_applied_{0};
  std::atomic<std::int64_t> events_duplicate_{0};
  std::atomic<std::int64_t> commits_ok_{0};
  std::atomic<std::int64_t> commits_failed_{0};
  std::array<std::atomic<std::int64_t>, kCommitBuckets.size()> commit_buckets_{};
  std::atomic<std::int64_t> commit_count_{0};
  std::atomic<std::int64_t> commit_micros_sum_{0};
  std::array<std::atomic<std::int64_t>, 600> responses_{};
  std::atomic<std::int64_t> queue_depth_{0};
  std::atomic<std::int64_t> commit_timeouts_{0};
  std::atomic<std::int64_t> query_timeouts_{0};
  std::atomic<bool> ready_{true};  // no /readyz asked yet
  std::atomic<std::int64_t> connections_open_{0};
  std::atomic<std::int64_t> connections_refused_{0};
  std::atomic<std::int64_t> accept_errors_{0};
  std::atomic<std::int64_t> buffered_bytes_{0};
  std::atomic<std::int64_t> buffered_refused_{0};
  std::atomic<std::int64_t> reloads_ok_{0};
  std::atomic<std::int64_t> reloads_failed_{0};
  std::atomic<bool> last_reload_ok_{true};  // the configuration loaded at start-up
};

}  // namespace drec
