// The PostgreSQL store's schema and its versioned migrations (docs/postgresql.md).
#pragma once

#include "store/postgresql/pg_connection.h"
#include "util/status.h"

namespace drec::pg {

// The schema version this drec writes: the number of migrations it knows.
int SchemaVersion();

// Creates the store's schema if needed and brings it up to SchemaVersion(), each migration in
// one transaction. Several replicas starting at once apply each migration exactly once: the
// first holds an advisory lock on the schema while the others wait, then find nothing to do.
// Fails on a schema newer than this drec.
Status Migrate(Connection& db, const std::string& schema);

}  // namespace drec::pg
