// What a route's handler receives: the request, the path's `{name}` (percent-decoded, may hold
// `/`) and the query parameters. The router fills it; handlers never parse the path.
#pragma once

#include <boost/url/params_view.hpp>
#include <string>

#include "http/handler.h"

namespace drec {

struct RouteRequest {
  const HttpRequest& http;
  std::string name;  // empty for routes without {name}
  boost::urls::params_view params;
};

}  // namespace drec
