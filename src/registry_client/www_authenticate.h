// Parsing of the two response headers the registry client acts on: WWW-Authenticate (RFC 7235
// challenges, to find the Docker token service) and Link (RFC 8288, for tag list pages).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace drec {

// A `Bearer` challenge: where to get a token, and for what.
struct BearerChallenge {
  std::string realm;    // the token service's URL
  std::string service;  // may be empty
  std::string scope;    // may be empty (e.g. GET /v2/); space-separated scopes stay as one value
};

// The Bearer challenge of a WWW-Authenticate value, or nullopt when it has none or it lacks a
// realm. The value may hold several challenges (`Basic realm="x", Bearer realm="y"`); the
// scheme and parameter names are case-insensitive, values are tokens or quoted strings.
std::optional<BearerChallenge> ParseBearerChallenge(std::string_view header);

// The target of the `rel="next"` link of a Link value (`<url>; rel="next"`, possibly among
// several links), or nullopt when there is none. The URL is returned as written (relative or
// absolute); the caller resolves it.
std::optional<std::string> NextLink(std::string_view header);

}  // namespace drec
