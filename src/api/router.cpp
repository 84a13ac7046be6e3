#include "api/router.h"

#include <spdlog/spdlog.h>

#include <boost/json/serialize.hpp>

#include "api/dashboard.h"
#include "api/json_views.h"
#include "api/query_api.h"
#include "ingest/envelope_parser.h"

namespace drec {

namespace http = boost::beast::http;

HttpResponse MakeResponse(unsigned status, std::string body, std::string_view content_type) {
  HttpResponse res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  return res;
}

Router::Router(std::string ingest_route, DeletePolicy delete_policy, const Authenticator& auth,
               Committer& committer, Store& store, Metrics& metrics)
    : ingest_route_(std::move(ingest_route)),
      delete_policy_(delete_policy),
      auth_(auth),
      committer_(committer),
      store_(store),
      metrics_(metrics) {}

HttpResponse Router::Unauthorized() const {
  auto res = MakeResponse(401, ErrorJson("missing or wrong credentials"));
  res.set(http::field::www_authenticate, R"(Bearer realm="drec", Basic realm="drec")");
  return res;
}

void Router::Handle(HttpRequest request, Respond respond) {
  const std::string_view target = request.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const bool get = request.method() == http::verb::get || request.method() == http::verb::head;
  auto method_not_allowed = [&](std::string_view allow) {
    auto res = MakeResponse(405, ErrorJson("method not allowed"));
    res.set(http::field::allow, allow);
    respond(std::move(res));
  };

  if (path == ingest_route_) {
    if (request.method() != http::verb::post) return method_not_allowed("POST");
    return Ingest(request, std::move(respond));
  }
  if (path == "/healthz" || path == "/readyz" || path == "/metrics") {
    if (!get) return method_not_allowed("GET, HEAD");
    if (path == "/healthz") return respond(MakeResponse(200, "ok\n", "text/plain"));
    if (path == "/metrics") {
      return respond(MakeResponse(200, metrics_.Render(), "text/plain; version=0.0.4"));
    }
    Status ready = store_.Ping();
    return respond(ready.ok() ? MakeResponse(200, "ready\n", "text/plain")
                              : MakeResponse(503, "store unreachable: " + ready.message() + "\n",
                                             "text/plain"));
  }
  if (path.starts_with("/api/")) {
    if (!auth_.Allows(request[http::field::authorization])) return respond(Unauthorized());
    if (!get) return method_not_allowed("GET, HEAD");
    return respond(AnswerQuery(store_, target));
  }
  if (IsDashboardPath(path)) return respond(AnswerDashboard(request, path));  // no credentials
  respond(MakeResponse(404, ErrorJson("no such route")));
}

void Router::Ingest(const HttpRequest& request, Respond respond) {
  if (!auth_.Allows(request[http::field::authorization])) return respond(Unauthorized());
  if (!IsAcceptedContentType(request[http::field::content_type])) {
    return respond(MakeResponse(
        415, ErrorJson("Content-Type must be application/vnd.docker.distribution.events.v1+json, "
                       "...events.v2+json or application/json")));
  }
  auto envelope = ParseEnvelope(request.body());
  if (!envelope.ok()) return respond(MakeResponse(400, ErrorJson(envelope.status().message())));
  metrics_.EventsReceived(static_cast<std::int64_t>(envelope->events.size()));
  Interpretation interpretation = Interpret(envelope->events, delete_policy_);
  for (IgnoreReason reason : interpretation.ignored) metrics_.EventIgnored(reason);
  const std::string accepted = boost::json::serialize(boost::json::object{
      {"events", envelope->events.size()}, {"ignored", interpretation.ignored.size()}});
  if (interpretation.effects.empty()) return respond(MakeResponse(200, accepted));

  auto unavailable = [](const Status& status) {
    auto res = MakeResponse(503, ErrorJson(status.message()));
    res.set(http::field::retry_after, "1");
    return res;
  };
  // `respond` is needed by whichever of Submit's outcomes happens, so it is shared.
  auto shared_respond = std::make_shared<Respond>(std::move(respond));
  Status queued = committer_.Submit(
      std::move(interpretation.effects),
      [shared_respond, accepted, unavailable](const Status& committed) {
        (*shared_respond)(committed.ok() ? MakeResponse(200, accepted) : unavailable(committed));
      });
  if (!queued.ok()) (*shared_respond)(unavailable(queued));
}

}  // namespace drec
