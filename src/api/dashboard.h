// The web dashboard (web/), compiled into the binary so that drec alone serves it:
// "/" is the page, "/ui/{file}" its script, style sheet and icon. These need no
// credentials: they hold no data, and the API they call asks for credentials.
#pragma once

#include <span>
#include <string_view>

#include "http/handler.h"

namespace drec {

struct EmbeddedAsset {
  std::string_view name;          // file name, e.g. "app.js"
  std::string_view content_type;  // with charset for text
  std::string_view etag;          // quoted, from the content's SHA-256
  std::string_view body;
};

// The built dashboard; defined in a source that cmake/EmbedAssets.cmake generates.
std::span<const EmbeddedAsset> DashboardAssets();

// Where the dashboard's files are served: "/" is index.html, the others are under this prefix.
inline constexpr std::string_view kDashboardAssetPrefix = "/ui/";
inline constexpr std::string_view kDashboardPage = "index.html";

// GET/HEAD of one of the dashboard's files, by name; 404 for an unknown name.
HttpResponse AnswerDashboard(const HttpRequest& request, std::string_view file);

}  // namespace drec
