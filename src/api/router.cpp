#include "api/router.h"

#include <boost/asio/post.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <memory>
#include <string>

#include "api/dashboard.h"
#include "api/openapi.h"
#include "api/query_api.h"
#include "api/responses.h"
#include "api/retention_route.h"
#include "util/once.h"

namespace drec {

namespace http = boost::beast::http;

namespace {

// Which registries a query reads without a `registry` parameter.
enum class Span { kDefaultOnly, kAll };

// A handler that answers at once from the statistics of the registry named by the `registry`
// parameter (404 when unknown), or without one from `span`. The handler sees the other
// parameters only.
RouteHandler Query(const RegistrySet& registries, Span span,
                   HttpResponse (*answer)(StoreReader&, const RouteRequest&)) {
  return [&registries, span, answer](const RouteRequest& request, const Respond& respond) {
    auto registry = request.params.find("registry");
    if (registry == request.params.end()) {
      StoreReader* reader =
          span == Span::kAll ? &registries.All() : registries.Reader(kDefaultRegistry);
      return respond(answer(*reader, request));
    }
    const std::string name = (*registry).value;
    StoreReader* reader = registries.Reader(name);
    if (reader == nullptr) return respond(ErrorResponse(404, "unknown registry \"" + name + "\""));
    boost::urls::url others("/");
    for (const auto& param : request.params) {
      if (param.key != "registry") others.params().append(param);
    }
    respond(answer(*reader, RouteRequest{request.http, request.name, others.params()}));
  };
}

RouteHandler Fixed(HttpResponse (*answer)(const RouteRequest&)) {
  return
      [answer](const RouteRequest& request, const Respond& respond) { respond(answer(request)); };
}

}  // namespace

std::vector<Route> BuildRoutes(const RouterParts& p) {
  using enum Access;
  using enum Runs;
  const std::vector<http::verb> get = {http::verb::get};
  const std::vector<http::verb> post = {http::verb::post};
  using enum Span;
  Metrics& metrics = p.metrics;
  RegistrySet& registries = p.registries;
  Readiness& readiness = p.readiness;
  IngestEndpoint& ingest = p.ingest;
  return {
      {p.ingest_route, post, kCredentials, kInline, true,
       [&ingest](const RouteRequest& r, Respond respond) {
         ingest.Handle(r, std::string(kDefaultRegistry), std::move(respond));
       }},
      // One endpoint per registry (docs/registries.md); the route alone is the default one's.
      {p.ingest_route + "/{registry}", post, kCredentials, kInline, true,
       [&ingest, &registries](const RouteRequest& r, Respond respond) {
         if (!registries.Has(r.name)) {
           return respond(ErrorResponse(
               404, "unknown registry \"" + r.name + "\": add it to the registries setting"));
         }
         ingest.Handle(r, r.name, std::move(respond));
       }},
      {"/api/v1/registries", get, kCredentials, kWorkers, true,
       [&registries](const RouteRequest& r, const Respond& respond) {
         respond(RegistriesRoute(registries, r));
       }},
      {"/api/v1/repositories", get, kCredentials, kWorkers, true,
       Query(registries, kAll, ListRepositoriesRoute)},
      {"/api/v1/repositories/{name}", get, kCredentials, kWorkers, true,
       Query(registries, kDefaultOnly, RepositoryRoute)},
      {"/api/v1/repositories/{name}/-/tags", get, kCredentials, kWorkers, true,
       Query(registries, kDefaultOnly, TagsRoute)},
      {"/api/v1/repositories/{name}/-/digests", get, kCredentials, kWorkers, true,
       Query(registries, kDefaultOnly, DigestsRoute)},
      {"/api/v1/repositories/{name}/-/actors", get, kCredentials, kWorkers, true,
       Query(registries, kDefaultOnly, ActorsRoute)},
      {"/api/v1/repositories/{name}/-/daily", get, kCredentials, kWorkers, true,
       Query(registries, kDefaultOnly, DailyRoute)},
      {"/api/v1/repositories/{name}/-/classes", get, kCredentials, kWorkers, true,
       Query(registries, kDefaultOnly, ClassesRoute)},
      {"/api/v1/summary", get, kCredentials, kWorkers, true, Query(registries, kAll, SummaryRoute)},
      {"/api/v1/retention/plan", get, kCredentials, kWorkers, true,
       [&registries, policy = p.retention_policy_file, budget = p.retention_registry_budget](
           const RouteRequest& r, const Respond& respond) {
         respond(
             RetentionPlanRoute(registries, policy, std::chrono::steady_clock::now() + budget, r));
       }},
      {"/api/v1/openapi.json", get, kCredentials, kInline, true, Fixed([](const RouteRequest&) {
         return MakeResponse(200, std::string(OpenApiDocument()));
       })},
      {"/healthz", get, kPublic, kInline, true,
       Fixed([](const RouteRequest&) { return MakeResponse(200, "ok\n", "text/plain"); })},
      // Inline: Probe never waits for the store (pipeline/readiness.h).
      {"/readyz", get, kPublic, kInline, true,
       [&readiness](const RouteRequest&, Respond respond) {
         readiness.Probe([respond = std::move(respond)](const Status& ready) {
           respond(ready.ok() ? MakeResponse(200, "ready\n", "text/plain")
                              : MakeResponse(503, ready.message() + "\n", "text/plain"));
         });
       }},
      {"/metrics", get, kPublic, kInline, true,
       [&metrics](const RouteRequest&, const Respond& respond) {
         respond(MakeResponse(200, metrics.Render(), "text/plain; version=0.0.4"));
       }},
      {"/", get, kPublic, kInline, false,
       Fixed([](const RouteRequest& r) { return AnswerDashboard(r.http, kDashboardPage); })},
      {std::string(kDashboardAssetPrefix) + "{file}", get, kPublic, kInline, false,
       Fixed([](const RouteRequest& r) { return AnswerDashboard(r.http, r.name); })},
  };
}

Router::Router(const RouterParts& parts, QueryWorkerOptions workers)
    : auth_(parts.auth),
      routes_(BuildRoutes(parts)),
      metrics_(parts.metrics),
      max_waiting_(workers.max_waiting),
      deadline_(workers.deadline),
      workers_(static_cast<std::size_t>(std::max(1, workers.threads))) {}

Router::~Router() { workers_.join(); }

std::variant<Router::Match, HttpResponse> Router::Find(const HttpRequestHeader& header) const {
  auto url = boost::urls::parse_origin_form(header.target());
  if (!url) return ErrorResponse(400, "malformed request target");
  std::string path = url->path();  // percent-decoded
  // "/api/v1/repositories/" is the list, as a directory would be.
  if (path.size() > 1 && path.ends_with('/')) path.pop_back();
  const Route* route = nullptr;
  std::string name;
  for (const Route& candidate : routes_) {
    if (auto value = MatchPath(candidate.path, path)) {
      route = &candidate;
      name = std::move(*value);
      break;
    }
  }
  if (route == nullptr) return ErrorResponse(404, "no such route: " + path);
  // Credentials first: without them, not even the methods a route takes are revealed.
  if (route->access == Access::kCredentials && !auth_.Allows(header[http::field::authorization])) {
    return Unauthorized();
  }
  const http::verb method = header.method() == http::verb::head ? http::verb::get : header.method();
  if (std::find(route->methods.begin(), route->methods.end(), method) == route->methods.end()) {
    return MethodNotAllowed(AllowHeader(*route));
  }
  return Match{route, std::move(name)};
}

std::optional<HttpResponse> Router::Screen(const HttpRequestHeader& header) {
  auto found = Find(header);
  if (auto* refusal = std::get_if<HttpResponse>(&found)) return std::move(*refusal);
  return std::nullopt;
}

void Router::Handle(HttpRequest request, Respond respond) {
  auto found = Find(request.base());
  if (auto* refusal = std::get_if<HttpResponse>(&found)) return respond(std::move(*refusal));
  const Route* route = std::get<Match>(found).route;
  std::string name = std::move(std::get<Match>(found).name);
  // Find parsed the target, so it parses.
  auto url = boost::urls::parse_origin_form(request.target());
  if (route->runs == Runs::kInline) {
    return route->handler(RouteRequest{request, std::move(name), url->params()},
                          std::move(respond));
  }
  if (waiting_.fetch_add(1) >= max_waiting_) {
    waiting_.fetch_sub(1);
    return respond(Unavailable("too many queries waiting for the store"));
  }
  // Answered once: by the worker, or with 503 by the deadline when the store does not answer
  // in time (the worker's late answer is then dropped).
  auto once = std::make_shared<Once<HttpResponse>>(std::move(respond));
  deadlines_.After(
      deadline_, [once] { return once->Called(); },
      [once, &metrics = metrics_, ms = deadline_.count()] {
        if (once->Call(
                Unavailable("the store did not answer within " + std::to_string(ms) + " ms"))) {
          metrics.QueryTimeout();
        }
      });
  // The request moves to the worker; its target still backs the parsed parameters there.
  auto owned = std::make_shared<HttpRequest>(std::move(request));
  boost::asio::post(workers_, [this, route, owned, once, name = std::move(name)]() mutable {
    waiting_.fetch_sub(1);
    if (once->Called()) return;  // answered by the deadline while it waited: not run at all
    auto params = boost::urls::parse_origin_form(owned->target());
    route->handler(RouteRequest{*owned, std::move(name), params->params()},
                   [once](HttpResponse response) { once->Call(std::move(response)); });
  });
}

}  // namespace drec
