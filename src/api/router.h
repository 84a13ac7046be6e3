// Maps requests to drec's endpoints: the ingest route, the query API and the
// unauthenticated probes. One handler per route; adding a route is one line in
// Route().
#pragma once

#include <string>

#include "auth/authenticator.h"
#include "config/settings.h"
#include "http/handler.h"
#include "metrics/metrics.h"
#include "pipeline/committer.h"
#include "semantics/semantics.h"
#include "store/store.h"

namespace drec {

class Router : public HttpHandler {
 public:
  Router(std::string ingest_route, DeletePolicy delete_policy, const Authenticator& auth,
         Committer& committer, Store& store, Metrics& metrics);

  void Handle(HttpRequest request, Respond respond) override;

 private:
  void Ingest(const HttpRequest& request, Respond respond);
  HttpResponse Query(const HttpRequest& request);
  HttpResponse Unauthorized() const;

  const std::string ingest_route_;
  const DeletePolicy delete_policy_;
  const Authenticator& auth_;
  Committer& committer_;
  Store& store_;
  Metrics& metrics_;
};

// A response with a body and content type; the transport fills in the rest.
HttpResponse MakeResponse(unsigned status, std::string body,
                          std::string_view content_type = "application/json");

}  // namespace drec
