// The embedded store's schema and its versioned migrations (docs/data-model.md#sqlite).
#pragma once

#include "store/sqlite/sqlite_handle.h"
#include "util/status.h"

namespace drec::sqlite {

// Brings the database's schema up to the version this drec knows, one migration per
// transaction; fails when the file was written by a newer drec.
[[nodiscard]] Status Migrate(Connection& db);

}  // namespace drec::sqlite
