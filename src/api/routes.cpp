#include "api/routes.h"

#include <algorithm>

namespace drec {

namespace http = boost::beast::http;

std::optional<std::string> MatchPath(std::string_view pattern, std::string_view path) {
  const auto open = pattern.find('{');
  if (open == std::string_view::npos) {
    if (pattern == path) return std::string();
    return std::nullopt;
  }
  const auto close = pattern.find('}', open);
  const std::string_view prefix = pattern.substr(0, open);
  const std::string_view suffix = pattern.substr(close + 1);
  const std::string_view variable = pattern.substr(open + 1, close - open - 1);
  if (path.size() <= prefix.size() + suffix.size() || !path.starts_with(prefix) ||
      !path.ends_with(suffix)) {
    return std::nullopt;
  }
  const std::string_view value =
      path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
  if (value.find("/-/") != std::string_view::npos || value.ends_with("/-")) return std::nullopt;
  if (variable != "name" && value.find('/') != std::string_view::npos) return std::nullopt;
  return std::string(value);
}

std::string AllowHeader(const Route& route) {
  std::string allow;
  for (http::verb method : route.methods) {
    if (!allow.empty()) allow += ", ";
    allow += std::string(http::to_string(method));
    if (method == http::verb::get) allow += ", HEAD";
  }
  return allow;
}

}  // namespace drec
