// The embedded store's write side: applying batches exactly once, and pruning event ids.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <optional>
#include <string>
#include <variant>

#include "semantics/coalesce.h"
#include "store/effects_codec.h"
#include "store/sqlite/sqlite_fields.h"
#include "store/sqlite/sqlite_handle.h"
#include "store/sqlite/sqlite_store.h"

namespace drec {
namespace {

using sqlite::Connection;
using sqlite::Statement;
using sqlite::Transaction;

constexpr std::int64_t kMaxRepositoryActors = 100;
// Pruning deletes in chunks and releases the write lock between them, so a week of event ids
// never stalls the committer (and the registry waiting on it) for long.
constexpr std::int64_t kPruneChunk = 5000;

constexpr const char kInsertEventId[] =
    "INSERT OR IGNORE INTO event_ids (id, applied_at) VALUES (:id, :applied_at)";

// Appends to the JSON array only when the actor is new and the list has room: first-seen order.
constexpr const char kAddRepositoryActor[] =
    "UPDATE repositories SET actors = json_insert(actors, '$[#]', :actor) "
    "WHERE repositoryname = :repository AND json_array_length(actors) < :max_actors "
    "AND NOT EXISTS (SELECT 1 FROM json_each(repositories.actors) WHERE value = :actor)";

// In an UPDATE every right-hand side reads the row as it was before, so the CASEs all compare
// against the old digest_at and deleted_at.
constexpr const char kTagPointsAt[] =
    "INSERT INTO tags (repository, tag, digest, digest_at, attachment) "
    "VALUES (:repository, :tag, :digest, :at, :attachment) "
    "ON CONFLICT (repository, tag) DO UPDATE SET attachment = :attachment, "
    "digest = CASE WHEN digest_at IS NULL OR :at >= digest_at THEN :digest ELSE digest END, "
    "digest_at = CASE WHEN digest_at IS NULL OR :at >= digest_at THEN :at ELSE digest_at END, "
    "deleted = CASE WHEN deleted_at IS NULL OR :at > deleted_at THEN 0 ELSE deleted END";

constexpr const char kInsertDigestParent[] =
    "INSERT OR IGNORE INTO digest_parents (repository, child, parent) "
    "VALUES (:repository, :child, :parent)";

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

// Every manifest event sets a media type; a digest known only from a delete or from an
// attachment naming it has none.
constexpr const char kKnownManifest[] =
    "SELECT 1 FROM digests WHERE repository = :repository AND digest = :digest "
    "AND media_type IS NOT NULL";

// Claimed effects, one row per Apply, folded in claim order by Settle.
constexpr const char kInsertPending[] = "INSERT INTO pending (effects) VALUES (:effects)";
constexpr const char kReadPending[] = "SELECT seq, effects FROM pending ORDER BY seq";
constexpr const char kDeletePending[] = "DELETE FROM pending WHERE seq <= :last";
// Claimed effects beyond this are settled before the next claim.
constexpr std::int64_t kMaxUnsettledEffects = 1024;

constexpr const char kPruneEventIds[] =
    "DELETE FROM event_ids WHERE id IN "
    "(SELECT id FROM event_ids WHERE applied_at < :cutoff LIMIT :chunk)";

// The statements that fold counters and times, built once from the field table.
struct FoldStatements {
  std::string upsert_repository, upsert_tag, update_tags_by_digest, upsert_digest, digest_deleted,
      upsert_actor, upsert_day, upsert_total_day, upsert_class, add_to_window, clear_window,
      recompute_window, subtract_from_window, add_back_to_window, add_to_totals;
  std::array<std::string, 9> remove_repository;

  FoldStatements() {
    using sqlite::FoldTally;
    using sqlite::TallyColumns;
    using sqlite::TallyParams;
    const std::string last_pushed(NameOf(TimeField::kLastPushed));
    // observedsince folds like a first* time: an unset bound never wins.
    upsert_repository = fmt::format(
        "INSERT INTO repositories (repositoryname, observedsince, {}) "
        "VALUES (:repository, :observedsince, {}) "
        "ON CONFLICT (repositoryname) DO UPDATE SET observedsince = "
        "coalesce(min(observedsince, :observedsince), observedsince, :observedsince), {}",
        TallyColumns(), TallyParams(), FoldTally());
    upsert_tag = fmt::format(
        "INSERT INTO tags (repository, tag, {}) VALUES (:repository, :tag, {}) "
        "ON CONFLICT (repository, tag) DO UPDATE SET {}",
        TallyColumns(), TallyParams(), FoldTally());
    update_tags_by_digest = fmt::format(
        "UPDATE tags SET {} WHERE repository = :repository AND deleted = 0 AND (digest = :digest "
        "OR digest IN (SELECT parent FROM digest_parents WHERE repository = :repository AND "
        "child = :digest))",
        FoldTally());
    // A push newer than the digest's delete brings the digest back, whichever arrived first.
    upsert_digest = fmt::format(
        "INSERT INTO digests (repository, digest, media_type, size, {0}) "
        "VALUES (:repository, :digest, :media_type, :size, {1}) "
        "ON CONFLICT (repository, digest) DO UPDATE SET "
        "media_type = coalesce(:media_type, media_type), size = coalesce(:size, size), "
        "deleted = CASE WHEN deleted_at IS NOT NULL AND :{3} > deleted_at THEN 0 "
        "ELSE deleted END, {2}",
        TallyColumns(), TallyParams(), FoldTally(), last_pushed);
    // A delete older than the digest's last push does not stand.
    digest_deleted = fmt::format(
        "INSERT INTO digests (repository, digest, deleted, deleted_at) "
        "VALUES (:repository, :digest, 1, :at) ON CONFLICT (repository, digest) DO UPDATE SET "
        "deleted = CASE WHEN {0} IS NULL OR {0} <= :at THEN 1 ELSE deleted END, "
        "deleted_at = coalesce(max(deleted_at, :at), :at)",
        last_pushed);
    upsert_actor = fmt::format(
        "INSERT INTO actors (repository, actor, firstseen, lastseen, {}) "
        "VALUES (:repository, :actor, :firstseen, :lastseen, {}) "
        "ON CONFLICT (repository, actor) DO UPDATE SET "
        "firstseen = coalesce(min(firstseen, :firstseen), firstseen, :firstseen), "
        "lastseen = coalesce(max(lastseen, :lastseen), lastseen, :lastseen), {}",
        TallyColumns(), TallyParams(), FoldTally());
    upsert_day = fmt::format(
        "INSERT INTO days (repository, day, {}) VALUES (:repository, :day, {}) "
        "ON CONFLICT (repository, day) DO UPDATE SET {}",
        TallyColumns(), TallyParams(), FoldTally());
    upsert_class = fmt::format(
        "INSERT INTO classes (repository, class, tag, day, {}) "
        "VALUES (:repository, :class, :tag, :day, {}) "
        "ON CONFLICT (repository, class, tag, day) DO UPDATE SET {}",
        TallyColumns(), TallyParams(), FoldTally());
    upsert_total_day = fmt::format(
        "INSERT INTO total_days (day, {}) VALUES (:day, {}) ON CONFLICT (day) DO UPDATE SET {}",
        sqlite::CounterColumns(), sqlite::CounterParams(), sqlite::FoldCounters());
    // A day's counts enter the repository's rolling window when the day is in it (from its first
    // day on, future days included, as the summed window has no end). With from_day NULL (not
    // valid) nothing is added: the next roll recomputes the window from the days.
    add_to_window = fmt::format(
        "UPDATE repositories SET {} WHERE repositoryname = :repository "
        "AND :day >= (SELECT from_day FROM rolling_window)",
        sqlite::EachCounter("window_{0} = window_{0} + :{0}"));
    clear_window = fmt::format("UPDATE repositories SET {}", sqlite::EachCounter("window_{0} = 0"));
    // Each of these sums the days of [:from, :to) per repository: the whole window (:to is past
    // any day), the days that left it, or the days that came back into it.
    const auto from_days = [](std::string_view set) {
      return fmt::format(
          "UPDATE repositories SET {} FROM (SELECT repository, {} FROM days "
          "WHERE day >= :from AND day < :to GROUP BY repository) AS d "
          "WHERE repositories.repositoryname = d.repository",
          sqlite::EachCounter(set), sqlite::EachCounter("sum({0}) AS {0}"));
    };
    recompute_window = from_days("window_{0} = d.{0}");
    subtract_from_window = from_days("window_{0} = window_{0} - d.{0}");
    add_back_to_window = from_days("window_{0} = window_{0} + d.{0}");
    // Runs before the repository's upsert: a repository not yet recorded is one more.
    add_to_totals = fmt::format(
        "UPDATE repository_totals SET repositories = repositories + NOT EXISTS "
        "(SELECT 1 FROM repositories WHERE repositoryname = :repository), {}",
        sqlite::FoldCounters());
    remove_repository = {
        // The repository's counters leave the all-repository totals (nothing when unknown).
        fmt::format("UPDATE repository_totals SET repositories = repository_totals.repositories "
                    "- 1, {} FROM repositories AS r WHERE r.repositoryname = :repository",
                    sqlite::EachCounter("{0} = repository_totals.{0} - r.{0}")),
        // Forgotten statistics leave the totals too; this must run before the days are deleted.
        fmt::format("UPDATE total_days SET {} FROM (SELECT day, {} FROM days "
                    "WHERE repository = :repository) AS d WHERE total_days.day = d.day",
                    sqlite::EachCounter("{0} = total_days.{0} - d.{0}"), sqlite::CounterColumns()),
        "DELETE FROM repositories WHERE repositoryname = :repository",
        "DELETE FROM tags WHERE repository = :repository",
        "DELETE FROM digests WHERE repository = :repository",
        "DELETE FROM digest_parents WHERE repository = :repository",
        "DELETE FROM actors WHERE repository = :repository",
        "DELETE FROM days WHERE repository = :repository",
        "DELETE FROM classes WHERE repository = :repository",
    };
  }
};

const FoldStatements& Sql() {
  static const FoldStatements statements;
  return statements;
}

// Runs a cached statement that returns no rows, its parameters set by `bind`.
template <typename BindFn>
Status Execute(Connection& db, std::string_view sql, BindFn bind) {
  auto stmt = db.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  bind(*stmt);
  return stmt->Run();
}

Result<bool> IsKnownManifest(Connection& db, const KnownManifest& manifest) {
  auto stmt = db.Prepare(kKnownManifest);
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(":repository", manifest.repository);
  stmt->Bind(":digest", manifest.digest);
  return stmt->Step();
}

Status ApplyOperation(Connection& db, const RepositoryUpdate& op) {
  Status status = Execute(db, Sql().add_to_totals, [&](Statement& s) {
    s.Bind(":repository", op.repository);
    sqlite::BindCounters(s, op.delta.counts);
  });
  if (!status.ok()) return status;
  status = Execute(db, Sql().upsert_repository, [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":observedsince", op.observed_since);
    sqlite::BindTally(s, op.delta);
  });
  if (!status.ok() || op.actor.empty()) return status;
  return Execute(db, kAddRepositoryActor, [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":actor", op.actor);
    s.Bind(":max_actors", kMaxRepositoryActors);
  });
}

Status ApplyOperation(Connection& db, const TagUpdate& op) {
  return Execute(db, Sql().upsert_tag, [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":tag", op.tag);
    sqlite::BindTally(s, op.delta);
  });
}

Status ApplyOperation(Connection& db, const TagsByDigestUpdate& op) {
  return Execute(db, Sql().update_tags_by_digest, [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":digest", op.digest);
    sqlite::BindTally(s, op.delta);
  });
}

Status ApplyOperation(Connection& db, const TagPointsAt& op) {
  return Execute(db, kTagPointsAt, [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":tag", op.tag);
    s.Bind(":digest", op.digest);
    s.Bind(":at", op.at);
    s.Bind(":attachment", std::int64_t{op.attachment});
  });
}

Status ApplyOperation(Connection& db, const DigestUpdate& op) {
  return Execute(db, Sql().upsert_digest, [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":digest", op.digest);
    // NULL keeps what is known: deletes and mounts carry no media type or size.
    if (!op.media_type.empty()) s.Bind(":media_type", op.media_type);
    if (op.size != 0) s.Bind(":size", op.size);
    sqlite::BindTally(s, op.delta);
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
  return Execute(db, Sql().upsert_actor, [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":actor", op.actor);
    s.Bind(":firstseen", op.firstseen);
    s.Bind(":lastseen", op.lastseen);
    sqlite::BindTally(s, op.delta);
  });
}

Status ApplyOperation(Connection& db, const DayUpdate& op) {
  Status status = Execute(db, Sql().upsert_day, [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":day", op.day);
    sqlite::BindTally(s, op.delta);
  });
  if (!status.ok()) return status;
  status = Execute(db, Sql().upsert_total_day, [&](Statement& s) {
    s.Bind(":day", op.day);
    sqlite::BindCounters(s, op.delta.counts);
  });
  if (!status.ok() || op.delta.counts == CounterValues{}) return status;
  // The repository row exists: the semantics put a repository's RepositoryUpdate before its
  // DayUpdate in every effect, and the row is then already written in this transaction.
  return Execute(db, Sql().add_to_window, [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":day", op.day);
    sqlite::BindCounters(s, op.delta.counts);
  });
}

Status ApplyOperation(Connection& db, const ClassUpdate& op) {
  return Execute(db, Sql().upsert_class, [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":class", op.cls);
    s.Bind(":tag", op.tag);
    s.Bind(":day", op.day);
    sqlite::BindTally(s, op.delta);
  });
}

Status ApplyOperation(Connection& db, const DigestDeleted& op) {
  const auto bind = [&](Statement& s) {
    s.Bind(":repository", op.repository);
    s.Bind(":digest", op.digest);
    s.Bind(":at", op.at);
  };
  Status status = Execute(db, Sql().digest_deleted, bind);
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
  for (const std::string& sql : Sql().remove_repository) {
    Status status = Execute(db, sql, [&](Statement& s) { s.Bind(":repository", op.repository); });
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

// Applies one effect's operations, in order.
Status ApplyOperations(Connection& db, const EventEffect& effect) {
  for (const Operation& operation : effect.operations) {
    Status status = std::visit([&](const auto& op) { return ApplyOperation(db, op); }, operation);
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

}  // namespace

Status SqliteStore::Apply(const Batch& batch, ApplyOutcome* outcome) {
  std::lock_guard lock(writer_mutex_);
  // A manifest check reads the records, so they must first hold everything claimed before it;
  // and claimed effects are folded before they pass a bound, so one Settle stays one bounded
  // commit however long batches keep arriving.
  const bool checks_manifests =
      std::any_of(batch.effects.begin(), batch.effects.end(),
                  [](const EventEffect& e) { return e.requires_manifest.has_value(); });
  if (checks_manifests || unsettled_effects_ >= kMaxUnsettledEffects) {
    if (Status status = SettleLocked(); !status.ok()) return status;
  }
  if (!synchronous_full_) {
    if (Status status = writer_->Exec("PRAGMA synchronous = FULL"); !status.ok()) return status;
    synchronous_full_ = true;
  }
  Transaction tx(*writer_);
  Status status = tx.Begin("BEGIN IMMEDIATE");
  if (!status.ok()) return status;
  // Pruning keeps ids for a span of wall-clock time after they were applied; event
  // timestamps come from registry clocks and may be arbitrarily old.
  const UnixMillis now = NowMillis();
  ApplyOutcome result;
  std::vector<const EventEffect*> claimed;
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
    if (!checks_manifests) {
      claimed.push_back(&effect);
      ++result.applied;
      continue;
    }
    if (effect.requires_manifest) {
      auto known = IsKnownManifest(*writer_, *effect.requires_manifest);
      if (!known.ok()) return known.status();
      if (!*known) {
        ++result.unknown_manifests;
        continue;
      }
    }
    status = ApplyOperations(*writer_, effect);
    if (!status.ok()) return status;
    ++result.applied;
  }
  if (!claimed.empty()) {
    std::string encoded;
    EncodeEffects(claimed, &encoded);
    status =
        Execute(*writer_, kInsertPending, [&](Statement& s) { s.BindBlob(":effects", encoded); });
    if (!status.ok()) return status;
  }
  status = tx.Commit();
  if (!status.ok()) return status;
  if (!claimed.empty()) {
    unsettled_effects_ += static_cast<std::int64_t>(claimed.size());
    unsettled_.store(true);
  }
  if (outcome != nullptr) *outcome = result;
  return Status::Ok();
}

Status SqliteStore::Settle() {
  if (!unsettled_.load()) return Status::Ok();
  std::lock_guard lock(writer_mutex_);
  return SettleLocked();
}

Status SqliteStore::SettleLocked() {
  if (!unsettled_.load()) return Status::Ok();
  // The claims are durable already: this commit need not wait for the disk. Should a power loss
  // undo it, the pending rows it deletes come back with it and are folded again.
  Status status = writer_->Exec("PRAGMA synchronous = NORMAL");
  if (!status.ok()) return status;
  synchronous_full_ = false;
  Transaction tx(*writer_);
  status = tx.Begin("BEGIN IMMEDIATE");
  if (!status.ok()) return status;
  std::vector<std::string> blobs;
  std::int64_t last_seq = 0;
  {
    auto stmt = writer_->Prepare(kReadPending);
    if (!stmt.ok()) return stmt.status();
    status = sqlite::ForEachRow(*stmt, [&](sqlite::RowReader& row) {
      last_seq = row.Int();
      blobs.push_back(row.Blob());
    });
    if (!status.ok()) return status;
  }
  std::vector<EventEffect> claimed;
  for (const std::string& blob : blobs) {
    auto effects = DecodeEffects(blob);
    if (!effects.ok()) {
      return Status::Internal("sqlite: a claimed batch in the pending table is unreadable: " +
                              effects.status().message());
    }
    std::move(effects->begin(), effects->end(), std::back_inserter(claimed));
  }
  // Claimed effects are unconditional (Apply checks manifests directly), so they coalesce: each
  // record is written once per fold, not once per event.
  for (const Operation& operation : CoalesceEffects(std::move(claimed))) {
    status = std::visit([&](const auto& op) { return ApplyOperation(*writer_, op); }, operation);
    if (!status.ok()) return status;
  }
  if (!blobs.empty()) {
    status = Execute(*writer_, kDeletePending, [&](Statement& s) { s.Bind(":last", last_seq); });
    if (!status.ok()) return status;
  }
  status = tx.Commit();
  if (!status.ok()) return status;
  unsettled_effects_ = 0;
  unsettled_.store(false);
  return Status::Ok();
}

Status SqliteStore::RollWindow(const std::string& to_day) {
  std::lock_guard lock(writer_mutex_);
  Transaction tx(*writer_);
  Status status = tx.Begin("BEGIN IMMEDIATE");
  if (!status.ok()) return status;
  std::optional<std::string> from_day;
  {
    auto stmt =
        writer_->Prepare("SELECT from_day IS NULL, coalesce(from_day, '') FROM rolling_window");
    if (!stmt.ok()) return stmt.status();
    status = sqlite::ForEachRow(*stmt, [&](sqlite::RowReader& row) {
      const bool unset = row.Bool();
      std::string day = row.Text();
      if (!unset) from_day = std::move(day);
    });
    if (!status.ok()) return status;
  }
  if (from_day == to_day) return tx.Commit();  // another query rolled it first
  // Past any "YYYY-MM-DD": the recomputed window has no end, as the summed one.
  const std::string kNoEnd = "~";
  const auto run = [&](const std::string& sql, const std::string& from, const std::string& to) {
    return Execute(*writer_, sql, [&](Statement& s) {
      s.Bind(":from", from);
      s.Bind(":to", to);
    });
  };
  if (!from_day) {
    status = writer_->Exec(Sql().clear_window.c_str());
    if (status.ok()) status = run(Sql().recompute_window, to_day, kNoEnd);
  } else if (*from_day < to_day) {
    status = run(Sql().subtract_from_window, *from_day, to_day);
  } else {
    status = run(Sql().add_back_to_window, to_day, *from_day);
  }
  if (!status.ok()) return status;
  status = Execute(*writer_, "UPDATE rolling_window SET from_day = :to",
                   [&](Statement& s) { s.Bind(":to", to_day); });
  if (!status.ok()) return status;
  return tx.Commit();
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

}  // namespace drec
