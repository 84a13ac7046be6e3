// The YAML config file as a source of setting values.
#pragma once

#include <string>

#include "config/setting_table.h"
#include "util/status.h"

namespace drec::config {

// The settings the file at path gives, each with its "path:line". Nested mappings name the
// keys (server: {ssl: {cert: x}} is server.ssl.cert); a key without a value keeps the default.
// Unknown keys, a key given twice, a value of the wrong shape and YAML syntax errors are
// kInvalidArgument naming the key (or line) and the file.
Result<Layer> ReadConfigFile(const std::string& path);

}  // namespace drec::config
