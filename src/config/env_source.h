// DREC_* environment variables as a source of setting values.
#pragma once

#include <map>
#include <string>

#include "config/setting_table.h"

namespace drec::config {

// The settings given as variables (DREC_SERVER_PORT for server.port), each with the variable's
// name as its source. Other variables are ignored, because platforms add their own (Kubernetes
// adds DREC_PORT for a service "drec").
Layer EnvLayer(const std::map<std::string, std::string>& env);

// DREC_CONFIG, the config file when the command line names none; "" when unset.
std::string ConfigFileFromEnv(const std::map<std::string, std::string>& env);

}  // namespace drec::config
