// The syntax of a traffic class name, shared by the settings (which refuse a wrong one at
// start-up) and the classifier (semantics/traffic_class.h) whose answers become metrics labels.
#pragma once

#include <algorithm>
#include <string_view>

namespace drec {

// [a-z0-9][a-z0-9_-]{0,31}: short, lower case, safe in a label, a URL and a file name.
inline bool IsClassName(std::string_view name) {
  const auto lower_or_digit = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  };
  if (name.empty() || name.size() > 32 || !lower_or_digit(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return lower_or_digit(c) || c == '_' || c == '-'; });
}

}  // namespace drec
