// Building HTTP responses: every answer of drec's routes goes through these, so status codes,
// content types and the JSON error shape are decided in one place.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "http/handler.h"
#include "util/status.h"

namespace drec {

// A response with a body and content type; the transport fills in the rest.
HttpResponse MakeResponse(unsigned status, std::string body,
                          std::string_view content_type = "application/json");

// {"error": message}: every error of drec's routes has this shape.
std::string ErrorJson(std::string_view message);

// A JSON body.
HttpResponse JsonResponse(unsigned status, const boost::json::value& body);

// An error with the JSON error body.
HttpResponse ErrorResponse(unsigned status, std::string_view message);

// 401 with the challenges the registry and API clients understand.
HttpResponse Unauthorized();

// 405 with the methods the route takes.
HttpResponse MethodNotAllowed(std::string_view allow);

// 503 with Retry-After: the caller (a registry) should retry, nothing was lost.
HttpResponse Unavailable(std::string_view message);

// A store's failure as seen by an API client: every store error is "try again later" (503),
// since the API validates its parameters before a store sees them.
HttpResponse StoreFailure(const Status& status);

}  // namespace drec
