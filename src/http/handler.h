// The seam between the HTTP transport and what drec does with a request.
// The transport knows nothing about events or stores; handlers know nothing
// about sockets, TLS or timeouts.
#pragma once

#include <boost/beast/http.hpp>
#include <functional>

namespace drec {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

// Delivers the response; callable from any thread, exactly once. Handlers that
// wait (ingest waits for the commit) keep it and call it later.
using Respond = std::function<void(HttpResponse)>;

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // `tls_client_verified` is true when a client certificate was verified (mTLS).
  virtual void Handle(HttpRequest request, Respond respond) = 0;
};

}  // namespace drec
