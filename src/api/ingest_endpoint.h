// The ingest endpoint: a registry's notification envelope in, a durable commit out. Answers 200
// only after the commit (docs/counting.md#exactly-once), 400 for a body that is not an envelope,
// 415 for another content type, 503 when the queue is full or the store fails; never a 4xx
// because of an event's content (docs/counting.md#ignored-events).
#pragma once

#include "api/route_request.h"
#include "http/handler.h"
#include "metrics/metrics.h"
#include "pipeline/committer.h"
#include "semantics/semantics.h"

namespace drec {

class IngestEndpoint {
 public:
  // `classifier` decides the traffic class of each counted event; it must outlive the endpoint.
  IngestEndpoint(DeletePolicy delete_policy, const Classifier& classifier, Committer& committer,
                 Metrics& metrics)
      : delete_policy_(delete_policy),
        classifier_(classifier),
        committer_(committer),
        metrics_(metrics) {}

  // Answers through `respond`, later when the envelope waits for its commit. The events count
  // for `registry`, which the caller has checked is served.
  void Handle(const RouteRequest& request, const std::string& registry, Respond respond);

 private:
  const DeletePolicy delete_policy_;
  const Classifier& classifier_;
  Committer& committer_;
  Metrics& metrics_;
};

}  // namespace drec
