#include "postgres_test_server.h"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>

namespace drec::testing {

std::string PostgresTestUri(std::string* why) {
  const char* uri = std::getenv("DREC_TEST_POSTGRESQL_URI");
  if (uri == nullptr || *uri == '\0') {
    *why =
        "no PostgreSQL server: run through ctest (fixture postgres), or set "
        "DREC_TEST_POSTGRESQL_URI";
    return {};
  }
  return uri;
}

std::string FreshPostgresSchema() {
  static std::atomic<int> next{0};
  return fmt::format("test_{}_{}", getpid(), next++);
}

std::string ExecOnPostgres(const std::string& sql, std::string* value) {
  std::string why;
  const std::string uri = PostgresTestUri(&why);
  if (uri.empty()) return why;
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(uri.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) return PQerrorMessage(conn.get());
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return PQresultErrorMessage(result.get());
  }
  if (value != nullptr && PQntuples(result.get()) > 0) *value = PQgetvalue(result.get(), 0, 0);
  return {};
}

void DropPostgresSchema(const std::string& schema) {
  (void)ExecOnPostgres(fmt::format(
      "DO $$DECLARE s text; BEGIN FOR s IN SELECT nspname FROM pg_namespace WHERE nspname = '{0}' "
      "OR starts_with(nspname, '{0}@') LOOP EXECUTE format('DROP SCHEMA %I CASCADE', s); "
      "END LOOP; END$$",
      schema));
}

}  // namespace drec::testing
