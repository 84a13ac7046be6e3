#include "config/env_source.h"

namespace drec::config {

Layer EnvLayer(const std::map<std::string, std::string>& env) {
  Layer layer;
  for (const SettingDef& def : Table()) {
    const std::string name = EnvName(def.key);
    if (const auto it = env.find(name); it != env.end()) {
      layer.emplace(std::string(def.key), Input{ValuesFromText(def, it->second), name});
    }
  }
  return layer;
}

std::string ConfigFileFromEnv(const std::map<std::string, std::string>& env) {
  const auto it = env.find("DREC_CONFIG");
  return it == env.end() ? std::string() : it->second;
}

}  // namespace drec::config
