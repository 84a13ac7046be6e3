// Dispatches requests along the route table (api/routes.h): matches the path, checks
// credentials and the method, and runs the handler inline or on the query workers.
#pragma once

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "api/ingest_endpoint.h"
#include "api/routes.h"
#include "auth/authenticator.h"
#include "http/handler.h"
#include "metrics/metrics.h"
#include "pipeline/readiness.h"
#include "store/registries/registry_set.h"
#include "util/deadlines.h"

namespace drec {

// What the router's handlers use; each is owned by app/.
struct RouterParts {
  std::string ingest_route;
  const Authenticator& auth;
  IngestEndpoint& ingest;
  // Every registry's statistics: queries read them, /readyz asks whether writes would succeed.
  RegistrySet& registries;
  Metrics& metrics;
  // Answers /readyz without waiting for the store.
  Readiness& readiness;
  // retention.policy_file: the policy /api/v1/retention/plan plans; empty: none.
  std::string retention_policy_file;
  // How long that plan may wait for the registry (the query deadline: a later answer is lost).
  std::chrono::milliseconds retention_registry_budget{10'000};
};

// The query workers: how many, and how many requests may wait for one before the router
// answers 503 (so a stalled store holds a bounded number of requests, not every connection).
struct QueryWorkerOptions {
  int threads = 2;
  std::int64_t max_waiting = 64;
  // A query not answered within this, waiting and running, is answered 503 and its late result
  // dropped: a worker stuck in the store (a frozen file system) holds no connection for long.
  std::chrono::milliseconds deadline{10'000};
};

// The table of every route drec serves, with their handlers bound to `parts`.
std::vector<Route> BuildRoutes(const RouterParts& parts);

class Router : public HttpHandler {
 public:
  Router(const RouterParts& parts, QueryWorkerOptions workers);
  // Waits for the query workers to finish what they run.
  ~Router() override;

  // The route match, credential and method checks of Handle, on the header alone.
  std::optional<HttpResponse> Screen(const HttpRequestHeader& header) override;
  void Handle(HttpRequest request, Respond respond) override;

 private:
  struct Match {
    const Route* route;
    std::string name;  // the path's {name} or {file}
  };
  // The route a request goes to, or the answer that refuses it (400, 404, 401, 405): the one
  // check both Screen and Handle make.
  std::variant<Match, HttpResponse> Find(const HttpRequestHeader& header) const;

  const Authenticator& auth_;
  const std::vector<Route> routes_;
  Metrics& metrics_;
  const std::int64_t max_waiting_;
  const std::chrono::milliseconds deadline_;
  std::atomic<std::int64_t> waiting_{0};
  boost::asio::thread_pool workers_;
  Deadlines deadlines_;  // declared last: stops first, its callbacks use metrics_
};

}  // namespace drec
