// The embedded store's schema and its versioned migrations (docs/data-model.md#sqlite).
#pragma once

#include "store/sqlite/sqlite_handle.h"
#include "util/status.h"

namespace drec::sqlite {

// The schema version this drec writes (SQLite's user_version).
int SchemaVersion();

// Brings the database's schema up to `up_to` (by default the version this drec knows), one
// migration per transaction; fails when the file was written by a newer drec. A lower `up_to`
// builds the schema an earlier release wrote, for upgrade tests.
[[nodiscard]] Status Migrate(Connection& db, int up_to = SchemaVersion());

}  // namespace drec::sqlite
