#include "api/dashboard.h"

#include <algorithm>

#include "api/responses.h"

namespace drec {
namespace {

namespace http = boost::beast::http;

// Only the dashboard's own files: no inline script or style, no eval (Chart.js needs
// none), no other origin, not framed. connect-src 'self' lets it reach the API.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'none'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

void SetSecurityHeaders(HttpResponse& res) {
  res.set("Content-Security-Policy", kContentSecurityPolicy);
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  res.set("Referrer-Policy", "no-referrer");
  res.set("Cross-Origin-Opener-Policy", "same-origin");
}

const EmbeddedAsset* Find(std::string_view name) {
  const auto assets = DashboardAssets();
  auto it = std::find_if(assets.begin(), assets.end(),
                         [&](const EmbeddedAsset& a) { return a.name == name; });
  return it == assets.end() ? nullptr : &*it;
}

// True if an If-None-Match list names `etag` (or is "*").
bool Matches(std::string_view if_none_match, std::string_view etag) {
  while (!if_none_match.empty()) {
    const size_t comma = if_none_match.find(',');
    std::string_view candidate = if_none_match.substr(0, comma);
    while (candidate.starts_with(' ')) candidate.remove_prefix(1);
    while (candidate.ends_with(' ')) candidate.remove_suffix(1);
    if (candidate.starts_with("W/")) candidate.remove_prefix(2);  // weak comparison
    if (candidate == etag || candidate == "*") return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

HttpResponse AnswerDashboard(const HttpRequest& request, std::string_view file) {
  const EmbeddedAsset* asset = Find(file);
  if (asset == nullptr) return ErrorResponse(404, "no such file");

  // The files change only with the binary; revalidating each time costs a 304 and
  // means an upgraded drec never meets a stale script in a browser cache.
  const bool unchanged = Matches(request[http::field::if_none_match], asset->etag);
  HttpResponse res{unchanged ? http::status::not_modified : http::status::ok, 11};
  res.set(http::field::content_type, asset->content_type);
  res.set(http::field::cache_control, "no-cache");
  res.set(http::field::etag, asset->etag);
  SetSecurityHeaders(res);
  // A HEAD answer carries the GET answer's Content-Length; the server sends no body with it.
  if (!unchanged) res.body() = std::string(asset->body);
  return res;
}

}  // namespace drec
