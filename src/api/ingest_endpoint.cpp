#include "api/ingest_endpoint.h"

#include <boost/json/serialize.hpp>
#include <memory>

#include "api/responses.h"
#include "ingest/envelope_parser.h"

namespace drec {

namespace http = boost::beast::http;

void IngestEndpoint::Handle(const RouteRequest& request, const std::string& registry,
                            Respond respond) {
  if (!IsAcceptedContentType(request.http[http::field::content_type])) {
    return respond(
        ErrorResponse(415,
                      "Content-Type must be application/vnd.docker.distribution.events.v1+json, "
                      "...events.v2+json or application/json"));
  }
  auto envelope = ParseEnvelope(request.http.body());
  if (!envelope.ok()) return respond(ErrorResponse(400, envelope.status().message()));
  metrics_.EventsReceived(static_cast<std::int64_t>(envelope->events.size()));
  Interpretation interpretation = Interpret(envelope->events, delete_policy_, classifier_);
  for (IgnoreReason reason : interpretation.ignored) metrics_.EventIgnored(reason);
  for (std::string_view cls : interpretation.classes) metrics_.EventClassified(cls);
  const std::string accepted = boost::json::serialize(boost::json::object{
      {"events", envelope->events.size()}, {"ignored", interpretation.ignored.size()}});
  if (interpretation.effects.empty()) return respond(MakeResponse(200, accepted));
  for (EventEffect& effect : interpretation.effects) effect.registry = registry;

  // `respond` is needed by whichever of Submit's outcomes happens, so it is shared.
  auto shared_respond = std::make_shared<Respond>(std::move(respond));
  Status queued = committer_.Submit(
      std::move(interpretation.effects), [shared_respond, accepted](const Status& committed) {
        (*shared_respond)(committed.ok() ? MakeResponse(200, accepted)
                                         : Unavailable(committed.message()));
      });
  if (!queued.ok()) (*shared_respond)(Unavailable(queued.message()));
}

}  // namespace drec
