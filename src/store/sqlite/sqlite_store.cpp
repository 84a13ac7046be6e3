#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <system_error>
#include <utility>
#include <variant>

#include "store/sqlite/sqlite_handle.h"

namespace drec {
namespace {

using sqlite::Connection;
using sqlite::Statement;
using sqlite::Transaction;

constexpr int kReadConnections = 4;
constexpr std::int64_t kMaxRepositoryActors = 100;
// Pruning deletes in chunks and releases the write lock between them, so a week of event ids
// never stalls the committer (and the registry waiting on it) for long.
constexpr std::int64_t kPruneChunk = 5000;

// Schema migrations: entry i takes the database from user_version i to i + 1. Never edit an
// entry once released, databases in the field already ran it; append a new one instead.
// Times are unix milliseconds, NULL until the first such event; names are values, never columns.
constexpr std::array<const char*, 2> kMigrations = {
    R"sql(
CREATE TABLE repositories (
  repositoryname TEXT NOT NULL PRIMARY KEY,
  numpulls INTEGER NOT NULL DEFAULT 0,
  numpushs INTEGER NOT NULL DEFAULT 0,
  numchecks INTEGER NOT NULL DEFAULT 0,
  numindexpulls INTEGER NOT NULL DEFAULT 0,
  numdeletes INTEGER NOT NULL DEFAULT 0,
  firstpushed INTEGER,
  lastpushed INTEGER,
  firstpulled INTEGER,
  lastpulled INTEGER,
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
  numpulls INTEGER NOT NULL DEFAULT 0,
  numpushs INTEGER NOT NULL DEFAULT 0,
  numchecks INTEGER NOT NULL DEFAULT 0,
  numindexpulls INTEGER NOT NULL DEFAULT 0,
  numdeletes INTEGER NOT NULL DEFAULT 0,
  firstpushed INTEGER,
  lastpushed INTEGER,
  firstpulled INTEGER,
  lastpulled INTEGER,
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
  numpulls INTEGER NOT NULL DEFAULT 0,
  numpushs INTEGER NOT NULL DEFAULT 0,
  numchecks INTEGER NOT NULL DEFAULT 0,
  numindexpulls INTEGER NOT NULL DEFAULT 0,
  numdeletes INTEGER NOT NULL DEFAULT 0,
  firstpushed INTEGER,
  lastpushed INTEGER,
  firstpulled INTEGER,
  lastpulled INTEGER,
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
  numpulls INTEGER NOT NULL DEFAULT 0,
  numpushs INTEGER NOT NULL DEFAULT 0,
  numchecks INTEGER NOT NULL DEFAULT 0,
  numindexpulls INTEGER NOT NULL DEFAULT 0,
  numdeletes INTEGER NOT NULL DEFAULT 0,
  firstpushed INTEGER,
  lastpushed INTEGER,
  firstpulled INTEGER,
  lastpulled INTEGER,
  firstseen INTEGER,
  lastseen INTEGER,
  PRIMARY KEY (repository, actor)
) STRICT, WITHOUT ROWID;

CREATE TABLE days (
  repository TEXT NOT NULL,
  day TEXT NOT NULL,
  numpulls INTEGER NOT NULL DEFAULT 0,
  numpushs INTEGER NOT NULL DEFAULT 0,
  numchecks INTEGER NOT NULL DEFAULT 0,
  numindexpulls INTEGER NOT NULL DEFAULT 0,
  numdeletes INTEGER NOT NULL DEFAULT 0,
  firstpushed INTEGER,
  lastpushed INTEGER,
  firstpulled INTEGER,
  lastpulled INTEGER,
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
  numpulls INTEGER NOT NULL DEFAULT 0,
  numpushs INTEGER NOT NULL DEFAULT 0,
  numchecks INTEGER NOT NULL DEFAULT 0,
  numindexpulls INTEGER NOT NULL DEFAULT 0,
  numdeletes INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;
INSERT INTO total_days
  SELECT day, sum(numpulls), sum(numpushs), sum(numchecks), sum(numindexpulls), sum(numdeletes)
  FROM days GROUP BY day;
CREATE INDEX days_by_day ON days (day, repository);
)sql",
};

// The counter columns in the order ReadCounters expects them.
#define DREC_COUNTER_COLUMNS                                                            \
  "numpulls, numpushs, numchecks, numindexpulls, numdeletes, firstpushed, lastpushed, " \
  "firstpulled, lastpulled"
// The parameters BindDelta fills, in the same order.
#define DREC_DELTA_PARAMS                                                                      \
  ":numpulls, :numpushs, :numchecks, :numindexpulls, :numdeletes, :firstpushed, :lastpushed, " \
  ":firstpulled, :lastpulled"
// Folds the bound delta into a row: counters add up, first* take the minimum and last* the
// maximum, where an unset bound (NULL) never wins. SQLite's min()/max() return NULL when any
// argument is NULL, hence the coalesce.
#define DREC_FOLD_DELTA                                                                  \
  "numpulls = numpulls + :numpulls, numpushs = numpushs + :numpushs, "                   \
  "numchecks = numchecks + :numchecks, numindexpulls = numindexpulls + :numindexpulls, " \
  "numdeletes = numdeletes + :numdeletes, "                                              \
  "firstpushed = coalesce(min(firstpushed, :firstpushed), firstpushed, :firstpushed), "  \
  "lastpushed = coalesce(max(lastpushed, :lastpushed), lastpushed, :lastpushed), "       \
  "firstpulled = coalesce(min(firstpulled, :firstpulled), firstpulled, :firstpulled), "  \
  "lastpulled = coalesce(max(lastpulled, :lastpulled), lastpulled, :lastpulled)"

constexpr const char kInsertEventId[] =
    "INSERT OR IGNORE INTO event_ids (id, applied_at) VALUES (:id, :applied_at)";

constexpr const char kUpsertRepository[] =
    "INSERT INTO repositories (repositoryname, " DREC_COUNTER_COLUMNS
    ") VALUES (:repository, " DREC_DELTA_PARAMS
    ") ON CONFLICT (repositoryname) DO UPDATE SET " DREC_FOLD_DELTA;

// Appends to the JSON array only when the actor is new and the list has room: first-seen order.
constexpr const char kAddRepositoryActor[] =
    "UPDATE repositories SET actors = json_insert(actors, '$[#]', :actor) "
    "WHERE repositoryname = :repository AND json_array_length(actors) < :max_actors "
    "AND NOT EXISTS (SELECT 1 FROM json_each(repositories.actors) WHERE value = :actor)";

constexpr const char kUpsertTag[] =
    "INSERT INTO tags (repository, tag, " DREC_COUNTER_COLUMNS
    ") VALUES (:repository, :tag, " DREC_DELTA_PARAMS
    ") ON CONFLICT (repository, tag) DO UPDATE SET " DREC_FOLD_DELTA;

constexpr const char kUpdateTagsByDigest[] =
    "UPDATE tags SET " DREC_FOLD_DELTA
    " WHERE repository = :repository AND deleted = 0 AND (digest = :digest OR digest IN "
    "(SELECT parent FROM digest_parents WHERE repository = :repository AND child = :digest))";

// In an UPDATE every right-hand side reads the row as it was before, so the CASEs all compare
// against the old digest_at and deleted_at.
constexpr const char kTagPointsAt[] =
    "INSERT INTO tags (repository, tag, digest, digest_at) "
    "VALUES (:repository, :tag, :digest, :at) ON CONFLICT (repository, tag) DO UPDATE SET "
    "digest = CASE WHEN digest_at IS NULL OR :at >= digest_at THEN :digest ELSE digest END, "
    "digest_at = CASE WHEN digest_at IS NULL OR :at >= digest_at THEN :at ELSE digest_at END, "
    "deleted = CASE WHEN deleted_at IS NULL OR :at > deleted_at THEN 0 ELSE deleted END";

// A push newer than the digest's delete brings the digest back, whichever arrived first.
constexpr const char kUpsertDigest[] =
    "INSERT INTO digests (repository, digest, media_type, size, " DREC_COUNTER_COLUMNS
    ") VALUES (:repository, :digest, :media_type, :size, " DREC_DELTA_PARAMS
    ") ON CONFLICT (repository, digest) DO UPDATE SET "
    "media_type = coalesce(:media_type, media_type), "
    "size = coalesce(:size, size), "
    "deleted = CASE WHEN deleted_at IS NOT NULL AND :lastpushed > deleted_at THEN 0 "
    "ELSE deleted END, " DREC_FOLD_DELTA;

constexpr const char kInsertDigestParent[] =
    "INSERT OR IGNORE INTO digest_parents (repository, child, parent) "
    "VALUES (:repository, :child, :parent)";

constexpr const char kUpsertActor[] =
    "INSERT INTO actors (repository, actor, firstseen, lastseen, " DREC_COUNTER_COLUMNS
    ") VALUES (:repository, :actor, :firstseen, :lastseen, " DREC_DELTA_PARAMS
    ") ON CONFLICT (repository, actor) DO UPDATE SET "
    "firstseen = coalesce(min(firstseen, :firstseen), firstseen, :firstseen), "
    "lastseen = coalesce(max(lastseen, :lastseen), lastseen, :lastseen), " DREC_FOLD_DELTA;

constexpr const char kUpsertDay[] =
    "INSERT INTO days (repository, day, " DREC_COUNTER_COLUMNS
    ") VALUES (:repository, :day, " DREC_DELTA_PARAMS
    ") ON CONFLICT (repository, day) DO UPDATE SET " DREC_FOLD_DELTA;

constexpr const char kUpsertTotalDay[] =
    "INSERT INTO total_days (day, numpulls, numpushs, numchecks, numindexpulls, numdeletes) "
    "VALUES (:day, :numpulls, :numpushs, :numchecks, :numindexpulls, :numdeletes) "
    "ON CONFLICT (day) DO UPDATE SET numpulls = numpulls + :numpulls, "
    "numpushs = numpushs + :numpushs, numchecks = numchecks + :numchecks, "
    "numindexpulls = numindexpulls + :numindexpulls, numdeletes = numdeletes + :numdeletes";

constexpr const char kDigestDeleted[] =
    "INSERT INTO digests (repository, digest, deleted, deleted_at) "
    "VALUES (:repository, :digest, 1, :at) ON CONFLICT (repository, digest) DO UPDATE SET "
    "deleted = CASE WHEN lastpushed IS NULL OR lastpushed <= :at THEN 1 ELSE deleted END, "
    "deleted_at = coalesce(max(deleted_at, :at), :at)";

// A tag re-pointed after the delete keeps its new digest and stays live.
constexpr const char kDeleteTagsOfDigest[] =
    "UPDATE tags SET deleted = 1, deleted_at = coalesce(max(deleted_at, :at), :at) "
    "WHERE repository = :repository AND digest = :digest "
    "AND (digest_at IS NULL OR digest_at <= :at)";

constexpr const char kTagDeleted[] =
    "INSERT INTO tags (repository, tag, deleted, deleted_at) VALUES (:repository, :tag, 1, :at) "
    "ON CONFLICT (repository, tag) DO UPDATE SET "
    "deleted_at = coalesce(max(deleted_at, :at), :at), "
    "deleted = CASE WHEN digest_at IS NULL OR digest_at <= :at THEN 1 ELSE deleted END";

// Same rule as a tag delete, so that a push newer than the repository delete survives
// whichever arrives first.
constexpr const char kDeleteRepositoryTags[] =
    "UPDATE tags SET deleted_at = coalesce(max(deleted_at, :at), :at), "
    "deleted = CASE WHEN digest_at IS NULL OR digest_at <= :at THEN 1 ELSE deleted END "
    "WHERE repository = :repository";

constexpr const char kDeleteRepositoryDigests[] =
    "UPDATE digests SET deleted = 1, deleted_at = coalesce(max(deleted_at, :at), :at) "
    "WHERE repository = :repository";

constexpr std::array<const char*, 7> kRemoveRepository = {
    // Forgotten statistics leave the totals too; this must run before the days are deleted.
    "UPDATE total_days SET numpulls = total_days.numpulls - d.numpulls, "
    "numpushs = total_days.numpushs - d.numpushs, numchecks = total_days.numchecks - d.numchecks, "
    "numindexpulls = total_days.numindexpulls - d.numindexpulls, "
    "numdeletes = total_days.numdeletes - d.numdeletes "
    "FROM (SELECT day, numpulls, numpushs, numchecks, numindexpulls, numdeletes FROM days "
    "WHERE repository = :repository) AS d WHERE total_days.day = d.day",
    "DELETE FROM repositories WHERE repositoryname = :repository",
    "DELETE FROM tags WHERE repository = :repository",
    "DELETE FROM digests WHERE repository = :repository",
    "DELETE FROM digest_parents WHERE repository = :repository",
    "DELETE FROM actors WHERE repository = :repository",
    "DELETE FROM days WHERE repository = :repository",
};

constexpr const char kPruneEventIds[] =
    "DELETE FROM event_ids WHERE id IN "
    "(SELECT id FROM event_ids WHERE applied_at < :cutoff LIMIT :chunk)";

// The columns ReadRepository expects, in its order.
#define DREC_REPOSITORY_COLUMNS "repositoryname, " DREC_COUNTER_COLUMNS ", numstars"
constexpr const char kRepositoryColumns[] = DREC_REPOSITORY_COLUMNS;

constexpr const char kSelectRepository[] =
    "SELECT " DREC_REPOSITORY_COLUMNS " FROM repositories WHERE repositoryname = :repository";

constexpr const char kSelectRepositoryActors[] =
    "SELECT json_each.value FROM repositories, json_each(repositories.actors) "
    "WHERE repositoryname = :repository ORDER BY json_each.key";

constexpr const char kSelectLiveTagNames[] =
    "SELECT tag FROM tags WHERE repository = :repository AND deleted = 0 ORDER BY tag";

constexpr const char kSelectTags[] =
    "SELECT tag, coalesce(digest, ''), deleted, " DREC_COUNTER_COLUMNS
    " FROM tags WHERE repository = :repository ORDER BY tag";

constexpr const char kSelectDigests[] =
    "SELECT digest, coalesce(media_type, ''), coalesce(size, 0), deleted, " DREC_COUNTER_COLUMNS
    " FROM digests WHERE repository = :repository ORDER BY digest";

constexpr const char kSelectActors[] = "SELECT actor, firstseen, lastseen, " DREC_COUNTER_COLUMNS
                                       " FROM actors WHERE repository = :repository ORDER BY actor";

constexpr const char kSelectDays[] =
    "SELECT day, " DREC_COUNTER_COLUMNS
    " FROM days WHERE repository = :repository AND day >= :from AND day <= :to ORDER BY day";

// count, then the counters in ReadCounters' order: sums, and the extremes of the times.
constexpr const char kSummarizeRepositories[] =
    "SELECT count(*), coalesce(sum(numpulls), 0), coalesce(sum(numpushs), 0), "
    "coalesce(sum(numchecks), 0), coalesce(sum(numindexpulls), 0), coalesce(sum(numdeletes), 0), "
    "min(firstpushed), max(lastpushed), min(firstpulled), max(lastpulled) FROM repositories";

constexpr const char kSelectTotalDays[] =
    "SELECT day, numpulls, numpushs, numchecks, numindexpulls, numdeletes FROM total_days "
    "WHERE day >= :from AND day <= :to ORDER BY day";

#undef DREC_COUNTER_COLUMNS
#undef DREC_REPOSITORY_COLUMNS
#undef DREC_DELTA_PARAMS
#undef DREC_FOLD_DELTA

// The fields ListRepositories may sort by, the name first; the query text only ever contains
// these literals, never the caller's string.
constexpr std::array<const char*, 10> kSortFields = {
    "repositoryname", "numpulls",    "numpushs",   "numchecks",   "numindexpulls",
    "numdeletes",     "firstpushed", "lastpushed", "firstpulled", "lastpulled",
};

// The counters a window sums, in the order ListRepositories reads them.
constexpr std::array<const char*, 5> kWindowCounters = {"numpulls", "numpushs", "numchecks",
                                                        "numindexpulls", "numdeletes"};

void BindDelta(Statement& stmt, const Delta& delta) {
  stmt.Bind(":numpulls", delta.numpulls);
  stmt.Bind(":numpushs", delta.numpushs);
  stmt.Bind(":numchecks", delta.numchecks);
  stmt.Bind(":numindexpulls", delta.numindexpulls);
  stmt.Bind(":numdeletes", delta.numdeletes);
  stmt.Bind(":firstpushed", delta.firstpushed);
  stmt.Bind(":lastpushed", delta.lastpushed);
  stmt.Bind(":firstpulled", delta.firstpulled);
  stmt.Bind(":lastpulled", delta.lastpulled);
}

Counters ReadCounters(const Statement& stmt, int first) {
  Counters c;
  c.numpulls = stmt.Int(first);
  c.numpushs = stmt.Int(first + 1);
  c.numchecks = stmt.Int(first + 2);
  c.numindexpulls = stmt.Int(first + 3);
  c.numdeletes = stmt.Int(first + 4);
  c.firstpushed = stmt.OptionalInt(first + 5);
  c.lastpushed = stmt.OptionalInt(first + 6);
  c.firstpulled = stmt.OptionalInt(first + 7);
  c.lastpulled = stmt.OptionalInt(first + 8);
  return c;
}

// The least string greater than every string that starts with `prefix` (SQLite compares TEXT
// bytewise), or nullopt when there is none: an index range instead of LIKE, whose wildcards
// would need escaping in user input.
std::optional<std::string> PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    const auto last = static_cast<unsigned char>(prefix.back());
    if (last != 0xff) {
      prefix.back() = static_cast<char>(last + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::nullopt;
}

// Runs a cached statement that returns no rows, its parameters set by `bind`.
template <typename BindFn>
Status Execute(Connection& db, const char* sql, BindFn bind) {
  auto stmt = db.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  bind(*stmt);
  return stmt->Run();
}

Status ApplyOperation(Connection& db, const RepositoryUpdate& op) {
  Status status = Execute(db, kUpsertRepository, [&](Statement& s) {
    s.Bind(":repository", op.repository);
    BindDelta(s, op.delta);
  });
  if (!status.ok() || op.actor.empty()) return status;
  return Execute(db, kAddRepositoryActor, [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":actor", op.actor);
    s.Bind(":max_actors", kMaxRepositoryActors);
  });
}

Status ApplyOperation(Connection& db, const TagUpdate& op) {
  return Execute(db, kUpsertTag, [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":tag", op.tag);
    BindDelta(s, op.delta);
  });
}

Status ApplyOperation(Connection& db, const TagsByDigestUpdate& op) {
  return Execute(db, kUpdateTagsByDigest, [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":digest", op.digest);
    BindDelta(s, op.delta);
  });
}

Status ApplyOperation(Connection& db, const TagPointsAt& op) {
  return Execute(db, kTagPointsAt, [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":tag", op.tag);
    s.Bind(":digest", op.digest);
    s.Bind(":at", op.at);
  });
}

Status ApplyOperation(Connection& db, const DigestUpdate& op) {
  return Execute(db, kUpsertDigest, [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":digest", op.digest);
    // NULL keeps what is known: deletes and mounts carry no media type or size.
    if (!op.media_type.empty()) s.Bind(":media_type", op.media_type);
    if (op.size != 0) s.Bind(":size", op.size);
    BindDelta(s, op.delta);
  });
}

Status ApplyOperation(Connection& db, const DigestParent& op) {
  return Execute(db, kInsertDigestParent, [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":child", op.child);
    s.Bind(":parent", op.parent);
  });
}

Status ApplyOperation(Connection& db, const ActorUpdate& op) {
  return Execute(db, kUpsertActor, [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":actor", op.actor);
    s.Bind(":firstseen", op.firstseen);
    s.Bind(":lastseen", op.lastseen);
    BindDelta(s, op.delta);
  });
}

Status ApplyOperation(Connection& db, const DayUpdate& op) {
  Status status = Execute(db, kUpsertDay, [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":day", op.day);
    BindDelta(s, op.delta);
  });
  if (!status.ok()) return status;
  return Execute(db, kUpsertTotalDay, [&](Statement& s) {
    s.Bind(":day", op.day);
    s.Bind(":numpulls", op.delta.numpulls);
    s.Bind(":numpushs", op.delta.numpushs);
    s.Bind(":numchecks", op.delta.numchecks);
    s.Bind(":numindexpulls", op.delta.numindexpulls);
    s.Bind(":numdeletes", op.delta.numdeletes);
  });
}

Status ApplyOperation(Connection& db, const DigestDeleted& op) {
  const auto bind = [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":digest", op.digest);
    s.Bind(":at", op.at);
  };
  Status status = Execute(db, kDigestDeleted, bind);
  if (!status.ok()) return status;
  return Execute(db, kDeleteTagsOfDigest, bind);
}

Status ApplyOperation(Connection& db, const TagDeleted& op) {
  return Execute(db, kTagDeleted, [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":tag", op.tag);
    s.Bind(":at", op.at);
  });
}

Status ApplyOperation(Connection& db, const RepositoryDeleted& op) {
  const auto bind = [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":at", op.at);
  };
  Status status = Execute(db, kDeleteRepositoryTags, bind);
  if (!status.ok()) return status;
  return Execute(db, kDeleteRepositoryDigests, bind);
}

Status ApplyOperation(Connection& db, const RepositoryRemoved& op) {
  for (const char* sql : kRemoveRepository) {
    Status status = Execute(db, sql, [&](Statement& s) { s.Bind(":repository", op.repository); });
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

// Runs each pending migration in its own transaction. The version is read inside the write
// transaction, so two processes opening a new file at once cannot both migrate it.
Status Migrate(Connection& db) {
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
    if (version == static_cast<std::int64_t>(kMigrations.size())) return tx.Commit();
    status = db.Exec(kMigrations[static_cast<size_t>(version)]);
    if (!status.ok()) return status;
    status = db.Exec(("PRAGMA user_version = " + std::to_string(version + 1)).c_str());
    if (!status.ok()) return status;
    status = tx.Commit();
    if (!status.ok()) return status;
  }
}

Status OpenWriter(const std::string& path, std::unique_ptr<Connection>* writer) {
  auto db =
      Connection::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
  if (!db.ok()) return db.status();
  {
    // journal_mode answers with the mode in effect; a filesystem without WAL support keeps
    // the old one, and readers would then block the writer.
    auto stmt = (*db)->Prepare("PRAGMA journal_mode = WAL");
    if (!stmt.ok()) return stmt.status();
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    if (stmt->Text(0) != "wal") {
      return Status::Internal("sqlite: cannot use WAL journal mode on " + path + ", got " +
                              stmt->Text(0));
    }
  }
  Status status = (*db)->Exec("PRAGMA synchronous = FULL");
  if (!status.ok()) return status;
  status = Migrate(**db);
  if (!status.ok()) return status;
  *writer = std::move(*db);
  return Status::Ok();
}

Result<std::vector<std::string>> ReadRepositoryActors(Connection& db, const std::string& name) {
  auto stmt = db.Prepare(kSelectRepositoryActors);
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(":repository", name);
  std::vector<std::string> actors;
  for (;;) {
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) return actors;
    actors.push_back(stmt->Text(0));
  }
}

// Reads a row of kRepositoryColumns, plus the repository's actors.
Result<RepositoryRecord> ReadRepository(Connection& db, const Statement& stmt) {
  RepositoryRecord record;
  record.repositoryname = stmt.Text(0);
  record.counters = ReadCounters(stmt, 1);
  record.numstars = stmt.Int(10);
  auto actors = ReadRepositoryActors(db, record.repositoryname);
  if (!actors.ok()) return actors.status();
  record.actors = std::move(*actors);
  return record;
}

// Collects every row of a query, each converted by `read`.
template <typename Record, typename BindFn, typename ReadFn>
Result<std::vector<Record>> Collect(sqlite::ConnectionPool& pool, const char* sql, BindFn bind,
                                    ReadFn read) {
  auto db = pool.Acquire();
  auto stmt = db->Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  bind(*stmt);
  std::vector<Record> records;
  for (;;) {
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) return records;
    records.push_back(read(*stmt));
  }
}

}  // namespace

SqliteStore::SqliteStore(std::unique_ptr<sqlite::Connection> writer,
                         std::unique_ptr<sqlite::ConnectionPool> readers)
    : writer_(std::move(writer)), readers_(std::move(readers)) {}

SqliteStore::~SqliteStore() = default;

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  if (sqlite3_threadsafe() == 0) {
    return Status::Internal("sqlite: library built without thread support");
  }
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code error;
    std::filesystem::create_directories(parent, error);
    if (error) {
      return Status::Unavailable("sqlite: cannot create directory " + parent.string() + ": " +
                                 error.message());
    }
  }
  std::unique_ptr<Connection> writer;
  Status status = OpenWriter(path, &writer);
  if (!status.ok()) return status;
  std::vector<std::unique_ptr<Connection>> readers;
  for (int i = 0; i < kReadConnections; ++i) {
    auto reader = Connection::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
    if (!reader.ok()) return reader.status();
    // Readers must never write, even by mistake: the writer's mutex is what orders writes.
    status = (*reader)->Exec("PRAGMA query_only = ON");
    if (!status.ok()) return status;
    readers.push_back(std::move(*reader));
  }
  return std::unique_ptr<SqliteStore>(new SqliteStore(
      std::move(writer), std::make_unique<sqlite::ConnectionPool>(std::move(readers))));
}

Status SqliteStore::Apply(const Batch& batch, ApplyOutcome* outcome) {
  std::lock_guard lock(writer_mutex_);
  Transaction tx(*writer_);
  Status status = tx.Begin("BEGIN IMMEDIATE");
  if (!status.ok()) return status;
  // Pruning keeps ids for a span of wall-clock time after they were applied; event
  // timestamps come from registry clocks and may be arbitrarily old.
  const UnixMillis now = NowMillis();
  ApplyOutcome result;
  for (const EventEffect& effect : batch.effects) {
    status = Execute(*writer_, kInsertEventId, [&](Statement& s) {
      s.Bind(":id", effect.event_id);
      s.Bind(":applied_at", now);
    });
    if (!status.ok()) return status;
    if (writer_->Changes() == 0) {
      ++result.duplicates;
      continue;
    }
    for (const Operation& operation : effect.operations) {
      status = std::visit([&](const auto& op) { return ApplyOperation(*writer_, op); }, operation);
      if (!status.ok()) return status;
    }
    ++result.applied;
  }
  status = tx.Commit();
  if (!status.ok()) return status;
  if (outcome != nullptr) *outcome = result;
  return Status::Ok();
}

Status SqliteStore::Ping() {
  auto db = readers_->Acquire();
  auto stmt = db->Prepare("SELECT count(*) FROM sqlite_schema");
  if (!stmt.ok()) return stmt.status();
  return stmt->Run();
}

Status SqliteStore::PruneEventIds(UnixMillis cutoff) {
  for (;;) {
    std::lock_guard lock(writer_mutex_);
    Status status = Execute(*writer_, kPruneEventIds, [&](Statement& s) {
      s.Bind(":cutoff", cutoff);
      s.Bind(":chunk", kPruneChunk);
    });
    if (!status.ok()) return status;
    if (writer_->Changes() < kPruneChunk) return Status::Ok();
  }
}

Result<RepositoryPage> SqliteStore::ListRepositories(const RepositoryQuery& query) {
  const bool windowed = query.window_from_day.has_value();
  std::string order_column;
  if (query.sort_field.starts_with("window.")) {
    const std::string counter = query.sort_field.substr(7);
    const auto known = std::find(kWindowCounters.begin(), kWindowCounters.end(), counter);
    if (known == kWindowCounters.end()) {
      return Status::InvalidArgument("unknown sort field: " + query.sort_field);
    }
    if (!windowed)
      return Status::InvalidArgument("sort by " + query.sort_field + " needs a window");
    order_column = std::string("coalesce(w.window_") + *known + ", 0)";
  } else {
    const auto field = std::find_if(kSortFields.begin(), kSortFields.end(),
                                    [&](const char* f) { return query.sort_field == f; });
    if (field == kSortFields.end()) {
      return Status::InvalidArgument("unknown sort field: " + query.sort_field);
    }
    order_column = std::string("r.") + *field;
  }
  if (query.offset < 0 || query.limit < 0) {
    return Status::InvalidArgument("offset and limit must not be negative");
  }
  const std::optional<std::string> prefix_end = PrefixEnd(query.name_prefix);
  // Only literals of this function enter the text; every value is a bound parameter.
  std::string from = " FROM repositories AS r";
  if (windowed) {
    from +=
        " LEFT JOIN (SELECT repository, sum(numpulls) AS window_numpulls, "
        "sum(numpushs) AS window_numpushs, sum(numchecks) AS window_numchecks, "
        "sum(numindexpulls) AS window_numindexpulls, sum(numdeletes) AS window_numdeletes "
        "FROM days WHERE day >= :window_from GROUP BY repository) "
        "AS w ON w.repository = r.repositoryname";
  }
  std::string where = " WHERE r.repositoryname >= :prefix";
  if (prefix_end) where += " AND r.repositoryname < :prefix_end";
  if (query.pulled_before) where += " AND (r.lastpulled IS NULL OR r.lastpulled < :pulled_before)";
  if (query.pushed_after) where += " AND r.lastpushed > :pushed_after";
  if (!query.actor.empty()) {
    where +=
        " AND EXISTS (SELECT 1 FROM actors AS a WHERE a.repository = r.repositoryname "
        "AND a.actor = :actor)";
  }
  // Ties sort by name, ascending whatever the direction, so pages are stable.
  std::string order = " ORDER BY " + order_column + (query.descending ? " DESC" : " ASC");
  if (order_column != "r.repositoryname") order += ", r.repositoryname ASC";
  const std::string count_sql = "SELECT count(*) FROM repositories AS r" + where;
  // The window's columns have names of their own, so the repository's stay unambiguous.
  std::string columns = kRepositoryColumns;
  if (windowed) {
    for (const char* c : kWindowCounters)
      columns += std::string(", coalesce(w.window_") + c + ", 0)";
  }
  const std::string page_sql =
      "SELECT " + columns + from + where + order + " LIMIT :limit OFFSET :offset";
  const auto bind = [&](Statement& stmt) {
    stmt.Bind(":prefix", query.name_prefix);
    if (prefix_end) stmt.Bind(":prefix_end", *prefix_end);
    if (query.pulled_before) stmt.Bind(":pulled_before", *query.pulled_before);
    if (query.pushed_after) stmt.Bind(":pushed_after", *query.pushed_after);
    if (!query.actor.empty()) stmt.Bind(":actor", query.actor);
  };

  auto db = readers_->Acquire();
  // One snapshot for the count and the page, so `total` describes the items returned.
  Transaction tx(*db);
  Status status = tx.Begin("BEGIN");
  if (!status.ok()) return status;
  RepositoryPage page;
  {
    auto stmt = db->Prepare(count_sql);
    if (!stmt.ok()) return stmt.status();
    bind(*stmt);
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    page.total = stmt->Int(0);
  }
  auto stmt = db->Prepare(page_sql);
  if (!stmt.ok()) return stmt.status();
  bind(*stmt);
  if (windowed) stmt->Bind(":window_from", *query.window_from_day);
  stmt->Bind(":limit", query.limit);
  stmt->Bind(":offset", query.offset);
  for (;;) {
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    auto record = ReadRepository(*db, *stmt);
    if (!record.ok()) return record.status();
    if (windowed) {
      record->window =
          WindowCounters{stmt->Int(11), stmt->Int(12), stmt->Int(13), stmt->Int(14), stmt->Int(15)};
    }
    page.items.push_back(std::move(*record));
  }
  return page;
}

Result<Summary> SqliteStore::Summarize(const std::string& from_day, const std::string& to_day) {
  auto db = readers_->Acquire();
  Transaction tx(*db);
  Status status = tx.Begin("BEGIN");
  if (!status.ok()) return status;
  Summary summary;
  {
    auto stmt = db->Prepare(kSummarizeRepositories);
    if (!stmt.ok()) return stmt.status();
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    summary.repositories = stmt->Int(0);
    summary.totals = ReadCounters(*stmt, 1);
  }
  auto stmt = db->Prepare(kSelectTotalDays);
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(":from", from_day);
  stmt->Bind(":to", to_day);
  for (;;) {
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    DayRecord day{stmt->Text(0), {}};
    day.counters.numpulls = stmt->Int(1);
    day.counters.numpushs = stmt->Int(2);
    day.counters.numchecks = stmt->Int(3);
    day.counters.numindexpulls = stmt->Int(4);
    day.counters.numdeletes = stmt->Int(5);
    summary.days.push_back(std::move(day));
  }
  return summary;
}

Result<std::optional<RepositoryRecord>> SqliteStore::GetRepository(const std::string& name) {
  auto db = readers_->Acquire();
  // One snapshot, so the live tag list belongs to the counters it is returned with.
  Transaction tx(*db);
  Status status = tx.Begin("BEGIN");
  if (!status.ok()) return status;
  auto stmt = db->Prepare(kSelectRepository);
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(":repository", name);
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<RepositoryRecord>();
  auto record = ReadRepository(*db, *stmt);
  if (!record.ok()) return record.status();
  auto tags = db->Prepare(kSelectLiveTagNames);
  if (!tags.ok()) return tags.status();
  tags->Bind(":repository", name);
  for (;;) {
    auto tag_row = tags->Step();
    if (!tag_row.ok()) return tag_row.status();
    if (!*tag_row) break;
    record->tags.push_back(tags->Text(0));
  }
  return std::optional<RepositoryRecord>(std::move(*record));
}

Result<std::vector<TagRecord>> SqliteStore::ListTags(const std::string& repository) {
  return Collect<TagRecord>(
      *readers_, kSelectTags, [&](Statement& s) { s.Bind(":repository", repository); },
      [](const Statement& s) {
        return TagRecord{s.Text(0), s.Text(1), s.Int(2) != 0, ReadCounters(s, 3)};
      });
}

Result<std::vector<DigestRecord>> SqliteStore::ListDigests(const std::string& repository) {
  return Collect<DigestRecord>(
      *readers_, kSelectDigests, [&](Statement& s) { s.Bind(":repository", repository); },
      [](const Statement& s) {
        return DigestRecord{s.Text(0), s.Text(1), s.Int(2), s.Int(3) != 0, ReadCounters(s, 4)};
      });
}

Result<std::vector<ActorRecord>> SqliteStore::ListActors(const std::string& repository) {
  return Collect<ActorRecord>(
      *readers_, kSelectActors, [&](Statement& s) { s.Bind(":repository", repository); },
      [](const Statement& s) {
        return ActorRecord{s.Text(0), ReadCounters(s, 3), s.OptionalInt(1), s.OptionalInt(2)};
      });
}

Result<std::vector<DayRecord>> SqliteStore::ListDays(const std::string& repository,
                                                     const std::string& from_day,
                                                     const std::string& to_day) {
  return Collect<DayRecord>(
      *readers_, kSelectDays,
      [&](Statement& s) {
        s.Bind(":repository", repository);
        s.Bind(":from", from_day);
        s.Bind(":to", to_day);
      },
      [](const Statement& s) {
        return DayRecord{s.Text(0), ReadCounters(s, 1)};
      });
}

}  // namespace drec
