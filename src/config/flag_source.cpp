#include "config/flag_source.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <utility>
#include <vector>

#include "app/version.h"
#include "config/legacy_dial_info.h"

namespace drec::config {
namespace {

// --help lists the flags in groups: the key's first part, or the original DREC's keys together.
std::string HelpGroup(std::string_view key) {
  if (IsLegacySetting(key)) return "original DREC (MongoDB)";
  return std::string(key.substr(0, key.find('.')));
}

// Registers the flag of one setting; its text lands in target.
// `target` takes a scalar's value; `list_target` each occurrence of a list-shaped flag, whole:
// the setting's codec splits and checks the entries, as it does for variables, so a flag and a
// variable with the same text mean the same and fail with the same message.
CLI::Option* AddOption(CLI::App& app, const SettingDef& def, const Draft& defaults,
                       std::string& target, std::vector<std::string>& list_target) {
  std::string help = std::string(def.help) + " [" + EnvName(def.key);
  if (const std::string shown = def.codec.show(defaults); !shown.empty()) {
    help += ", default " + shown;
  }
  help += "]";
  CLI::Option* option = nullptr;
  switch (def.codec.shape) {
    case Shape::kBool:  // bare --server-plain-http means true; --server-plain-http=no works too
      option = app.add_flag(FlagName(def.key), target, help);
      break;
    case Shape::kScalar:
      option = app.add_option(FlagName(def.key), target, help)
                   ->type_name(def.codec.type)
                   ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
      break;
    case Shape::kList:
    case Shape::kUsers:  // repeating the flag adds entries
    case Shape::kRules:
      option = app.add_option(FlagName(def.key), list_target, help)
                   ->type_name(def.codec.type)
                   ->expected(1)
                   ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
      break;
  }
  return option->group(HelpGroup(def.key));
}

Result<ParsedCommandLine> Parse(int argc, const char* const* argv) {
  CLI::App app{
      "drec collects CNCF Distribution registry notifications into per-repository "
      "statistics.",
      "drec"};
  app.set_version_flag("--version", "drec " DREC_VERSION);
  app.get_formatter()->column_width(36);
  app.footer(
      "Settings come from, in rising precedence: defaults, the YAML config file, DREC_* "
      "environment variables, flags.\nThe key server.ssl.cert_key is the flag "
      "--server-ssl-cert-key and the variable DREC_SERVER_SSL_CERT_KEY.\nLists are "
      "comma-separated in variables and flags: --auth-tokens a,b --auth-basic "
      "user:password,user2:password2.\nOther commands: drec migrate --from SOURCE.yml --to "
      "TARGET.yml "
      "copies all statistics into another store; drec backup [config.yml] --output DIR copies the "
      "SQLite files while drec runs (each with --help; docs/migrate.md); drec replay FILE... "
      "applies captured notification envelopes and drec backfill LOGFILE... a registry's own "
      "log (each with --help; docs/backfill.md).");

  const Draft defaults;
  std::vector<std::string> flag_values(Table().size());
  std::vector<std::vector<std::string>> list_values(Table().size());
  std::vector<CLI::Option*> options;
  for (std::size_t i = 0; i < Table().size(); ++i) {
    options.push_back(AddOption(app, Table()[i], defaults, flag_values[i], list_values[i]));
  }
  std::string config_positional;
  std::string config_flag;
  app.add_option("config", config_positional, "YAML config file [or --config, DREC_CONFIG]");
  app.add_option("--config", config_flag, "YAML config file [DREC_CONFIG]");
  bool check_config = false;
  app.add_flag("--check-config", check_config,
               "Check the configuration, print the settings in force (secrets redacted) and "
               "exit: 0 when it is valid, 2 when not");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return ParsedCommandLine{EarlyExit{app.help(), 0}};
  } catch (const CLI::CallForVersion& e) {
    return ParsedCommandLine{EarlyExit{std::string(e.what()) + "\n", 0}};
  } catch (const CLI::ParseError& e) {
    return Status::InvalidArgument(std::string(e.what()) + " (see drec --help)");
  }

  if (!config_positional.empty() && !config_flag.empty() && config_positional != config_flag) {
    return Status::InvalidArgument("config file given twice: " + Quote(config_positional) +
                                   " and --config " + Quote(config_flag));
  }
  CommandLine line;
  line.config_path = !config_flag.empty() ? config_flag : config_positional;
  line.check_config = check_config;
  for (std::size_t i = 0; i < Table().size(); ++i) {
    if (options[i]->count() == 0) continue;
    const SettingDef& def = Table()[i];
    // Repeating a list flag adds entries, as a comma would.
    const std::string text = def.codec.shape == Shape::kScalar || def.codec.shape == Shape::kBool
                                 ? flag_values[i]
                                 : fmt::format("{}", fmt::join(list_values[i], ","));
    line.flags.emplace(std::string(def.key), Input{ValuesFromText(def, text), FlagName(def.key)});
  }
  return ParsedCommandLine{std::move(line)};
}

}  // namespace

Result<ParsedCommandLine> ParseCommandLine(int argc, const char* const* argv) {
  try {
    return Parse(argc, argv);
  } catch (const CLI::Error& e) {  // CLI11 throws; callers get a Status
    return Status::Internal(std::string("loading settings: ") + e.what());
  }
}

}  // namespace drec::config
