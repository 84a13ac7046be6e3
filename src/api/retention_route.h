// GET /api/v1/retention/plan: the plan of the configured retention policy (retention
// .policy_file), the same JSON as `drec retention plan --format json`, for the dashboard's
// cleanup view and for tools. It only reads: deleting stays with `drec retention apply`.
#pragma once

#include <chrono>
#include <string>

#include "api/route_request.h"
#include "http/handler.h"
#include "store/registries/registry_set.h"

namespace drec {

// `at` (RFC 3339, default now) is the evaluation time. 404 when no policy is configured, 400 for
// a bad `at`, 500 naming the key for a policy that does not load, 502 when the registry the
// policy names cannot be read (the plan is never served on half a view).
// The registry is asked only until `deadline` (the query deadline): past it, 502.
HttpResponse RetentionPlanRoute(const RegistrySet& registries, const std::string& policy_file,
                                std::chrono::steady_clock::time_point deadline,
                                const RouteRequest& request);

}  // namespace drec
