#include "metrics/metrics.h"

#include <fmt/format.h>

#include "metrics/mongodb_commands.h"
#include "metrics/process_metrics.h"

namespace drec {

void Metrics::Commit(bool ok, double seconds) {
  (ok ? commits_ok_ : commits_failed_).fetch_add(1, kRelaxed);
  for (size_t i = 0; i < kCommitBuckets.size(); ++i) {
    if (seconds <= kCommitBuckets[i]) commit_buckets_[i].fetch_add(1, kRelaxed);
  }
  commit_count_.fetch_add(1, kRelaxed);
  commit_micros_sum_.fetch_add(static_cast<std::int64_t>(seconds * 1e6), kRelaxed);
}

void Metrics::EventClassified(std::string_view cls) {
  for (std::size_t i = 0; i < class_names_.size(); ++i) {
    if (class_names_[i] == cls) by_class_[i].fetch_add(1, kRelaxed);
  }
}

void Metrics::HttpResponse(unsigned status) {
  if (status < responses_.size()) responses_[status].fetch_add(1, kRelaxed);
}

std::string Metrics::Render() const {
  std::string out;
  auto counter = [&out](std::string_view name, std::string_view help, std::int64_t value) {
    fmt::format_to(std::back_inserter(out), "# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name,
                   help, value);
  };
  counter("drec_events_received_total", "Events in accepted envelopes.",
          events_received_.load(kRelaxed));
  counter("drec_events_applied_total", "Events applied to the store.",
          events_applied_.load(kRelaxed));
  counter("drec_events_duplicate_total", "Events already applied before (registry retries).",
          events_duplicate_.load(kRelaxed));

  out += "# HELP drec_events_ignored_total Events that change no statistics, by reason.\n";
  out += "# TYPE drec_events_ignored_total counter\n";
  for (int i = 0; i < kIgnoreReasonCount; ++i) {
    fmt::format_to(std::back_inserter(out), "drec_events_ignored_total{{reason=\"{}\"}} {}\n",
                   IgnoreReasonName(static_cast<IgnoreReason>(i)), ignored_[i].load(kRelaxed));
  }

  out += "# HELP drec_events_by_class_total Counted events, by traffic class.\n";
  out += "# TYPE drec_events_by_class_total counter\n";
  for (std::size_t i = 0; i < class_names_.size(); ++i) {
    fmt::format_to(std::back_inserter(out), "drec_events_by_class_total{{class=\"{}\"}} {}\n",
                   class_names_[i], by_class_[i].load(kRelaxed));
  }

  out += "# HELP drec_commits_total Store transactions, by result.\n";
  out += "# TYPE drec_commits_total counter\n";
  fmt::format_to(std::back_inserter(out), "drec_commits_total{{result=\"ok\"}} {}\n",
                 commits_ok_.load(kRelaxed));
  fmt::format_to(std::back_inserter(out), "drec_commits_total{{result=\"error\"}} {}\n",
                 commits_failed_.load(kRelaxed));

  out += "# HELP drec_commit_duration_seconds Time of one store transaction.\n";
  out += "# TYPE drec_commit_duration_seconds histogram\n";
  for (size_t i = 0; i < kCommitBuckets.size(); ++i) {
    fmt::format_to(std::back_inserter(out), "drec_commit_duration_seconds_bucket{{le=\"{}\"}} {}\n",
                   kCommitBuckets[i], commit_buckets_[i].load(kRelaxed));
  }
  const auto count = commit_count_.load(kRelaxed);
  fmt::format_to(std::back_inserter(out),
                 "drec_commit_duration_seconds_bucket{{le=\"+Inf\"}} {0}\n"
                 "drec_commit_duration_seconds_sum {1}\n"
                 "drec_commit_duration_seconds_count {0}\n",
                 count, static_cast<double>(commit_micros_sum_.load(kRelaxed)) / 1e6);

  out += "# HELP drec_http_responses_total HTTP replies, by status code.\n";
  out += "# TYPE drec_http_responses_total counter\n";
  for (size_t status = 0; status < responses_.size(); ++status) {
    if (auto n = responses_[status].load(kRelaxed)) {
      fmt::format_to(std::back_inserter(out), "drec_http_responses_total{{code=\"{}\"}} {}\n",
                     status, n);
    }
  }
  fmt::format_to(std::back_inserter(out),
                 "# HELP drec_http_connections_open Connections open now.\n"
                 "# TYPE drec_http_connections_open gauge\ndrec_http_connections_open {}\n"
                 "# HELP drec_http_connections_refused_total Connections closed at once, by "
                 "reason.\n"
                 "# TYPE drec_http_connections_refused_total counter\n"
                 "drec_http_connections_refused_total{{reason=\"max_connections\"}} {}\n"
                 "# HELP drec_http_accept_errors_total Failed accepts (no descriptors or memory).\n"
                 "# TYPE drec_http_accept_errors_total counter\ndrec_http_accept_errors_total {}\n"
                 "# HELP drec_http_buffered_bytes Request body bytes reserved now.\n"
                 "# TYPE drec_http_buffered_bytes gauge\ndrec_http_buffered_bytes {}\n"
                 "# HELP drec_http_requests_refused_total Requests answered 503 before their "
                 "body was read, by reason.\n"
                 "# TYPE drec_http_requests_refused_total counter\n"
                 "drec_http_requests_refused_total{{reason=\"max_buffered_bytes\"}} {}\n",
                 connections_open_.load(kRelaxed), connections_refused_.load(kRelaxed),
                 accept_errors_.load(kRelaxed), buffered_bytes_.load(kRelaxed),
                 buffered_refused_.load(kRelaxed));
  fmt::format_to(std::back_inserter(out),
                 "# HELP drec_queue_depth Envelopes waiting for the committer.\n"
                 "# TYPE drec_queue_depth gauge\ndrec_queue_depth {}\n",
                 queue_depth_.load(kRelaxed));
  fmt::format_to(std::back_inserter(out),
                 "# HELP drec_commit_timeouts_total Envelopes answered 503 because their commit "
                 "did not finish within pipeline.commit_timeout_ms.\n"
                 "# TYPE drec_commit_timeouts_total counter\ndrec_commit_timeouts_total {}\n"
                 "# HELP drec_query_timeouts_total API queries answered 503 because the store did "
                 "not answer within storage.query_timeout_ms.\n"
                 "# TYPE drec_query_timeouts_total counter\ndrec_query_timeouts_total {}\n"
                 "# HELP drec_ready 1 when the last /readyz answered 200, 0 when it answered 503.\n"
                 "# TYPE drec_ready gauge\ndrec_ready {}\n",
                 commit_timeouts_.load(kRelaxed), query_timeouts_.load(kRelaxed),
                 ready_.load(kRelaxed) ? 1 : 0);
  out += "# HELP drec_config_reloads_total Reloads of the configuration, by result.\n";
  out += "# TYPE drec_config_reloads_total counter\n";
  fmt::format_to(std::back_inserter(out),
                 "drec_config_reloads_total{{result=\"ok\"}} {}\n"
                 "drec_config_reloads_total{{result=\"refused\"}} {}\n",
                 reloads_ok_.load(kRelaxed), reloads_failed_.load(kRelaxed));
  fmt::format_to(std::back_inserter(out),
                 "# HELP drec_config_last_reload_successful 1 when the last reload (or the start) "
                 "applied its configuration, 0 when it was refused.\n"
                 "# TYPE drec_config_last_reload_successful gauge\n"
                 "drec_config_last_reload_successful {}\n",
                 last_reload_ok_.load(kRelaxed) ? 1 : 0);
  if (!version_.empty()) {
    fmt::format_to(std::back_inserter(out),
                   "# HELP drec_build_info The version of drec running; always 1.\n"
                   "# TYPE drec_build_info gauge\n"
                   "drec_build_info{{version=\"{}\"}} 1\n",
                   version_);
  }
  out += RenderMongoDbCommandMetrics();
  out += RenderProcessMetrics();
  return out;
}

}  // namespace drec
