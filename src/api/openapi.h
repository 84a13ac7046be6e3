// The OpenAPI 3.0 description of drec's HTTP surface: ingest, query API and probes.
// Served at GET /api/v1/openapi.json (with the API's credentials); tests/api/api_test.py
// validates every JSON response it receives against it.
#pragma once

#include <string_view>

namespace drec {

// The document, as JSON text.
std::string_view OpenApiDocument();

}  // namespace drec
