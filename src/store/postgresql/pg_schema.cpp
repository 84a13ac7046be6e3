#include "store/postgresql/pg_schema.h"

#include <fmt/format.h>

#include <array>
#include <string>

namespace drec::pg {
namespace {

// The counter and time columns of every table of statistics in schema version 1, frozen with
// that migration: a counter added later comes with a migration of its own (ALTER TABLE).
#define DREC_PG_V1_COUNTER_COLUMNS                                                        \
  "numpulls bigint NOT NULL DEFAULT 0, numpushs bigint NOT NULL DEFAULT 0, "              \
  "numchecks bigint NOT NULL DEFAULT 0, numindexpulls bigint NOT NULL DEFAULT 0, "        \
  "numdeletes bigint NOT NULL DEFAULT 0, numattachmentpushes bigint NOT NULL DEFAULT 0, " \
  "numattachmentpulls bigint NOT NULL DEFAULT 0"
#define DREC_PG_V1_TALLY_COLUMNS \
  DREC_PG_V1_COUNTER_COLUMNS     \
  ", firstpushed bigint, lastpushed bigint, firstpulled bigint, lastpulled bigint"

// Entry i takes the schema from version i to i + 1. Never edit an entry once released, databases
// in the field already ran it; append a new one instead. Names are values, never identifiers,
// and compare bytewise (COLLATE "C"), as in the other stores, whatever the database's locale.
// Times are unix milliseconds, NULL until the first such event.
constexpr std::array<const char*, 4> kMigrations = {
    R"sql(
CREATE TABLE repositories (
  repositoryname text COLLATE "C" NOT NULL PRIMARY KEY,
  )sql" DREC_PG_V1_TALLY_COLUMNS R"sql(,
  actors text[] NOT NULL DEFAULT '{}',
  numstars bigint NOT NULL DEFAULT 0
);
-- Top lists sort counters descending, recent lists last* descending, the oldest first*
-- ascending; unset times first ascending and last descending; ties always by name ascending.
CREATE INDEX repositories_by_numpulls ON repositories (numpulls DESC, repositoryname);
CREATE INDEX repositories_by_numpushs ON repositories (numpushs DESC, repositoryname);
CREATE INDEX repositories_by_numchecks ON repositories (numchecks DESC, repositoryname);
CREATE INDEX repositories_by_numindexpulls ON repositories (numindexpulls DESC, repositoryname);
CREATE INDEX repositories_by_numdeletes ON repositories (numdeletes DESC, repositoryname);
CREATE INDEX repositories_by_numattachmentpushes
  ON repositories (numattachmentpushes DESC, repositoryname);
CREATE INDEX repositories_by_numattachmentpulls
  ON repositories (numattachmentpulls DESC, repositoryname);
CREATE INDEX repositories_by_firstpushed
  ON repositories (firstpushed ASC NULLS FIRST, repositoryname);
CREATE INDEX repositories_by_firstpulled
  ON repositories (firstpulled ASC NULLS FIRST, repositoryname);
CREATE INDEX repositories_by_lastpushed_asc
  ON repositories (lastpushed ASC NULLS FIRST, repositoryname);
CREATE INDEX repositories_by_lastpushed_desc
  ON repositories (lastpushed DESC NULLS LAST, repositoryname);
CREATE INDEX repositories_by_lastpulled_asc
  ON repositories (lastpulled ASC NULLS FIRST, repositoryname);
CREATE INDEX repositories_by_lastpulled_desc
  ON repositories (lastpulled DESC NULLS LAST, repositoryname);
CREATE TABLE tags (
  repository text COLLATE "C" NOT NULL,
  tag text COLLATE "C" NOT NULL,
  digest text COLLATE "C",
  digest_at bigint,
  deleted boolean NOT NULL DEFAULT false,
  deleted_at bigint,
  attachment boolean NOT NULL DEFAULT false,
  )sql" DREC_PG_V1_TALLY_COLUMNS R"sql(,
  PRIMARY KEY (repository, tag)
);
CREATE INDEX tags_by_digest ON tags (repository, digest);

CREATE TABLE digests (
  repository text COLLATE "C" NOT NULL,
  digest text COLLATE "C" NOT NULL,
  media_type text,
  size bigint,
  deleted boolean NOT NULL DEFAULT false,
  deleted_at bigint,
  )sql" DREC_PG_V1_TALLY_COLUMNS R"sql(,
  PRIMARY KEY (repository, digest)
);

CREATE TABLE digest_parents (
  repository text COLLATE "C" NOT NULL,
  child text COLLATE "C" NOT NULL,
  parent text COLLATE "C" NOT NULL,
  PRIMARY KEY (repository, child, parent)
);

CREATE TABLE actors (
  repository text COLLATE "C" NOT NULL,
  actor text COLLATE "C" NOT NULL,
  )sql" DREC_PG_V1_TALLY_COLUMNS R"sql(,
  firstseen bigint,
  lastseen bigint,
  PRIMARY KEY (repository, actor)
);

-- The repositories one actor used (the list's actor filter).
CREATE INDEX actors_by_actor ON actors (actor, repository);

CREATE TABLE days (
  repository text COLLATE "C" NOT NULL,
  day text COLLATE "C" NOT NULL,
  )sql" DREC_PG_V1_TALLY_COLUMNS R"sql(,
  PRIMARY KEY (repository, day)
);
CREATE INDEX days_by_day ON days (day, repository);

CREATE TABLE total_days (
  day text COLLATE "C" NOT NULL PRIMARY KEY,
  )sql" DREC_PG_V1_COUNTER_COLUMNS R"sql(
);

CREATE TABLE classes (
  repository text COLLATE "C" NOT NULL,
  class text COLLATE "C" NOT NULL,
  tag text COLLATE "C" NOT NULL DEFAULT '',
  day text COLLATE "C" NOT NULL DEFAULT '',
  )sql" DREC_PG_V1_TALLY_COLUMNS R"sql(,
  PRIMARY KEY (repository, class, tag, day)
);

CREATE TABLE event_ids (
  id text COLLATE "C" NOT NULL PRIMARY KEY,
  applied_at bigint NOT NULL
);
CREATE INDEX event_ids_by_applied_at ON event_ids (applied_at);
)sql",
    // The time from which drec has seen a repository's traffic (the retention planner's
    // observation window). Repositories recorded before start at the earliest time known of
    // them; one with no time at all stays NULL (unknown). LEAST and min ignore NULLs.
    R"sql(
ALTER TABLE repositories ADD COLUMN observedsince bigint;
UPDATE repositories AS r SET observedsince = LEAST(r.firstpushed, r.firstpulled,
  (SELECT min(a.firstseen) FROM actors AS a WHERE a.repository = r.repositoryname));
)sql",
    // The rolling window kept at write time (docs/design.md#the-rolling-window): per repository
    // the sum of its days from rolling_window.from_day on. from_day NULL means the counters are
    // not valid: the next windowed query recomputes them from the days, which is what an
    // upgraded schema gets here.
    R"sql(
ALTER TABLE repositories ADD COLUMN window_numpulls bigint NOT NULL DEFAULT 0,
  ADD COLUMN window_numpushs bigint NOT NULL DEFAULT 0,
  ADD COLUMN window_numchecks bigint NOT NULL DEFAULT 0,
  ADD COLUMN window_numindexpulls bigint NOT NULL DEFAULT 0,
  ADD COLUMN window_numdeletes bigint NOT NULL DEFAULT 0,
  ADD COLUMN window_numattachmentpushes bigint NOT NULL DEFAULT 0,
  ADD COLUMN window_numattachmentpulls bigint NOT NULL DEFAULT 0;
CREATE INDEX repositories_by_window_numpulls
  ON repositories (window_numpulls DESC, repositoryname);
CREATE TABLE rolling_window (
  id integer NOT NULL PRIMARY KEY CHECK (id = 1),
  from_day text COLLATE "C"
);
INSERT INTO rolling_window (id, from_day) VALUES (1, NULL);
)sql",
    // The repository count and the counter sums of every repository, kept at write time in the
    // transaction that changes a repository's counters, so the overview and an unfiltered list's
    // total read one row instead of every repository (docs/data-model.md#repository-totals).
    // An upgraded schema computes them from its repositories here.
    R"sql(
CREATE TABLE repository_totals (
  id integer NOT NULL PRIMARY KEY CHECK (id = 1),
  repositories bigint NOT NULL,
  )sql" DREC_PG_V1_COUNTER_COLUMNS R"sql(
);
INSERT INTO repository_totals (id, repositories, numpulls, numpushs, numchecks, numindexpulls,
  numdeletes, numattachmentpushes, numattachmentpulls)
  SELECT 1, count(*), coalesce(sum(numpulls), 0), coalesce(sum(numpushs), 0),
    coalesce(sum(numchecks), 0), coalesce(sum(numindexpulls), 0), coalesce(sum(numdeletes), 0),
    coalesce(sum(numattachmentpushes), 0), coalesce(sum(numattachmentpulls), 0)
  FROM repositories;
)sql",
};

#undef DREC_PG_V1_TALLY_COLUMNS
#undef DREC_PG_V1_COUNTER_COLUMNS

// The lock every migrating replica takes: one key per schema, in its own class of keys.
constexpr std::string_view kMigrationLockClass = "drec-migrate:";

}  // namespace

int SchemaVersion() { return static_cast<int>(kMigrations.size()); }

Status Migrate(Connection& db, const std::string& schema) {
  Params lock;
  lock.Add(fmt::format("{}{}", kMigrationLockClass, schema));
  Status status = db.Exec("BEGIN");
  if (!status.ok()) return status;
  // Held until this transaction ends: a replica that waited finds the schema already current.
  auto locked = db.Query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", lock);
  if (!locked.ok()) {
    (void)db.Exec("ROLLBACK");
    return locked.status();
  }
  std::unique_ptr<char, decltype(&PQfreemem)> quoted(
      PQescapeIdentifier(db.raw(), schema.data(), schema.size()), &PQfreemem);
  status = db.Exec(fmt::format(
      "CREATE SCHEMA IF NOT EXISTS {0}; CREATE TABLE IF NOT EXISTS {0}.drec_schema "
      "(version integer NOT NULL); INSERT INTO {0}.drec_schema SELECT 0 WHERE NOT EXISTS "
      "(SELECT 1 FROM {0}.drec_schema)",
      quoted.get()));
  std::int64_t version = 0;
  if (status.ok()) {
    auto row = db.Query("SELECT version FROM drec_schema", Params());
    if (!row.ok()) {
      status = row.status();
    } else {
      ForEachRow(row->get(), [&](RowReader& r) { version = r.Int(); });
    }
  }
  if (status.ok() && version > SchemaVersion()) {
    status = Status::Internal(
        fmt::format("postgresql: schema {} is at version {}, newer than this drec supports ({})",
                    schema, version, SchemaVersion()));
  }
  for (; status.ok() && version < SchemaVersion(); ++version) {
    status = db.Exec(kMigrations[static_cast<std::size_t>(version)]);
    if (status.ok()) {
      status = db.Exec(fmt::format("UPDATE drec_schema SET version = {}", version + 1));
    }
  }
  if (!status.ok()) {
    (void)db.Exec("ROLLBACK");
    return status;
  }
  return db.Exec("COMMIT");
}

}  // namespace drec::pg
