// A small synchronous client for the CNCF Distribution registry HTTP API v2: the calls
// `drec retention` needs (list tags, resolve and read manifests, delete by digest), with basic
// auth and the Docker token flow, over HTTP or verified HTTPS. docs/retention.md ("The registry
// side") describes the behaviour and what each error means.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "util/status.h"

namespace drec {

// Where the registry is and how to talk to it.
struct RegistryEndpoint {
  std::string url;       // "https://host:port" or "http://host:port" (no path)
  std::string username;  // basic auth, and the credentials sent to a bearer-token service
  std::string password;
  std::string ca_file;  // extra trust for https; empty: the system trust store
  bool insecure_skip_verify = false;
  std::chrono::milliseconds timeout{10000};  // per request (connect + exchange)
  // Tags asked for per tags/list page (`?n=`); 0 lets the registry decide (2.8 then answers
  // everything at once). The client follows `Link: <...>; rel="next"` either way.
  std::size_t tags_page_size = 0;
};

// What a HEAD of a manifest tells: its digest (Docker-Content-Digest) and media type.
struct ManifestHead {
  std::string digest;
  std::string media_type;
};

// A manifest as served, and for an index / manifest list the digests it lists.
struct Manifest {
  std::string digest;
  std::string media_type;
  std::string body;
  std::vector<std::string> children;  // digests listed by an index / manifest list
};

// One registry. Thread-safe: every call opens a connection of its own; only the bearer-token
// cache is shared (under a mutex). Errors are Status values whose message names the registry
// URL, the request (method and path) and the HTTP status:
//   Unavailable       try again later: refused/reset connections, timeouts, 5xx, 429
//   PermissionDenied  401/403 (or a token service refusing the credentials)
//   NotFound          404 (where not an expected answer, see each call)
//   InvalidArgument   400 (a bad name or reference), or a bad RegistryEndpoint in Make
//   Internal          anything else: TLS verification failures, 405, bodies over the bound,
//                     answers that are not the API's
class RegistryClient {
 public:
  // Validates the endpoint and loads the TLS trust: InvalidArgument naming the bad field
  // (url scheme, host or path, unreadable ca_file).
  static Result<std::unique_ptr<RegistryClient>> Make(RegistryEndpoint endpoint);

  ~RegistryClient();
  RegistryClient(const RegistryClient&) = delete;
  RegistryClient& operator=(const RegistryClient&) = delete;

  // Every tag of `repository`, following tags/list pagination; a repository the registry does
  // not know: an empty list.
  Result<std::vector<std::string>> ListTags(const std::string& repository);

  // The digest and media type of a tag or digest (HEAD, accepting every manifest media type);
  // nullopt when the registry answers 404.
  Result<std::optional<ManifestHead>> HeadManifest(const std::string& repository,
                                                   const std::string& reference);

  // The manifest of a tag or digest; `children` filled for an OCI index / Docker manifest list.
  // NotFound on 404.
  Result<Manifest> GetManifest(const std::string& repository, const std::string& reference);

  // Deletes a manifest by digest (which untags every tag pointing at it). Ok on 202; NotFound
  // on 404; on 405 an Internal error saying deletes are disabled in the registry.
  Status DeleteManifest(const std::string& repository, const std::string& digest);

 private:
  struct Impl;
  explicit RegistryClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace drec
