#include "store/sqlite/sqlite_schema.h"

#include <array>
#include <string>

namespace drec::sqlite {
namespace {

// The counter and time columns of every table of statistics in schema version 1, frozen with
// that migration: a counter added later comes with a migration of its own (ALTER TABLE).
#define DREC_V1_COUNTER_COLUMNS                                                      \
  "numpulls INTEGER NOT NULL DEFAULT 0, numpushs INTEGER NOT NULL DEFAULT 0, "       \
  "numchecks INTEGER NOT NULL DEFAULT 0, numindexpulls INTEGER NOT NULL DEFAULT 0, " \
  "numdeletes INTEGER NOT NULL DEFAULT 0"
#define DREC_V1_TALLY_COLUMNS \
  DREC_V1_COUNTER_COLUMNS     \
  ", firstpushed INTEGER, lastpushed INTEGER, firstpulled INTEGER, lastpulled INTEGER"

// The counter and time columns of the classes table, frozen with its migration: the version 1
// counters and the two attachment counters (numattachmentpushes, numattachmentpulls) that an
// earlier migration adds to the other tables. The counters alone are also repository_totals'.
#define DREC_CLASSES_COUNTER_COLUMNS                                                               \
  DREC_V1_COUNTER_COLUMNS                                                                          \
  ", numattachmentpushes INTEGER NOT NULL DEFAULT 0, numattachmentpulls INTEGER NOT NULL DEFAULT " \
  "0"
#define DREC_CLASSES_TALLY_COLUMNS \
  DREC_CLASSES_COUNTER_COLUMNS     \
  ", firstpushed INTEGER, lastpushed INTEGER, firstpulled INTEGER, lastpulled INTEGER"

// Schema migrations: entry i takes the database from user_version i to i + 1. Never edit an
// entry once released, databases in the field already ran it; append a new one instead.
// Times are unix milliseconds, NULL until the first such event; names are values, never columns.
constexpr std::array<const char*, 8> kMigrations = {
    R"sql(
CREATE TABLE repositories (
  repositoryname TEXT NOT NULL PRIMARY KEY,
  )sql" DREC_V1_TALLY_COLUMNS R"sql(,
  actors TEXT NOT NULL DEFAULT '[]',
  numstars INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX repositories_by_numpulls ON repositories (numpulls, repositoryname);
CREATE INDEX repositories_by_numpushs ON repositories (numpushs, repositoryname);
CREATE INDEX repositories_by_numchecks ON repositories (numchecks, repositoryname);
CREATE INDEX repositories_by_numindexpulls ON repositories (numindexpulls, repositoryname);
CREATE INDEX repositories_by_numdeletes ON repositories (numdeletes, repositoryname);
CREATE INDEX repositories_by_firstpushed ON repositories (firstpushed, repositoryname);
CREATE INDEX repositories_by_lastpushed ON repositories (lastpushed, repositoryname);
CREATE INDEX repositories_by_firstpulled ON repositories (firstpulled, repositoryname);
CREATE INDEX repositories_by_lastpulled ON repositories (lastpulled, repositoryname);

CREATE TABLE tags (
  repository TEXT NOT NULL,
  tag TEXT NOT NULL,
  digest TEXT,
  digest_at INTEGER,
  deleted INTEGER NOT NULL DEFAULT 0,
  deleted_at INTEGER,
  )sql" DREC_V1_TALLY_COLUMNS R"sql(,
  PRIMARY KEY (repository, tag)
) STRICT, WITHOUT ROWID;
CREATE INDEX tags_by_digest ON tags (repository, digest);

CREATE TABLE digests (
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  media_type TEXT,
  size INTEGER,
  deleted INTEGER NOT NULL DEFAULT 0,
  deleted_at INTEGER,
  )sql" DREC_V1_TALLY_COLUMNS R"sql(,
  PRIMARY KEY (repository, digest)
) STRICT, WITHOUT ROWID;

CREATE TABLE digest_parents (
  repository TEXT NOT NULL,
  child TEXT NOT NULL,
  parent TEXT NOT NULL,
  PRIMARY KEY (repository, child, parent)
) STRICT, WITHOUT ROWID;

CREATE TABLE actors (
  repository TEXT NOT NULL,
  actor TEXT NOT NULL,
  )sql" DREC_V1_TALLY_COLUMNS R"sql(,
  firstseen INTEGER,
  lastseen INTEGER,
  PRIMARY KEY (repository, actor)
) STRICT, WITHOUT ROWID;

CREATE TABLE days (
  repository TEXT NOT NULL,
  day TEXT NOT NULL,
  )sql" DREC_V1_TALLY_COLUMNS R"sql(,
  PRIMARY KEY (repository, day)
) STRICT, WITHOUT ROWID;

CREATE TABLE event_ids (
  id TEXT NOT NULL PRIMARY KEY,
  applied_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX event_ids_by_applied_at ON event_ids (applied_at);
)sql",
    // Per-day totals of all repositories, so the overview reads one row per day instead of
    // summing every repository's days; and days by day, for windowed counts.
    R"sql(
CREATE TABLE total_days (
  day TEXT NOT NULL PRIMARY KEY,
  )sql" DREC_V1_COUNTER_COLUMNS R"sql(
) STRICT, WITHOUT ROWID;
INSERT INTO total_days
  SELECT day, sum(numpulls), sum(numpushs), sum(numchecks), sum(numindexpulls), sum(numdeletes)
  FROM days GROUP BY day;
CREATE INDEX days_by_day ON days (day, repository);
)sql",
    // Attachments (signatures, SBOMs, attestations) get counters of their own, and their tags a
    // mark that keeps them out of the image tag list. Tags recorded before are marked by name:
    // sha256-<64 hex> or sha512-<128 hex>, optionally with .sig, .att or .sbom.
    R"sql(
ALTER TABLE repositories ADD COLUMN numattachmentpushes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE repositories ADD COLUMN numattachmentpulls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tags ADD COLUMN numattachmentpushes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tags ADD COLUMN numattachmentpulls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE digests ADD COLUMN numattachmentpushes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE digests ADD COLUMN numattachmentpulls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE actors ADD COLUMN numattachmentpushes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE actors ADD COLUMN numattachmentpulls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE days ADD COLUMN numattachmentpushes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE days ADD COLUMN numattachmentpulls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE total_days ADD COLUMN numattachmentpushes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE total_days ADD COLUMN numattachmentpulls INTEGER NOT NULL DEFAULT 0;
CREATE INDEX repositories_by_numattachmentpushes
  ON repositories (numattachmentpushes, repositoryname);
CREATE INDEX repositories_by_numattachmentpulls
  ON repositories (numattachmentpulls, repositoryname);
ALTER TABLE tags ADD COLUMN attachment INTEGER NOT NULL DEFAULT 0;
UPDATE tags SET attachment = 1 WHERE
  (substr(tag, 1, 7) = 'sha256-' AND length(tag) >= 71
   AND substr(tag, 8, 64) NOT GLOB '*[^0-9a-f]*' AND substr(tag, 72) IN ('', '.sig', '.att', '.sbom'))
  OR (substr(tag, 1, 7) = 'sha512-' AND length(tag) >= 135
   AND substr(tag, 8, 128) NOT GLOB '*[^0-9a-f]*'
   AND substr(tag, 136) IN ('', '.sig', '.att', '.sbom'));
)sql",
    // Traffic classes (docs/counting.md#traffic-classes): per repository and class, all time
    // (tag and day ''), per day (day set) and per tag (tag set).
    R"sql(
CREATE TABLE classes (
  repository TEXT NOT NULL,
  class TEXT NOT NULL,
  tag TEXT NOT NULL DEFAULT '',
  day TEXT NOT NULL DEFAULT '',
  )sql" DREC_CLASSES_TALLY_COLUMNS R"sql(,
  PRIMARY KEY (repository, class, tag, day)
) STRICT, WITHOUT ROWID;
)sql",
    // The time from which drec has seen a repository's traffic (the retention planner's
    // observation window). Repositories recorded before start at the earliest time known of
    // them; one with no time at all stays NULL (unknown).
    R"sql(
ALTER TABLE repositories ADD COLUMN observedsince INTEGER;
UPDATE repositories SET observedsince = (
  SELECT min(t) FROM (
    SELECT repositories.firstpushed AS t
    UNION ALL SELECT repositories.firstpulled
    UNION ALL SELECT firstseen FROM actors WHERE actors.repository = repositories.repositoryname));
)sql",
    // The rolling window kept at write time (docs/design.md#the-rolling-window): per repository
    // the sum of its days from rolling_window.from_day on, so trending reads one row per
    // repository instead of summing its days. from_day NULL means the counters are not valid:
    // the next windowed query recomputes them from the days, which is what an upgraded store
    // gets here (its days are summed on first use, for the window of that day).
    R"sql(
ALTER TABLE repositories ADD COLUMN window_numpulls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE repositories ADD COLUMN window_numpushs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE repositories ADD COLUMN window_numchecks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE repositories ADD COLUMN window_numindexpulls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE repositories ADD COLUMN window_numdeletes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE repositories ADD COLUMN window_numattachmentpushes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE repositories ADD COLUMN window_numattachmentpulls INTEGER NOT NULL DEFAULT 0;
CREATE INDEX repositories_by_window_numpulls ON repositories (window_numpulls, repositoryname);
CREATE TABLE rolling_window (
  id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
  from_day TEXT
) STRICT;
INSERT INTO rolling_window (id, from_day) VALUES (1, NULL);
)sql",
    // Batches whose event ids are claimed and durable but not yet folded into the records: the
    // acknowledgement waits for one small fsynced commit, the folding follows it (Settle in
    // sqlite_writer.cpp). Empty whenever drec is idle.
    R"sql(
CREATE TABLE pending (
  seq INTEGER PRIMARY KEY,
  effects BLOB NOT NULL
) STRICT;
)sql",
    // The repository count and the counter sums of every repository, kept at write time in the
    // transaction that changes a repository's counters, so the overview and an unfiltered list's
    // total read one row instead of every repository (docs/data-model.md#repository-totals).
    // An upgraded store computes them from its repositories here.
    // And the overview's three sorts (top by pulls, trending, recently pushed: descending, ties by
    // name ascending) get indexes in that order, so each reads its first rows off the index
    // instead of sorting every repository that ties on the counter; ascending pulls and window
    // sorts read the same indexes backwards (as in PostgreSQL), ascending lastpushed keeps its own.
    R"sql(
DROP INDEX repositories_by_numpulls;
CREATE INDEX repositories_by_numpulls_desc ON repositories (numpulls DESC, repositoryname);
DROP INDEX repositories_by_window_numpulls;
CREATE INDEX repositories_by_window_numpulls_desc
  ON repositories (window_numpulls DESC, repositoryname);
CREATE INDEX repositories_by_lastpushed_desc ON repositories (lastpushed DESC, repositoryname);
CREATE TABLE repository_totals (
  id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
  repositories INTEGER NOT NULL,
  )sql" DREC_CLASSES_COUNTER_COLUMNS R"sql(
) STRICT;
INSERT INTO repository_totals (id, repositories, numpulls, numpushs, numchecks, numindexpulls,
  numdeletes, numattachmentpushes, numattachmentpulls)
  SELECT 1, count(*), coalesce(sum(numpulls), 0), coalesce(sum(numpushs), 0),
    coalesce(sum(numchecks), 0), coalesce(sum(numindexpulls), 0), coalesce(sum(numdeletes), 0),
    coalesce(sum(numattachmentpushes), 0), coalesce(sum(numattachmentpulls), 0)
  FROM repositories;
)sql",
};

#undef DREC_CLASSES_TALLY_COLUMNS
#undef DREC_CLASSES_COUNTER_COLUMNS
#undef DREC_V1_TALLY_COLUMNS
#undef DREC_V1_COUNTER_COLUMNS

}  // namespace

int SchemaVersion() { return static_cast<int>(kMigrations.size()); }

// Runs each pending migration in its own transaction. The version is read inside the write
// transaction, so two processes opening a new file at once cannot both migrate it.
Status Migrate(Connection& db, int up_to) {
  for (;;) {
    Transaction tx(db);
    Status status = tx.Begin("BEGIN IMMEDIATE");
    if (!status.ok()) return status;
    std::int64_t version = 0;
    {
      auto stmt = db.Prepare("PRAGMA user_version");
      if (!stmt.ok()) return stmt.status();
      auto row = stmt->Step();
      if (!row.ok()) return row.status();
      version = stmt->Int(0);
    }
    if (version > static_cast<std::int64_t>(kMigrations.size())) {
      return Status::Internal("sqlite: database schema version " + std::to_string(version) +
                              " is newer than this drec supports (" +
                              std::to_string(kMigrations.size()) + ")");
    }
    if (version >= up_to) return tx.Commit();
    status = db.Exec(kMigrations[static_cast<size_t>(version)]);
    if (!status.ok()) return status;
    status = db.Exec(("PRAGMA user_version = " + std::to_string(version + 1)).c_str());
    if (!status.ok()) return status;
    status = tx.Commit();
    if (!status.ok()) return status;
  }
}

}  // namespace drec::sqlite
