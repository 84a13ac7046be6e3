#include "registry_client/registry_client.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "model/names.h"
#include "registry_client/www_authenticate.h"

namespace drec {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
namespace urls = boost::urls;
using Clock = std::chrono::steady_clock;

// Bounds on what a registry may send, so a hostile one cannot exhaust memory.
constexpr std::size_t kManifestBodyLimit = std::size_t{4} * 1024 * 1024;
constexpr std::size_t kTagPageBodyLimit = std::size_t{16} * 1024 * 1024;
constexpr std::size_t kSmallBodyLimit =
    std::size_t{1024} * 1024;  // tokens, DELETE and HEAD answers
constexpr std::uint32_t kHeaderLimit = 64 * 1024;
// More pages than any registry has tags for (16 MiB pages); a loop of Link headers ends here.
constexpr int kMaxTagPages = 10000;
constexpr std::chrono::seconds kDefaultTokenLifetime{60};

constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
constexpr const char* kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr const char* kManifestAccept =
    "application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

// scheme://host:port of one server (the registry, or a token service).
struct Origin {
  bool https = false;
  std::string host;         // name or address, IPv6 without brackets
  bool host_is_ip = false;  // no SNI; the certificate must name the address
  std::string port;
  std::string host_header;  // as the URL wrote host and port
};

struct HttpResponse {
  unsigned status = 0;
  std::string body;
  std::string content_type;
  std::string docker_content_digest;
  std::string www_authenticate;
  std::string link;
};

Result<Origin> ParseOrigin(const urls::url_view& url) {
  Origin origin;
  if (url.scheme_id() == urls::scheme::https) {
    origin.https = true;
  } else if (url.scheme_id() != urls::scheme::http) {
    return Status::InvalidArgument("scheme is not http or https");
  }
  if (!url.has_authority() || url.host_address().empty()) {
    return Status::InvalidArgument("no host");
  }
  if (url.has_userinfo()) return Status::InvalidArgument("user info in the URL");
  origin.host = url.host_address();
  origin.host_is_ip =
      url.host_type() == urls::host_type::ipv4 || url.host_type() == urls::host_type::ipv6;
  origin.port = url.has_port() ? std::string(url.port()) : (origin.https ? "443" : "80");
  origin.host_header = url.encoded_host_and_port();
  return origin;
}

std::string Sha256Digest(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  std::string out = "sha256:";
  char hex[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", md[i]);
    out += hex;
  }
  return out;
}

std::string Base64(const std::string& in) {
  std::string out(beast::detail::base64::encoded_size(in.size()), '\0');
  out.resize(beast::detail::base64::encode(out.data(), in.data(), in.size()));
  return out;
}

// Printable ASCII only, at most `max` bytes: registry text goes into our messages and logs.
std::string Sanitize(std::string_view text, std::size_t max = 200) {
  std::string out;
  for (char c : text) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  return out;
}

// " (CODE: message)" from the registry's {"errors": [...]} body, or "".
std::string RegistryErrorDetail(const std::string& body) {
  boost::system::error_code ec;
  const boost::json::value json = boost::json::parse(body, ec);
  if (ec || !json.is_object()) return "";
  const boost::json::value* errors = json.as_object().if_contains("errors");
  if (errors == nullptr || !errors->is_array() || errors->as_array().empty()) return "";
  const boost::json::value& first = errors->as_array().front();
  if (!first.is_object()) return "";
  std::string detail;
  for (const char* key : {"code", "message"}) {
    const boost::json::value* v = first.as_object().if_contains(key);
    if (v != nullptr && v->is_string()) {
      if (!detail.empty()) detail += ": ";
      detail += Sanitize(v->as_string());
    }
  }
  return detail.empty() ? "" : " (" + detail + ")";
}

std::string MediaTypeOnly(std::string_view content_type) {
  const std::size_t semicolon = content_type.find(';');
  std::string_view type = content_type.substr(0, semicolon);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  return std::string(type);
}

// Runs `ioc` until the operation `start` begins has completed; the streams' expiry (or, for the
// resolver, the deadline here) bounds the wait.
template <typename Start>
beast::error_code Await(net::io_context& ioc, Clock::time_point deadline, Start start,
                        const std::function<void()>& cancel) {
  std::optional<beast::error_code> result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run_until(deadline);
  if (!result) {
    cancel();
    ioc.restart();
    ioc.run();  // lets the cancelled operation complete
    return beast::error::timeout;
  }
  return *result;
}

// A transport failure as a Status; `what` names the registry and the request.
Status TransportError(const std::string& what, const beast::error_code& ec,
                      std::chrono::milliseconds timeout, const std::string& tls_detail = "") {
  const std::string base = what + ": no HTTP response: ";
  if (ec == beast::error::timeout || ec == net::error::timed_out) {
    return Status::Unavailable(base + "timed out after " + std::to_string(timeout.count()) + " ms");
  }
  if (ec == http::error::body_limit) {
    return Status::Internal(what + ": the response body exceeds the client's bound");
  }
  if (ec == http::error::header_limit) {
    return Status::Internal(what + ": the response header exceeds the client's bound");
  }
  if (ec.category() == net::error::get_ssl_category()) {
    return Status::Internal(base + "TLS: " + ec.message() + tls_detail);
  }
  if (ec.category() == beast::error_code(http::error::end_of_stream).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message) {
    return Status::Internal(what + ": not an HTTP response: " + ec.message());
  }
  return Status::Unavailable(base + ec.message());
}

}  // namespace

struct RegistryClient::Impl {
  RegistryEndpoint endpoint;
  Origin origin;
  std::string base_path;  // "" (the URL has no path)
  std::unique_ptr<ssl::context> tls;

  struct CachedToken {
    std::string token;
    Clock::time_point expires;
  };
  std::mutex mutex;
  std::map<std::string, CachedToken> tokens;  // by realm, service and scope
  std::map<std::string, std::string> hints;   // "METHOD repository" -> token cache key

  std::string Describe(const std::string& method, const std::string& target) const {
    return "registry " + endpoint.url + ": " + method + " " + target;
  }

  // One request on a connection of its own.
  Result<HttpResponse> Exchange(const Origin& to, http::verb verb, const std::string& target,
                                const std::string& accept, const std::string& authorization,
                                std::size_t body_limit, const std::string& what) const {
    const Clock::time_point deadline = Clock::now() + endpoint.timeout;
    net::io_context ioc;
    net::ip::tcp::resolver resolver(ioc);
    net::ip::tcp::resolver::results_type endpoints;
    beast::error_code ec = Await(
        ioc, deadline,
        [&](auto handler) {
          resolver.async_resolve(
              to.host, to.port,
              [&endpoints, handler](beast::error_code e,
                                    net::ip::tcp::resolver::results_type r) mutable {
                endpoints = std::move(r);
                handler(e);
              });
        },
        [&] { resolver.cancel(); });
    if (ec) return TransportError(what, ec, endpoint.timeout);

    http::request<http::empty_body> request{verb, target, 11};
    request.set(http::field::host, to.host_header);
    request.set(http::field::user_agent, "drec-registry-client");
    if (!accept.empty()) request.set(http::field::accept, accept);
    if (!authorization.empty()) request.set(http::field::authorization, authorization);
    request.set(http::field::connection, "close");

    http::response_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(body_limit);
    parser.skip(verb == http::verb::head);  // a HEAD answer announces a body it does not send
    beast::flat_buffer buffer;

    auto exchange = [&](auto& stream) -> beast::error_code {
      beast::error_code e = Await(
          ioc, deadline, [&](auto handler) { http::async_write(stream, request, handler); },
          [&] { beast::get_lowest_layer(stream).cancel(); });
      if (e) return e;
      return Await(
          ioc, deadline, [&](auto handler) { http::async_read(stream, buffer, parser, handler); },
          [&] { beast::get_lowest_layer(stream).cancel(); });
    };
    auto connect = [&](beast::tcp_stream& tcp) {
      tcp.expires_at(deadline);
      return Await(
          ioc, deadline, [&](auto handler) { tcp.async_connect(endpoints, handler); },
          [&] { tcp.cancel(); });
    };

    if (to.https) {
      beast::ssl_stream<beast::tcp_stream> stream(ioc, *tls);
      SSL* ssl_handle = stream.native_handle();
      if (!to.host_is_ip) SSL_set_tlsext_host_name(ssl_handle, to.host.c_str());
      if (endpoint.insecure_skip_verify) {
        stream.set_verify_mode(ssl::verify_none);
      } else {
        stream.set_verify_mode(ssl::verify_peer);
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
        const int set = to.host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, to.host.c_str())
                                      : X509_VERIFY_PARAM_set1_host(param, to.host.c_str(), 0);
        if (set != 1) return Status::InvalidArgument(what + ": cannot verify host " + to.host);
      }
      ec = connect(beast::get_lowest_layer(stream));
      if (ec) return TransportError(what, ec, endpoint.timeout);
      ec = Await(
          ioc, deadline,
          [&](auto handler) { stream.async_handshake(ssl::stream_base::client, handler); },
          [&] { beast::get_lowest_layer(stream).cancel(); });
      if (ec) {
        std::string detail;
        const long verify = SSL_get_verify_result(ssl_handle);
        if (verify != X509_V_OK) {
          detail = std::string(" (") + X509_verify_cert_error_string(verify) +
                   "; ca_file or insecure_skip_verify set the trust)";
        }
        return TransportError(what, ec, endpoint.timeout, detail);
      }
      ec = exchange(stream);
      beast::error_code ignored;
      beast::get_lowest_layer(stream).socket().close(ignored);
    } else {
      beast::tcp_stream stream(ioc);
      ec = connect(stream);
      if (ec) return TransportError(what, ec, endpoint.timeout);
      ec = exchange(stream);
    }
    if (ec) return TransportError(what, ec, endpoint.timeout);

    HttpResponse response;
    const auto& message = parser.get();
    response.status = message.result_int();
    response.content_type = std::string(message[http::field::content_type]);
    response.docker_content_digest = std::string(message["Docker-Content-Digest"]);
    response.www_authenticate = std::string(message[http::field::www_authenticate]);
    response.link = std::string(message[http::field::link]);
    response.body = parser.release().body();
    return response;
  }

  std::string BasicAuthorization() const {
    if (endpoint.username.empty()) return "";
    return "Basic " + Base64(endpoint.username + ":" + endpoint.password);
  }

  std::string Who() const {
    return endpoint.username.empty() ? "anonymous access (no username configured)"
                                     : "user \"" + Sanitize(endpoint.username) + "\"";
  }

  // The error for an HTTP status other than the one the call expects.
  Status HttpError(const std::string& what, const HttpResponse& r) const {
    const std::string message =
        what + ": HTTP " + std::to_string(r.status) + RegistryErrorDetail(r.body);
    switch (r.status) {
      case 400:
        return Status::InvalidArgument(message);
      case 401:
      case 403:
        return Status::PermissionDenied(message + ": the registry refused " + Who());
      case 404:
        return Status::NotFound(message);
      case 429:
        return Status::Unavailable(message + ": too many requests, try again later");
      default:
        if (r.status >= 500 && r.status <= 599) return Status::Unavailable(message);
        return Status::Internal(message);
    }
  }

  // A token for `challenge`: cached, or fetched from its realm.
  Result<std::string> Token(const BearerChallenge& challenge, const std::string& what) {
    const std::string key = challenge.realm + "\n" + challenge.service + "\n" + challenge.scope;
    {
      std::lock_guard lock(mutex);
      auto it = tokens.find(key);
      if (it != tokens.end() && it->second.expires > Clock::now()) return it->second.token;
    }
    urls::url realm;
    if (auto parsed = urls::parse_absolute_uri(challenge.realm); parsed) {
      realm = *parsed;
    } else {
      return Status::Internal(
          what + ": HTTP 401: the token realm is not a URL: " + Sanitize(challenge.realm));
    }
    Result<Origin> to = ParseOrigin(realm);
    if (!to.ok()) {
      return Status::Internal(what + ": HTTP 401: token realm " + Sanitize(challenge.realm) + ": " +
                              to.status().message());
    }
    if (!challenge.service.empty()) realm.params().append({"service", challenge.service});
    if (!challenge.scope.empty()) realm.params().append({"scope", challenge.scope});
    std::string target(realm.encoded_target());
    if (target.empty()) target = "/";
    const std::string token_what =
        what + ": HTTP 401: token service GET " + Sanitize(std::string(realm.encoded_path()));
    Result<HttpResponse> r = Exchange(*to, http::verb::get, target, "application/json",
                                      BasicAuthorization(), kSmallBodyLimit, token_what);
    if (!r.ok()) return r.status();
    if (r->status != 200) {
      if (r->status == 401 || r->status == 403) {
        return Status::PermissionDenied(token_what + ": HTTP " + std::to_string(r->status) +
                                        ": the token service refused " + Who());
      }
      return HttpError(token_what, *r);
    }
    boost::system::error_code ec;
    const boost::json::value json = boost::json::parse(r->body, ec);
    const boost::json::object* object = ec ? nullptr : json.if_object();
    std::string token;
    std::chrono::seconds lifetime = kDefaultTokenLifetime;
    if (object != nullptr) {
      for (const char* field : {"token", "access_token"}) {
        const boost::json::value* v = object->if_contains(field);
        if (v != nullptr && v->is_string() && !v->as_string().empty()) {
          token = std::string(v->as_string());
          break;
        }
      }
      const boost::json::value* expires = object->if_contains("expires_in");
      if (expires != nullptr && expires->is_int64() && expires->as_int64() > 0) {
        lifetime = std::chrono::seconds(expires->as_int64());
      }
    }
    if (token.empty()) {
      return Status::Internal(token_what + ": HTTP 200 without a token or access_token");
    }
    // Refresh a little early: the request that follows must not carry a token that expires
    // on the way.
    const auto margin = std::min<std::chrono::seconds>(lifetime / 10, std::chrono::seconds(30));
    std::lock_guard lock(mutex);
    tokens[key] = CachedToken{token, Clock::now() + lifetime - margin};
    return token;
  }

  // A request with authentication: Basic when a username is set, a cached bearer token for
  // this kind of request when there is one, and on a Bearer challenge a token and one retry.
  Result<HttpResponse> Request(http::verb verb, const std::string& target,
                               const std::string& repository, const std::string& accept,
                               std::size_t body_limit) {
    const std::string method(http::to_string(verb));
    const std::string what = Describe(method, target);
    const std::string hint_key = method + " " + repository;
    std::string authorization = BasicAuthorization();
    std::string used_token_key;
    {
      std::lock_guard lock(mutex);
      auto hint = hints.find(hint_key);
      if (hint != hints.end()) {
        auto token = tokens.find(hint->second);
        if (token != tokens.end() && token->second.expires > Clock::now()) {
          authorization = "Bearer " + token->second.token;
          used_token_key = hint->second;
        }
      }
    }
    Result<HttpResponse> r =
        Exchange(origin, verb, target, accept, authorization, body_limit, what);
    if (!r.ok() || r->status != 401) return r;
    std::optional<BearerChallenge> challenge = ParseBearerChallenge(r->www_authenticate);
    if (!challenge) return r;  // basic auth refused: the caller's HttpError says so
    const std::string key = challenge->realm + "\n" + challenge->service + "\n" + challenge->scope;
    if (!used_token_key.empty()) {
      // The registry refused a token we still thought valid: fetch a new one.
      std::lock_guard lock(mutex);
      tokens.erase(used_token_key);
    }
    Result<std::string> token = Token(*challenge, what);
    if (!token.ok()) return token.status();
    {
      std::lock_guard lock(mutex);
      hints[hint_key] = key;
    }
    return Exchange(origin, verb, target, accept, "Bearer " + *token, body_limit, what);
  }

  Status CheckName(const std::string& repository) const {
    if (IsRepositoryName(repository)) return Status::Ok();
    return Status::InvalidArgument("registry " + endpoint.url + ": \"" + Sanitize(repository) +
                                   "\" is not a repository name");
  }

  Status CheckReference(const std::string& repository, const std::string& reference) const {
    if (Status s = CheckName(repository); !s.ok()) return s;
    if (IsTag(reference) || IsDigest(reference)) return Status::Ok();
    return Status::InvalidArgument("registry " + endpoint.url + ": \"" + Sanitize(reference) +
                                   "\" is neither a tag nor a digest");
  }

  // The request target of a Link, which must stay on the registry (credentials go with it).
  Result<std::string> ResolveNext(const std::string& link, const std::string& what) const {
    auto parsed = urls::parse_uri_reference(link);
    if (!parsed) {
      return Status::Internal(what + ": HTTP 200: a Link that is not a URL: " + Sanitize(link));
    }
    if (parsed->has_scheme()) {
      Result<Origin> to = ParseOrigin(*parsed);
      if (!to.ok() || to->https != origin.https || to->host != origin.host ||
          to->port != origin.port) {
        return Status::Internal(what + ": HTTP 200: a Link to another server: " + Sanitize(link));
      }
    } else if (parsed->has_authority() || !parsed->encoded_path().starts_with("/v2/")) {
      return Status::Internal(what + ": HTTP 200: a Link outside /v2/: " + Sanitize(link));
    }
    std::string target(parsed->encoded_path());
    if (parsed->has_query()) target += "?" + std::string(parsed->encoded_query());
    return target;
  }
};

RegistryClient::RegistryClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RegistryClient::~RegistryClient() = default;

Result<std::unique_ptr<RegistryClient>> RegistryClient::Make(RegistryEndpoint endpoint) {
  auto impl = std::make_unique<Impl>();
  auto parsed = urls::parse_absolute_uri(endpoint.url);
  if (!parsed) {
    return Status::InvalidArgument("registry url \"" + Sanitize(endpoint.url) +
                                   "\": not an absolute URL");
  }
  Result<Origin> origin = ParseOrigin(*parsed);
  if (!origin.ok()) {
    return Status::InvalidArgument("registry url \"" + Sanitize(endpoint.url) +
                                   "\": " + origin.status().message());
  }
  if (!(parsed->encoded_path().empty() || parsed->encoded_path() == "/") || parsed->has_query() ||
      parsed->has_fragment()) {
    return Status::InvalidArgument("registry url \"" + Sanitize(endpoint.url) +
                                   "\": a path, query or fragment (the registry API is at /v2/ "
                                   "of the host)");
  }
  if (endpoint.timeout.count() <= 0) {
    return Status::InvalidArgument("registry timeout: must be positive");
  }
  // Messages name the URL as configured, without a trailing slash.
  while (!endpoint.url.empty() && endpoint.url.back() == '/') endpoint.url.pop_back();

  impl->tls = std::make_unique<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  impl->tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                             ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                             ssl::context::no_tlsv1_1,
                         ec);
  impl->tls->set_default_verify_paths(ec);
  if (ec)
    return Status::Internal("registry TLS: cannot load the system trust store: " + ec.message());
  if (!endpoint.ca_file.empty()) {
    impl->tls->load_verify_file(endpoint.ca_file, ec);
    if (ec) {
      return Status::InvalidArgument("registry ca_file \"" + endpoint.ca_file +
                                     "\": cannot load certificates: " + ec.message());
    }
  }
  impl->origin = std::move(*origin);
  impl->endpoint = std::move(endpoint);
  return std::unique_ptr<RegistryClient>(new RegistryClient(std::move(impl)));
}

Result<std::vector<std::string>> RegistryClient::ListTags(const std::string& repository) {
  if (Status s = impl_->CheckName(repository); !s.ok()) return s;
  std::string target = "/v2/" + repository + "/tags/list";
  if (impl_->endpoint.tags_page_size > 0) {
    target += "?n=" + std::to_string(impl_->endpoint.tags_page_size);
  }
  std::vector<std::string> tags;
  std::set<std::string> seen_targets;
  for (int page = 0; page < kMaxTagPages; ++page) {
    const std::string what = impl_->Describe("GET", target);
    Result<HttpResponse> r =
        impl_->Request(http::verb::get, target, repository, "application/json", kTagPageBodyLimit);
    if (!r.ok()) return r.status();
    if (r->status == 404 && page == 0) return tags;  // NAME_UNKNOWN: no such repository
    if (r->status != 200) return impl_->HttpError(what, *r);
    boost::system::error_code ec;
    const boost::json::value json = boost::json::parse(r->body, ec);
    const boost::json::object* object = ec ? nullptr : json.if_object();
    if (object == nullptr) return Status::Internal(what + ": HTTP 200 with a body not JSON");
    const boost::json::value* list = object->if_contains("tags");
    // 2.8 answers "tags": null for a repository whose tags were all deleted.
    if (list != nullptr && !list->is_null()) {
      if (!list->is_array()) return Status::Internal(what + ": HTTP 200: tags is not a list");
      for (const boost::json::value& tag : list->as_array()) {
        if (!tag.is_string()) return Status::Internal(what + ": HTTP 200: a tag not a string");
        tags.emplace_back(tag.as_string());
      }
    }
    std::optional<std::string> next = NextLink(r->link);
    if (!next) return tags;
    Result<std::string> next_target = impl_->ResolveNext(*next, what);
    if (!next_target.ok()) return next_target.status();
    if (!seen_targets.insert(*next_target).second) {
      return Status::Internal(what + ": HTTP 200: the Link leads back to a page already read");
    }
    target = std::move(*next_target);
  }
  return Status::Internal(impl_->Describe("GET", target) + ": more than " +
                          std::to_string(kMaxTagPages) + " pages of tags");
}

Result<std::optional<ManifestHead>> RegistryClient::HeadManifest(const std::string& repository,
                                                                 const std::string& reference) {
  if (Status s = impl_->CheckReference(repository, reference); !s.ok()) return s;
  const std::string target = "/v2/" + repository + "/manifests/" + reference;
  const std::string what = impl_->Describe("HEAD", target);
  Result<HttpResponse> r =
      impl_->Request(http::verb::head, target, repository, kManifestAccept, kSmallBodyLimit);
  if (!r.ok()) return r.status();
  if (r->status == 404) return std::optional<ManifestHead>();
  if (r->status != 200) return impl_->HttpError(what, *r);
  if (!IsDigest(r->docker_content_digest)) {
    return Status::Internal(what + ": HTTP 200 without a valid Docker-Content-Digest");
  }
  return std::optional<ManifestHead>(
      ManifestHead{r->docker_content_digest, MediaTypeOnly(r->content_type)});
}

Result<Manifest> RegistryClient::GetManifest(const std::string& repository,
                                             const std::string& reference) {
  if (Status s = impl_->CheckReference(repository, reference); !s.ok()) return s;
  const std::string target = "/v2/" + repository + "/manifests/" + reference;
  const std::string what = impl_->Describe("GET", target);
  Result<HttpResponse> r =
      impl_->Request(http::verb::get, target, repository, kManifestAccept, kManifestBodyLimit);
  if (!r.ok()) return r.status();
  if (r->status != 200) return impl_->HttpError(what, *r);
  Manifest manifest;
  manifest.body = std::move(r->body);
  manifest.media_type = MediaTypeOnly(r->content_type);
  // The body is what the digest names: a registry (or a proxy) that serves other bytes is
  // caught here rather than trusted.
  const std::string computed = Sha256Digest(manifest.body);
  const std::string& claimed = r->docker_content_digest;
  if (claimed.starts_with("sha256:") && claimed != computed) {
    return Status::Internal(what + ": HTTP 200: Docker-Content-Digest " + Sanitize(claimed) +
                            " but the body's digest is " + computed);
  }
  if (IsDigest(reference) && reference.starts_with("sha256:") && reference != computed) {
    return Status::Internal(what + ": HTTP 200: the body's digest is " + computed);
  }
  manifest.digest = IsDigest(claimed) ? claimed : computed;

  boost::system::error_code ec;
  const boost::json::value json = boost::json::parse(manifest.body, ec);
  const boost::json::object* object = ec ? nullptr : json.if_object();
  if (object == nullptr) return Status::Internal(what + ": HTTP 200 with a body not JSON");
  if (manifest.media_type != kOciIndex && manifest.media_type != kDockerList) {
    // A registry answering a generic type: the manifest's own mediaType field decides.
    const boost::json::value* declared = object->if_contains("mediaType");
    if (declared != nullptr && declared->is_string() &&
        (declared->as_string() == kOciIndex || declared->as_string() == kDockerList) &&
        (manifest.media_type.empty() || manifest.media_type == "application/json")) {
      manifest.media_type = std::string(declared->as_string());
    }
  }
  if (manifest.media_type == kOciIndex || manifest.media_type == kDockerList) {
    const boost::json::value* list = object->if_contains("manifests");
    if (list == nullptr || !list->is_array()) {
      return Status::Internal(what + ": HTTP 200: an index without a manifests list");
    }
    for (const boost::json::value& child : list->as_array()) {
      const boost::json::object* entry = child.if_object();
      const boost::json::value* digest = entry ? entry->if_contains("digest") : nullptr;
      if (digest == nullptr || !digest->is_string() || !IsDigest(digest->as_string())) {
        return Status::Internal(what + ": HTTP 200: an index entry without a valid digest");
      }
      manifest.children.emplace_back(digest->as_string());
    }
  }
  return manifest;
}

Status RegistryClient::DeleteManifest(const std::string& repository, const std::string& digest) {
  if (Status s = impl_->CheckName(repository); !s.ok()) return s;
  if (!IsDigest(digest)) {
    return Status::InvalidArgument("registry " + impl_->endpoint.url + ": \"" + Sanitize(digest) +
                                   "\" is not a digest (deletes are by digest)");
  }
  const std::string target = "/v2/" + repository + "/manifests/" + digest;
  const std::string what = impl_->Describe("DELETE", target);
  Result<HttpResponse> r =
      impl_->Request(http::verb::delete_, target, repository, "", kSmallBodyLimit);
  if (!r.ok()) return r.status();
  if (r->status == 202 || r->status == 200) return Status::Ok();
  if (r->status == 405) {
    return Status::Internal(what + ": HTTP 405" + RegistryErrorDetail(r->body) +
                            ": deletes are disabled in the registry (its configuration needs "
                            "storage.delete.enabled: true)");
  }
  return impl_->HttpError(what, *r);
}

}  // namespace drec
