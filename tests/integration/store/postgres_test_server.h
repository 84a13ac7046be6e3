// The PostgreSQL server of the integration tests: the one DREC_TEST_POSTGRESQL_URI names (ctest
// starts it, tests/postgres_fixture.py), where each test gets a schema of its own.
#pragma once

#include <string>

namespace drec::testing {

// The URI of the test server, or empty (and the reason in `why`) when there is none.
std::string PostgresTestUri(std::string* why);

// A schema name no other test uses, in this process or another.
std::string FreshPostgresSchema();

// Drops `schema` and everything in it, and the schemas of its registries (<schema>@<name>).
void DropPostgresSchema(const std::string& schema);

// Runs SQL on the test server; the error message, or empty on success. `value`, when given,
// receives the first column of the first row.
std::string ExecOnPostgres(const std::string& sql, std::string* value = nullptr);

}  // namespace drec::testing
