// drec's HTTP surface in one table: every route's path, methods, whether it needs credentials,
// where it runs and its handler. The router only matches and dispatches; adding a route is one
// line in BuildRoutes. tests/unit/api/routes_test.cpp checks the table against
// docs/openapi.json, so the document and the server cannot drift apart.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/route_request.h"
#include "http/handler.h"

namespace drec {

// Who may call a route. Probes and the dashboard's files are public: they carry no repository,
// tag or actor names.
enum class Access : std::uint8_t { kPublic, kCredentials };

// Where a handler runs. kInline: on the I/O thread that read the request, for handlers that
// never wait (they only compute, or hand work to the committer). kWorkers: on the query
// workers, for handlers that wait for the store, so a slow store never stalls connections.
enum class Runs : std::uint8_t { kInline, kWorkers };

// Answers a matched request through `respond`, now or later, exactly once.
using RouteHandler = std::function<void(const RouteRequest&, Respond)>;

struct Route {
  // An OpenAPI-style path: literal, or with one `{name}` that matches one or more segments but
  // never a `/-/` (which starts a sub-resource); `{file}` matches one segment.
  std::string path;
  // GET routes take HEAD too (answered without a body by the transport).
  std::vector<boost::beast::http::verb> methods;
  Access access;
  Runs runs;
  // Documented in docs/openapi.json (the dashboard's files are not part of the API).
  bool documented;
  RouteHandler handler;
};

// A request's path matched against a route's: the value of `{name}` or `{file}`, or nullopt.
std::optional<std::string> MatchPath(std::string_view pattern, std::string_view path);

// The `Allow` header of a route: its methods, HEAD beside GET.
std::string AllowHeader(const Route& route);

}  // namespace drec
