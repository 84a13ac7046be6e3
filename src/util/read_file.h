// Reading a whole small file (config, password, certificate) into memory.
#pragma once

#include <string>

#include "util/status.h"

namespace drec {

// The whole file, or kInvalidArgument saying why it cannot be read ("No such file or
// directory", "is a directory"), for the caller to prefix with what the file was for.
Result<std::string> ReadFile(const std::string& path);

}  // namespace drec
