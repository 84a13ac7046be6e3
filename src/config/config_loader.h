// Start-up configuration (README, "Configuration"; config.example.yml): turns defaults, the YAML
// file, DREC_* environment variables and flags into the one immutable Settings value, or into a
// message that names the wrong setting and where its value came from.
#pragma once

#include <map>
#include <string>
#include <variant>

#include "config/settings.h"
#include "util/status.h"

namespace drec {

// --help and --version: drec prints text to stdout and exits with exit_code instead of running.
// Not an error, so it is an outcome rather than a Status.
struct EarlyExit {
  std::string text;
  int exit_code = 0;
};

// What start-up does next: run with these Settings, or print and stop.
using LoadOutcome = std::variant<Settings, EarlyExit>;

// Parses `drec [flags] [config.yml]`. Precedence: flag > environment > file > default. The
// config file is the positional argument, --config or DREC_CONFIG. env is passed in (main builds
// it from environ) so that tests need no process environment; variables not named after a setting
// are ignored, because platforms add their own (Kubernetes adds DREC_PORT for a service "drec").
// Reads the config file, dial_info.password_file and checks that TLS files are readable.
// Errors are kInvalidArgument and name the setting and the source of its value.
Result<LoadOutcome> LoadSettings(int argc, const char* const* argv,
                                 const std::map<std::string, std::string>& env);

}  // namespace drec
