#include "config/effective_settings.h"

#include <fmt/format.h>

#include "app/version.h"
#include "config/legacy_dial_info.h"
#include "config/setting_table.h"

namespace drec::config {
namespace {

std::string Shown(const SettingDef& def, const Draft& draft) {
  std::string value = def.codec.show(draft);
  switch (def.secrecy) {
    case Secrecy::kNone:
      return value;
    case Secrecy::kWhole:
      return value.empty() ? value : "<redacted>";
    case Secrecy::kUriPassword:
      return RedactUri(value);
  }
  return value;
}

Draft DraftOf(const Settings& settings) {
  Draft draft;
  static_cast<Settings&>(draft) = settings;
  return draft;
}

}  // namespace

std::string RedactUri(const std::string& uri) {
  std::string out = uri;
  const std::size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const std::size_t authority = scheme + 3;
    const std::size_t end = out.find_first_of("/?#", authority);
    const std::size_t at = out.rfind('@', end == std::string::npos ? out.size() : end);
    if (at != std::string::npos && at > authority) {
      const std::size_t colon = out.find(':', authority);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  for (std::size_t at = out.find("password="); at != std::string::npos;
       at = out.find("password=", at + 1)) {
    if (at == 0 || (out[at - 1] != '?' && out[at - 1] != '&')) continue;
    const std::size_t value = at + 9;
    const std::size_t end = out.find('&', value);
    out.replace(value, (end == std::string::npos ? out.size() : end) - value, "***");
  }
  return out;
}

std::string DescribeSettings(const Draft& draft) {
  std::string out = fmt::format(
      "# drec {}: the configuration is valid. The settings in force, secrets redacted,\n"
      "# each with where its value came from:\n",
      DREC_VERSION);
  for (const SettingDef& def : Table()) {
    if (IsLegacySetting(def.key)) continue;
    const std::string value = Shown(def, draft);
    fmt::format_to(std::back_inserter(out), "{}: {}  # {}\n", def.key,
                   value.empty() ? "\"\"" : value, draft.SourceOf(def.key));
  }
  return out;
}

std::vector<std::string> ChangedSettings(const Settings& before, const Settings& after) {
  const Draft a = DraftOf(before);
  const Draft b = DraftOf(after);
  std::vector<std::string> changed;
  for (const SettingDef& def : Table()) {
    if (IsLegacySetting(def.key)) continue;
    if (def.codec.show(a) != def.codec.show(b)) changed.emplace_back(def.key);
  }
  return changed;
}

}  // namespace drec::config
