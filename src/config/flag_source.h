// Command-line flags (CLI11) as a source of setting values, and --help / --version.
#pragma once

#include <string>
#include <variant>

#include "config/config_loader.h"
#include "config/setting_table.h"
#include "util/status.h"

namespace drec::config {

// What the command line gives: settings as flags, and the config file it names.
struct CommandLine {
  Layer flags;                // each with its flag name (--server-port) as its source
  std::string config_path;    // the positional argument or --config; "" when neither
  bool check_config = false;  // --check-config: validate, print the settings in force, exit
};

// A command line to run with, or --help / --version to print.
using ParsedCommandLine = std::variant<CommandLine, EarlyExit>;

// Parses `drec [flags] [config.yml]`: one flag a setting (FlagName), lists comma-separated or
// repeated. --help and --version are an EarlyExit with the text to print. Unknown flags, bad
// flag syntax and two different config files are kInvalidArgument.
Result<ParsedCommandLine> ParseCommandLine(int argc, const char* const* argv);

}  // namespace drec::config
