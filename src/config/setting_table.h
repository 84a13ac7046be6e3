// The settings table: every setting once, with its key, description and codec. The key names
// everything else: the YAML path (server.ssl.cert_key), the flag (--server-ssl-cert-key) and
// the variable (DREC_SERVER_SSL_CERT_KEY); the default is the Draft's initial value.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/setting_codecs.h"

namespace drec::config {

// What --check-config may show of a setting's value.
enum class Secrecy {
  kNone,
  kWhole,        // a secret (tokens): only whether it is set
  kUriPassword,  // a connection URI: all but its password
};

// One row of the settings table.
struct SettingDef {
  std::string_view key;
  std::string_view help;
  Codec codec;
  Secrecy secrecy = Secrecy::kNone;
};

// Every setting, in --help order: drec's own, then the original DREC's (legacy_dial_info.h).
const std::vector<SettingDef>& Table();

// The row of key, or nullptr when no setting is called that.
const SettingDef* Find(std::string_view key);

// True when key is a YAML section holding settings ("server", "server.ssl").
bool IsSection(std::string_view key);

// "server.ssl.cert_key" -> "--server-ssl-cert-key".
std::string FlagName(std::string_view key);

// "server.ssl.cert_key" -> "DREC_SERVER_SSL_CERT_KEY".
std::string EnvName(std::string_view key);

// The values of one setting given as one text (a variable or a flag): lists are comma-separated.
Values ValuesFromText(const SettingDef& def, const std::string& text);

// Values given for one key by one source (file, environment or flags), and where.
struct Input {
  Values values;
  std::string source;
};

// What one source gives, by key; each source makes one, the loader applies them in order.
using Layer = std::map<std::string, Input, std::less<>>;

}  // namespace drec::config
