// Registry names (docs/registries.md): every event belongs to the registry whose endpoint
// received it, and every statistic to one registry.
#pragma once

#include <string_view>

namespace drec {

// The registry of `POST {route}` and of statistics kept before registries were told apart.
inline constexpr std::string_view kDefaultRegistry = "default";

// Lowercase letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63
// characters: a name becomes part of a URL path and of a file or collection name.
bool IsRegistryName(std::string_view name);

}  // namespace drec
