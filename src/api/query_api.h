// The read side of the HTTP API (SPEC 5): parses the target and parameters,
// asks the store, renders JSON. Knows nothing about ingest or authentication.
#pragma once

#include <string_view>

#include "http/handler.h"
#include "store/store.h"

namespace drec {

// Answers GET requests under /api/v1/; `target` is the raw request target.
HttpResponse AnswerQuery(Store& store, std::string_view target);

}  // namespace drec
