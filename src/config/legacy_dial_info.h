// The original DREC's config.yml keys: dial_info.* (the MongoDB connection, its mgo DialInfo)
// and the top-level collection. drec reads such a file unchanged: dial_info turns into
// storage.backend mongodb and a storage.mongodb.uri.
#pragma once

#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "config/draft.h"
#include "config/setting_table.h"
#include "util/status.h"

namespace drec::config {

// The table rows of the original's keys, appended after drec's own.
std::vector<SettingDef> LegacySettings();

// True for the original's keys, which --help lists in a group of their own.
bool IsLegacySetting(std::string_view key);

// Pairs of keys (the original's, drec's) that set the same value: giving both in one source is
// ambiguous.
std::span<const std::pair<std::string_view, std::string_view>> SameSettings();

// Once every source is applied: any dial_info key implies storage.backend mongodb unless that is
// given, and a mongodb backend without storage.mongodb.uri gets one built from dial_info (reading
// dial_info.password_file). Errors name the dial_info key at fault.
Status ApplyDialInfo(Draft& draft);

}  // namespace drec::config
