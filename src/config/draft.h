// The Settings under construction while the config sources are read, and the shape of the
// messages that name a wrong setting. Internal to src/config.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/settings.h"
#include "util/status.h"

namespace drec::config {

// Settings plus the original DREC's dial_info, which only feeds storage.mongodb.uri
// (legacy_dial_info.h), plus where each value came from, for messages.
struct Draft : Settings {
  std::vector<std::string> dial_addrs;
  std::chrono::milliseconds dial_timeout{10'000};  // the original DREC's default
  std::string dial_username;
  std::string dial_password_file;
  // Where each key's current value came from: "DREC_SERVER_PORT", "--server-port", "x.yml:3".
  std::map<std::string, std::string, std::less<>> origin;

  // Where key's value came from, "default" when no source gave it.
  std::string SourceOf(std::string_view key) const {
    const auto it = origin.find(key);
    return it == origin.end() ? "default" : it->second;
  }
};

// "text" in double quotes: how messages show a value the user gave.
inline std::string Quote(std::string_view text) { return fmt::format("\"{}\"", text); }

// Every config error reads "key: problem (from source)", so the user knows what to fix where.
// A problem of one entry of a list of settings starts with its place ("[2].addr: ..."), which
// joins the key: "classes.rules[2].addr: ...".
inline Status Invalid(std::string_view key, std::string_view problem, std::string_view source) {
  const std::string_view separator = problem.starts_with('[') ? "" : ": ";
  return Status::InvalidArgument(std::string(key) + std::string(separator) + std::string(problem) +
                                 " (from " + std::string(source) + ")");
}

}  // namespace drec::config
