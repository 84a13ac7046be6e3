// Dispatches requests along the route table (api/routes.h): matches the path, checks
// credentials and the method, and runs the handler inline or on the query workers.
#pragma once

#include <atomic>
#include <boost/asio/thread_pool.hpp>
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
#include "store/registries/registry_set.h"

namespace drec {

// What the router's handlers use; each is owned by app/.
struct RouterParts {
  std::string ingest_route;
  const Authenticator& auth;
  IngestEndpoint& ingest;
  // Every registry's statistics: queries read them, /readyz asks whether writes would succeed.
  RegistrySet& registries;
  Metrics& metrics;
};

// The query workers: how many, and how many requests may wait for one before the router
// answers 503 (so a stalled store holds a bounded number of requests, not every connection).
struct QueryWorkerOptions {
  int threads = 2;
  std::int64_t max_waiting = 64;
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
  const std::int64_t max_waiting_;
  std::atomic<std::int64_t> waiting_{0};
  boost::asio::thread_pool workers_;
};

}  // namespace drec
