// The PostgreSQL store's write side: applying batches exactly once when several replicas write
// at the same time (docs/postgresql.md#exactly-once-with-several-replicas).
//
// A batch is one transaction in two round trips. The first claims the batch's event ids
// (INSERT ... ON CONFLICT DO NOTHING RETURNING: an id another replica is applying makes this one
// wait for its outcome), takes a lock per repository and reads which required manifests are
// stored. The second applies the operations of the newly claimed events and commits. Locks are
// taken in one order by every replica (ids sorted, repositories sorted, per-day totals sorted
// last), so replicas never deadlock; a deadlock or serialization failure that happens anyway
// rolls back and the batch is applied again, intact.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>

#include "semantics/coalesce.h"
#include "store/known_manifests.h"
#include "store/postgresql/pg_fields.h"
#include "store/postgresql/pg_store.h"

namespace drec {
namespace {

using pg::Params;
using pg::Pipeline;

constexpr std::int64_t kMaxRepositoryActors = 100;
// Attempts of one batch after a deadlock or serialization failure, before answering 503.
constexpr int kConflictAttempts = 5;
// Repository locks are advisory, one key per (schema, repository); the class keeps them apart
// from the migration and pruning locks.
constexpr std::string_view kRepositoryLockClass = "drec-repository:";

constexpr const char kClaimEventIds[] =
    "INSERT INTO event_ids (id, applied_at) SELECT id, $2::bigint FROM unnest($1::text[]) AS id "
    "ON CONFLICT (id) DO NOTHING RETURNING id";

// The rolling window's lock (docs/design.md#the-rolling-window): every batch holds it shared, a
// roll exclusively, so a roll sees every day a batch added to the window before it, and a batch
// after it adds to the new window only. Advisory: held in memory, no row written.
constexpr std::string_view kWindowLockClass = "drec-window:";
constexpr const char kShareWindow[] =
    "SELECT pg_advisory_xact_lock_shared(hashtextextended($1::text, 0))";
constexpr const char kLockWindow[] = "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))";

constexpr const char kLockRepository[] =
    "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))";

// Every manifest event sets a media type; a digest known only from a delete or from an
// attachment naming it has none.
constexpr const char kKnownManifests[] =
    "SELECT m.repository, m.digest FROM unnest($1::text[], $2::text[]) AS m(repository, digest) "
    "JOIN digests AS d ON d.repository = m.repository AND d.digest = m.digest "
    "WHERE d.media_type IS NOT NULL";

// Appends only when the actor is new and the list has room: first-seen order.
constexpr const char kAddRepositoryActor[] =
    "UPDATE repositories SET actors = array_append(actors, $2::text) "
    "WHERE repositoryname = $1 AND cardinality(actors) < $3 AND NOT ($2::text = ANY(actors))";

constexpr const char kTagPointsAt[] =
    "INSERT INTO tags AS t (repository, tag, digest, digest_at, attachment) "
    "VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (repository, tag) DO UPDATE SET attachment = EXCLUDED.attachment, "
    "digest = CASE WHEN t.digest_at IS NULL OR EXCLUDED.digest_at >= t.digest_at "
    "THEN EXCLUDED.digest ELSE t.digest END, "
    "digest_at = CASE WHEN t.digest_at IS NULL OR EXCLUDED.digest_at >= t.digest_at "
    "THEN EXCLUDED.digest_at ELSE t.digest_at END, "
    "deleted = CASE WHEN t.deleted_at IS NULL OR EXCLUDED.digest_at > t.deleted_at THEN false "
    "ELSE t.deleted END";

constexpr const char kInsertDigestParent[] =
    "INSERT INTO digest_parents (repository, child, parent) VALUES ($1, $2, $3) "
    "ON CONFLICT DO NOTHING";

// A tag re-pointed after the delete keeps its new digest and stays live.
constexpr const char kDeleteTagsOfDigest[] =
    "UPDATE tags SET deleted = true, deleted_at = GREATEST(deleted_at, $3::bigint) "
    "WHERE repository = $1 AND digest = $2 AND (digest_at IS NULL OR digest_at <= $3::bigint)";

constexpr const char kTagDeleted[] =
    "INSERT INTO tags AS t (repository, tag, deleted, deleted_at) VALUES ($1, $2, true, $3) "
    "ON CONFLICT (repository, tag) DO UPDATE SET "
    "deleted_at = GREATEST(t.deleted_at, EXCLUDED.deleted_at), "
    "deleted = CASE WHEN t.digest_at IS NULL OR t.digest_at <= EXCLUDED.deleted_at THEN true "
    "ELSE t.deleted END";

// Same rule as a tag delete, so that a push newer than the repository delete survives
// whichever arrives first.
constexpr const char kDeleteRepositoryTags[] =
    "UPDATE tags SET deleted_at = GREATEST(deleted_at, $2::bigint), "
    "deleted = CASE WHEN digest_at IS NULL OR digest_at <= $2::bigint THEN true ELSE deleted END "
    "WHERE repository = $1";

constexpr const char kDeleteRepositoryDigests[] =
    "UPDATE digests SET deleted = true, deleted_at = GREATEST(deleted_at, $2::bigint) "
    "WHERE repository = $1";

// The statements that fold counters and times, built once from the field table.
struct FoldStatements {
  std::string upsert_repository, upsert_tag, update_tags_by_digest, upsert_digest, digest_deleted,
      upsert_actor, upsert_day, upsert_total_day, upsert_class, add_to_window, clear_window,
      recompute_window, subtract_from_window, add_back_to_window, add_to_totals,
      recorded_repositories;
  std::array<std::string, 8> remove_repository;

  FoldStatements() {
    using pg::FoldTally;
    using pg::TallyColumns;
    using pg::TallyParams;
    const std::string last_pushed(NameOf(TimeField::kLastPushed));
    // LEAST ignores NULL: an update without observed_since leaves the column as it is.
    upsert_repository = fmt::format(
        "INSERT INTO repositories AS r (repositoryname, observedsince, {}) VALUES ($1, $2, {}) "
        "ON CONFLICT (repositoryname) DO UPDATE SET "
        "observedsince = LEAST(r.observedsince, EXCLUDED.observedsince), {}",
        TallyColumns(), TallyParams(3), FoldTally("r"));
    upsert_tag = fmt::format(
        "INSERT INTO tags AS t (repository, tag, {}) VALUES ($1, $2, {}) "
        "ON CONFLICT (repository, tag) DO UPDATE SET {}",
        TallyColumns(), TallyParams(3), FoldTally("t"));
    // The delta as a row of its own, so the fold reads the same as an upsert's.
    update_tags_by_digest = fmt::format(
        "UPDATE tags AS t SET {0} FROM (SELECT {1}) AS delta({2}) "
        "WHERE t.repository = $1 AND NOT t.deleted AND (t.digest = $2 OR t.digest IN "
        "(SELECT parent FROM digest_parents WHERE repository = $1 AND child = $2))",
        FoldTally("t", "delta"), TypedTallyParams(3), TallyColumns());
    // A push newer than the digest's delete brings the digest back, whichever arrived first.
    upsert_digest = fmt::format(
        "INSERT INTO digests AS d (repository, digest, media_type, size, {0}) "
        "VALUES ($1, $2, $3, $4, {1}) ON CONFLICT (repository, digest) DO UPDATE SET "
        "media_type = coalesce(EXCLUDED.media_type, d.media_type), "
        "size = coalesce(EXCLUDED.size, d.size), "
        "deleted = CASE WHEN d.deleted_at IS NOT NULL AND EXCLUDED.{3} > d.deleted_at THEN false "
        "ELSE d.deleted END, {2}",
        TallyColumns(), TallyParams(5), FoldTally("d"), last_pushed);
    // A delete older than the digest's last push does not stand.
    digest_deleted = fmt::format(
        "INSERT INTO digests AS d (repository, digest, deleted, deleted_at) "
        "VALUES ($1, $2, true, $3) ON CONFLICT (repository, digest) DO UPDATE SET "
        "deleted = CASE WHEN d.{0} IS NULL OR d.{0} <= EXCLUDED.deleted_at THEN true "
        "ELSE d.deleted END, deleted_at = GREATEST(d.deleted_at, EXCLUDED.deleted_at)",
        last_pushed);
    upsert_actor = fmt::format(
        "INSERT INTO actors AS a (repository, actor, firstseen, lastseen, {}) "
        "VALUES ($1, $2, $3, $4, {}) ON CONFLICT (repository, actor) DO UPDATE SET "
        "firstseen = LEAST(a.firstseen, EXCLUDED.firstseen), "
        "lastseen = GREATEST(a.lastseen, EXCLUDED.lastseen), {}",
        TallyColumns(), TallyParams(5), FoldTally("a"));
    upsert_day = fmt::format(
        "INSERT INTO days AS d (repository, day, {}) VALUES ($1, $2, {}) "
        "ON CONFLICT (repository, day) DO UPDATE SET {}",
        TallyColumns(), TallyParams(3), FoldTally("d"));
    upsert_class = fmt::format(
        "INSERT INTO classes AS c (repository, class, tag, day, {}) VALUES ($1, $2, $3, $4, {}) "
        "ON CONFLICT (repository, class, tag, day) DO UPDATE SET {}",
        TallyColumns(), TallyParams(5), FoldTally("c"));
    upsert_total_day = fmt::format(
        "INSERT INTO total_days AS t (day, {}) VALUES ($1, {}) ON CONFLICT (day) DO UPDATE SET {}",
        pg::CounterColumns(), pg::CounterParams(2), pg::FoldCounters("t"));
    // A day's counts enter the repository's rolling window when the day is in it (from its first
    // day on, future days included, as the summed window has no end). With from_day NULL (not
    // valid) nothing is added: the next roll recomputes the window from the days.
    add_to_window = fmt::format(
        "UPDATE repositories AS r SET {} WHERE r.repositoryname = $1 "
        "AND $2::text >= (SELECT from_day FROM rolling_window)",
        WindowFold(3));
    clear_window = fmt::format("UPDATE repositories SET {}", pg::EachCounter("window_{0} = 0"));
    // Each of these sums the days of [$1, $2) per repository: the whole window ($2 is past any
    // day), the days that left it, or the days that came back into it.
    const auto from_days = [](std::string_view set) {
      return fmt::format(
          "UPDATE repositories AS r SET {} FROM (SELECT repository, {} FROM days "
          "WHERE day >= $1::text AND day < $2::text GROUP BY repository) AS d "
          "WHERE r.repositoryname = d.repository",
          pg::EachCounter(set), pg::EachCounter("sum({0}) AS {0}"));
    };
    recompute_window = from_days("window_{0} = d.{0}");
    subtract_from_window = from_days("window_{0} = r.window_{0} - d.{0}");
    add_back_to_window = from_days("window_{0} = r.window_{0} + d.{0}");
    // Which of the batch's (locked) repositories are recorded, with their counters: what the
    // batch changes in the all-repository totals is then known before its statements are sent.
    recorded_repositories = fmt::format(
        "SELECT repositoryname, {} FROM repositories WHERE repositoryname = ANY($1::text[])",
        pg::CounterColumns());
    // What a batch adds to the all-repository totals ($1 repositories, the counters from $2).
    add_to_totals = "UPDATE repository_totals SET repositories = repositories + $1::bigint";
    for (std::size_t i = 0; i < kCounterCount; ++i) {
      add_to_totals += fmt::format(", {0} = {0} + ${1}::bigint", kCounterFields[i].name, i + 2);
    }
    remove_repository = {
        // Forgotten statistics leave the totals too; this must run before the days are deleted.
        // An upsert: a day this batch wrote first has no total row before the batch's totals
        // are written at its end, and those still add what the removal takes away here.
        fmt::format("INSERT INTO total_days AS t (day, {}) SELECT day, {} FROM days "
                    "WHERE repository = $1 ON CONFLICT (day) DO UPDATE SET {}",
                    pg::CounterColumns(), pg::EachCounter("-{0}"),
                    pg::EachCounter("{0} = t.{0} + EXCLUDED.{0}")),
        "DELETE FROM repositories WHERE repositoryname = $1",
        "DELETE FROM tags WHERE repository = $1",
        "DELETE FROM digests WHERE repository = $1",
        "DELETE FROM digest_parents WHERE repository = $1",
        "DELETE FROM actors WHERE repository = $1",
        "DELETE FROM days WHERE repository = $1",
        "DELETE FROM classes WHERE repository = $1",
    };
  }

  // "window_numpulls = r.window_numpulls + $3::bigint, ...": the counters from parameter `first`.
  static std::string WindowFold(int first) {
    std::string out;
    for (std::size_t i = 0; i < kCounterCount; ++i) {
      if (!out.empty()) out += ", ";
      out += fmt::format("window_{0} = r.window_{0} + ${1}::bigint", kCounterFields[i].name,
                         first + static_cast<int>(i));
    }
    return out;
  }

  // "$3::bigint, ...": a row of the tally's parameters, typed since nothing else types them.
  static std::string TypedTallyParams(int first) {
    std::string out;
    for (std::size_t i = 0; i < kCounterCount + kTimeFieldCount; ++i) {
      if (!out.empty()) out += ", ";
      out += fmt::format("${}::bigint", first + static_cast<int>(i));
    }
    return out;
  }
};

const FoldStatements& Sql() {
  static const FoldStatements statements;
  return statements;
}

// Queues the statements of one batch's operations, in order, and sums what they add to the
// all-repository daily totals: those rows are shared by every repository, so they are written
// last, in day order, once per batch.
class OperationWriter {
 public:
  // `recorded`: the counters of the batch's repositories that were recorded before it.
  OperationWriter(Pipeline& pipeline, const std::map<std::string, CounterValues>& recorded)
      : pipeline_(pipeline) {
    for (const auto& [name, counts] : recorded) recorded_.emplace(name, counts);
  }

  void Add(const RepositoryUpdate& op) {
    std::optional<CounterValues>& recorded = recorded_[op.repository];
    if (!recorded) {
      recorded.emplace();
      ++added_repositories_;
    }
    *recorded += op.delta.counts;
    added_counts_ += op.delta.counts;
    Params params;
    params.Add(op.repository);
    params.Add(op.observed_since);
    pg::AddTally(params, op.delta);
    pipeline_.Add(Sql().upsert_repository, std::move(params));
    if (op.actor.empty()) return;
    pipeline_.Add(kAddRepositoryActor,
                  Params().Add(op.repository).Add(op.actor).Add(kMaxRepositoryActors));
  }

  void Add(const TagUpdate& op) {
    Params params;
    params.Add(op.repository).Add(op.tag);
    pg::AddTally(params, op.delta);
    pipeline_.Add(Sql().upsert_tag, std::move(params));
  }

  void Add(const TagsByDigestUpdate& op) {
    Params params;
    params.Add(op.repository).Add(op.digest);
    pg::AddTally(params, op.delta);
    pipeline_.Add(Sql().update_tags_by_digest, std::move(params));
  }

  void Add(const TagPointsAt& op) {
    pipeline_.Add(
        kTagPointsAt,
        Params().Add(op.repository).Add(op.tag).Add(op.digest).Add(op.at).Add(op.attachment));
  }

  void Add(const DigestUpdate& op) {
    Params params;
    params.Add(op.repository).Add(op.digest);
    // NULL keeps what is known: deletes and mounts carry no media type or size.
    if (op.media_type.empty()) {
      params.AddNull();
    } else {
      params.Add(op.media_type);
    }
    if (op.size == 0) {
      params.AddNull();
    } else {
      params.Add(op.size);
    }
    pg::AddTally(params, op.delta);
    pipeline_.Add(Sql().upsert_digest, std::move(params));
  }

  void Add(const DigestParent& op) {
    pipeline_.Add(kInsertDigestParent, Params().Add(op.repository).Add(op.child).Add(op.parent));
  }

  void Add(const ActorUpdate& op) {
    Params params;
    params.Add(op.repository).Add(op.actor).Add(op.firstseen).Add(op.lastseen);
    pg::AddTally(params, op.delta);
    pipeline_.Add(Sql().upsert_actor, std::move(params));
  }

  void Add(const DayUpdate& op) {
    Params params;
    params.Add(op.repository).Add(op.day);
    pg::AddTally(params, op.delta);
    pipeline_.Add(Sql().upsert_day, std::move(params));
    totals_[op.day] += op.delta.counts;
    if (op.delta.counts != CounterValues{}) windows_[{op.repository, op.day}] += op.delta.counts;
  }

  void Add(const ClassUpdate& op) {
    Params params;
    params.Add(op.repository).Add(op.cls).Add(op.tag).Add(op.day);
    pg::AddTally(params, op.delta);
    pipeline_.Add(Sql().upsert_class, std::move(params));
  }

  void Add(const DigestDeleted& op) {
    pipeline_.Add(Sql().digest_deleted, Params().Add(op.repository).Add(op.digest).Add(op.at));
    pipeline_.Add(kDeleteTagsOfDigest, Params().Add(op.repository).Add(op.digest).Add(op.at));
  }

  void Add(const TagDeleted& op) {
    pipeline_.Add(kTagDeleted, Params().Add(op.repository).Add(op.tag).Add(op.at));
  }

  void Add(const RepositoryDeleted& op) {
    pipeline_.Add(kDeleteRepositoryTags, Params().Add(op.repository).Add(op.at));
    pipeline_.Add(kDeleteRepositoryDigests, Params().Add(op.repository).Add(op.at));
  }

  void Add(const RepositoryRemoved& op) {
    // The window of the rows removed here is gone with them; a later update starts it afresh.
    std::erase_if(windows_, [&](const auto& entry) { return entry.first.first == op.repository; });
    if (std::optional<CounterValues>& recorded = recorded_[op.repository]; recorded) {
      --added_repositories_;
      for (std::size_t i = 0; i < kCounterCount; ++i) added_counts_.at(i) -= recorded->at(i);
      recorded.reset();
    }
    for (const std::string& sql : Sql().remove_repository) {
      pipeline_.Add(sql, Params().Add(op.repository));
    }
  }

  // Queues the batch's additions to the repositories' rolling windows, one per repository and
  // day. The repository rows exist: the semantics put a repository's RepositoryUpdate before its
  // DayUpdate in every effect, and they are locked by this batch already.
  void AddWindows() {
    for (const auto& [key, counts] : windows_) {
      Params params;
      params.Add(key.first).Add(key.second);
      pg::AddCounters(params, counts);
      pipeline_.Add(Sql().add_to_window, std::move(params));
    }
  }

  // Queues the daily totals, in day order, then the all-repository totals: the rows every batch
  // shares come last, always in this order.
  void AddTotals() {
    for (const auto& [day, counts] : totals_) {
      Params params;
      params.Add(day);
      pg::AddCounters(params, counts);
      pipeline_.Add(Sql().upsert_total_day, std::move(params));
    }
    if (added_repositories_ == 0 && added_counts_ == CounterValues{}) return;
    Params params;
    params.Add(added_repositories_);
    pg::AddCounters(params, added_counts_);
    pipeline_.Add(Sql().add_to_totals, std::move(params));
  }

 private:
  Pipeline& pipeline_;
  // Per repository of the batch, its counters as the batch leaves them; nullopt: not recorded.
  std::map<std::string, std::optional<CounterValues>> recorded_;
  std::int64_t added_repositories_ = 0;
  CounterValues added_counts_;
  std::map<std::string, CounterValues> totals_;
  std::map<std::pair<std::string, std::string>, CounterValues> windows_;
};

// The repositories a batch touches, sorted: the order every replica locks them in.
std::set<std::string> RepositoriesOf(const Batch& batch) {
  std::set<std::string> repositories;
  for (const EventEffect& effect : batch.effects) {
    if (effect.requires_manifest) repositories.insert(effect.requires_manifest->repository);
    for (const Operation& operation : effect.operations) {
      std::visit([&](const auto& op) { repositories.insert(op.repository); }, operation);
    }
  }
  return repositories;
}

// One attempt at a batch: its transaction, committed or not.
pg::ErrorInfo ApplyOnce(pg::Connection& db, const std::string& schema, const Batch& batch,
                        ApplyOutcome* outcome) {
  std::vector<std::string> ids;
  std::vector<std::string> manifest_repositories, manifest_digests;
  for (const EventEffect& effect : batch.effects) {
    ids.push_back(effect.event_id);
    if (const auto& m = effect.requires_manifest) {
      manifest_repositories.push_back(m->repository);
      manifest_digests.push_back(m->digest);
    }
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());

  std::set<std::string> claimed;
  std::set<KnownManifests::Key> stored_manifests;
  Pipeline claim(db);
  claim.Add("BEGIN", Params());
  // First, before any lock a roll could wait for behind this batch.
  claim.Add(kShareWindow, Params().Add(fmt::format("{}{}", kWindowLockClass, schema)));
  // Pruning keeps ids for a span of wall-clock time after they were applied; event timestamps
  // come from registry clocks and may be arbitrarily old.
  claim.Add(kClaimEventIds, Params().AddArray(ids).Add(NowMillis()), [&](const PGresult* rows) {
    pg::ForEachRow(rows, [&](pg::RowReader& row) { claimed.insert(row.Text()); });
  });
  const std::set<std::string> repositories = RepositoriesOf(batch);
  for (const std::string& repository : repositories) {
    claim.Add(kLockRepository,
              Params().Add(fmt::format("{}{}/{}", kRepositoryLockClass, schema, repository)));
  }
  // Read under the locks: no other batch changes these rows before this one commits.
  std::map<std::string, CounterValues> recorded;
  claim.Add(Sql().recorded_repositories,
            Params().AddArray(std::vector<std::string>(repositories.begin(), repositories.end())),
            [&](const PGresult* rows) {
              pg::ForEachRow(rows, [&](pg::RowReader& row) {
                std::string name = row.Text();
                recorded[std::move(name)] = pg::ReadCounters(row);
              });
            });
  if (!manifest_repositories.empty()) {
    claim.Add(kKnownManifests, Params().AddArray(manifest_repositories).AddArray(manifest_digests),
              [&](const PGresult* rows) {
                pg::ForEachRow(rows, [&](pg::RowReader& row) {
                  std::string repository = row.Text();
                  stored_manifests.emplace(std::move(repository), row.Text());
                });
              });
  }
  pg::ErrorInfo error = claim.Run();
  if (!error.status.ok()) return error;

  ApplyOutcome result;
  Pipeline apply(db);
  OperationWriter writer(apply, recorded);
  std::set<std::string> handled;
  KnownManifests manifests(std::move(stored_manifests));
  std::vector<EventEffect> applied;
  for (const EventEffect& effect : batch.effects) {
    if (!claimed.contains(effect.event_id) || !handled.insert(effect.event_id).second) {
      ++result.duplicates;
      continue;
    }
    if (!manifests.Allows(effect)) {
      ++result.unknown_manifests;
      continue;
    }
    for (const Operation& operation : effect.operations) manifests.Observe(operation);
    applied.push_back(effect);
    ++result.applied;
  }
  // Which effects apply is decided above, in order; those coalesce, so a record that several
  // events of the batch touch costs one statement.
  for (const Operation& operation : CoalesceEffects(std::move(applied))) {
    std::visit([&](const auto& op) { writer.Add(op); }, operation);
  }
  writer.AddWindows();
  writer.AddTotals();
  apply.Add("COMMIT", Params());
  error = apply.Run();
  if (!error.status.ok()) return error;
  *outcome = result;
  return error;
}

}  // namespace

Status PostgresStore::RollWindow(const std::string& to_day) {
  std::lock_guard lock(writer_mutex_);
  auto writer = Writer();
  if (!writer.ok()) return writer.status();
  pg::Connection& db = **writer;
  Status status = db.Exec("BEGIN");
  if (!status.ok()) return status;
  const auto fail = [&](Status failed) {
    if (db.usable()) (void)db.Exec("ROLLBACK");
    return failed;
  };
  auto locked = db.Query(kLockWindow, Params().Add(fmt::format("{}{}", kWindowLockClass, schema_)));
  if (!locked.ok()) return fail(locked.status());
  auto rows =
      db.Query("SELECT from_day IS NULL, coalesce(from_day, '') FROM rolling_window", Params());
  if (!rows.ok()) return fail(rows.status());
  std::optional<std::string> from_day;
  pg::ForEachRow(rows->get(), [&](pg::RowReader& row) {
    const bool unset = row.Bool();
    std::string day = row.Text();
    if (!unset) from_day = std::move(day);
  });
  if (from_day == to_day) return db.Exec("COMMIT");  // another replica rolled it first
  // Past any "YYYY-MM-DD": the recomputed window has no end, as the summed one.
  const std::string no_end = "~";
  const auto run = [&](const std::string& sql, const Params& params) {
    auto result = db.Query(sql, params);
    return result.ok() ? Status::Ok() : result.status();
  };
  if (!from_day) {
    status = run(Sql().clear_window, Params());
    if (status.ok()) status = run(Sql().recompute_window, Params().Add(to_day).Add(no_end));
  } else if (*from_day < to_day) {
    status = run(Sql().subtract_from_window, Params().Add(*from_day).Add(to_day));
  } else {
    status = run(Sql().add_back_to_window, Params().Add(to_day).Add(*from_day));
  }
  if (status.ok()) {
    status = run("UPDATE rolling_window SET from_day = $1::text", Params().Add(to_day));
  }
  if (!status.ok()) return fail(status);
  return db.Exec("COMMIT");
}

Status PostgresStore::Apply(const Batch& batch, ApplyOutcome* outcome) {
  std::lock_guard lock(writer_mutex_);
  pg::ErrorInfo error;
  bool reconnected = false;
  for (int attempt = 0; attempt < kConflictAttempts; ++attempt) {
    const bool fresh = writer_ == nullptr || !writer_->usable();
    auto db = Writer();
    if (!db.ok()) return db.status();
    ApplyOutcome result;
    error = ApplyOnce(**db, schema_, batch, &result);
    if (error.status.ok()) {
      if (outcome != nullptr) *outcome = result;
      return Status::Ok();
    }
    // The transaction is over either way; a connection that cannot end it cleanly is replaced.
    const bool broken = !(*db)->usable() || !(*db)->Exec("ROLLBACK").ok();
    if (broken) writer_.reset();
    // A connection that broke while idle (the server restarted, or failed over, since the last
    // batch) gets one more attempt on a new one at once, instead of a 503 and the registry's
    // back-off. Safe even if the commit went through: the ids are then found claimed.
    if (broken && !fresh && !reconnected) {
      reconnected = true;
      continue;
    }
    if (!error.retry) break;
  }
  return error.status;
}

}  // namespace drec
