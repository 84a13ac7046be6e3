#include "api/responses.h"

#include <boost/json/serialize.hpp>

namespace drec {

namespace http = boost::beast::http;

HttpResponse MakeResponse(unsigned status, std::string body, std::string_view content_type) {
  HttpResponse res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  return res;
}

std::string ErrorJson(std::string_view message) {
  return boost::json::serialize(boost::json::object{{"error", message}});
}

HttpResponse JsonResponse(unsigned status, const boost::json::value& body) {
  return MakeResponse(status, boost::json::serialize(body));
}

HttpResponse ErrorResponse(unsigned status, std::string_view message) {
  return MakeResponse(status, ErrorJson(message));
}

HttpResponse Unauthorized() {
  auto res = ErrorResponse(401, "missing or wrong credentials");
  res.set(http::field::www_authenticate, R"(Bearer realm="drec", Basic realm="drec")");
  return res;
}

HttpResponse MethodNotAllowed(std::string_view allow) {
  auto res = ErrorResponse(405, "method not allowed");
  res.set(http::field::allow, allow);
  return res;
}

HttpResponse Unavailable(std::string_view message) {
  auto res = ErrorResponse(503, message);
  res.set(http::field::retry_after, "1");
  return res;
}

HttpResponse StoreFailure(const Status& status) { return Unavailable(status.message()); }

}  // namespace drec
