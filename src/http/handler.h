// The seam between the HTTP transport and what drec does with a request.
// The transport knows nothing about events or stores; handlers know nothing
// about sockets, TLS or timeouts.
#pragma once

#include <boost/beast/http.hpp>
#include <functional>
#include <optional>

namespace drec {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
// A request's start line and fields, as read before its body.
using HttpRequestHeader = boost::beast::http::request_header<>;

// Delivers the response; callable from any thread, exactly once. Handlers that
// wait (ingest waits for the commit) keep it and call it later.
using Respond = std::function<void(HttpResponse)>;

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // Called once a request's header is read, before a byte of its body is: an answer here (no
  // such route, no credentials, a method the route does not take) is sent at once and the body
  // is never read, so a client without credentials cannot make the server hold its body. No
  // answer (nullopt): the body is read and the request goes to Handle.
  virtual std::optional<HttpResponse> Screen(const HttpRequestHeader& /*header*/) {
    return std::nullopt;
  }
  // A whole request that passed Screen.
  virtual void Handle(HttpRequest request, Respond respond) = 0;
};

}  // namespace drec
