// Log set-up: every line to stderr, as text or as one JSON object per line.
#pragma once

#include <spdlog/formatter.h>

#include <memory>

#include "config/settings.h"

namespace drec {

// The line format of `log.format`: text, or one JSON object per line with the message escaped.
std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format);

// Installs the default logger for `log.level` and `log.format`.
void SetUpLogging(const Settings& settings);

}  // namespace drec
