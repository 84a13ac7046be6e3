// Turns a notification body into typed events. Only the body's shape can make
// parsing fail (not JSON, no `events` array); an odd event never does, because
// one rejected envelope stalls every later event of the registry
// (docs/counting.md#never-4xx-for-content).
#pragma once

#include <string_view>

#include "ingest/event.h"
#include "util/status.h"

namespace drec {

// Accepted Content-Type values, parameters ignored (docs/openapi.json, the ingest operation).
bool IsAcceptedContentType(std::string_view content_type);

// Parses one envelope. InvalidArgument (-> 400) when the body is not JSON or has
// no `events` array. Fields of the wrong type inside an event are treated as
// absent, and so are numbers beyond the 64-bit range; the semantics then ignore the event
// with a reason. Strings are kept whole, however long (the body limit bounds them): the
// semantics check names against the registry's grammar, and a cut name could pass it.
Result<Envelope> ParseEnvelope(std::string_view body);

}  // namespace drec
