// The embedded store's read side: the queries of the API, each in one read snapshot.
#include <fmt/format.h>

#include <string>

#include "store/name_prefix.h"
#include "store/sqlite/sqlite_fields.h"
#include "store/sqlite/sqlite_handle.h"
#include "store/sqlite/sqlite_store.h"

namespace drec {
namespace {

using sqlite::Connection;
using sqlite::RowReader;
using sqlite::Statement;
using sqlite::Transaction;

constexpr const char kSelectRepositoryActors[] =
    "SELECT json_each.value FROM repositories, json_each(repositories.actors) "
    "WHERE repositoryname = :repository ORDER BY json_each.key";

// Ordered as the digests are listed, so the parents join them in one pass.
constexpr const char kSelectDigestParents[] =
    "SELECT child, parent FROM digest_parents WHERE repository = :repository "
    "ORDER BY child, parent";

constexpr const char kSelectLiveTagNames[] =
    "SELECT tag FROM tags WHERE repository = :repository AND deleted = 0 AND attachment = 0 "
    "ORDER BY tag";

// The statements that read counters and times, built once from the field table. Each column
// list is read back, in its order, by the reader beside the query that uses it.
struct QueryStatements {
  std::string repository_columns, select_repository, select_tags, select_digests, select_actors,
      select_days, summarize_repositories, select_total_days, select_classes, select_tag_classes,
      select_day_classes;

  QueryStatements() {
    using sqlite::TallyColumns;
    repository_columns =
        fmt::format("r.repositoryname, {}, r.numstars, r.observedsince", TallyColumns("r."));
    select_repository = fmt::format(
        "SELECT {} FROM repositories AS r WHERE repositoryname = :repository", repository_columns);
    select_tags = fmt::format(
        "SELECT tag, coalesce(digest, ''), deleted, attachment, {} FROM tags "
        "WHERE repository = :repository "
        "ORDER BY tag",
        TallyColumns());
    select_digests = fmt::format(
        "SELECT digest, coalesce(media_type, ''), coalesce(size, 0), deleted, {} FROM digests "
        "WHERE repository = :repository ORDER BY digest",
        TallyColumns());
    select_actors = fmt::format(
        "SELECT actor, firstseen, lastseen, {} FROM actors WHERE repository = :repository "
        "ORDER BY actor",
        TallyColumns());
    select_days = fmt::format(
        "SELECT day, {} FROM days WHERE repository = :repository AND day >= :from AND day <= :to "
        "ORDER BY day",
        TallyColumns());
    const std::string class_columns = "class, tag, day, " + TallyColumns();
    select_classes = fmt::format(
        "SELECT {} FROM classes WHERE repository = :repository AND tag = '' AND day = '' "
        "ORDER BY class",
        class_columns);
    select_tag_classes = fmt::format(
        "SELECT {} FROM classes WHERE repository = :repository AND tag = :tag AND day = '' "
        "ORDER BY class",
        class_columns);
    select_day_classes = fmt::format(
        "SELECT {} FROM classes WHERE repository = :repository AND tag = '' AND day >= :from "
        "AND day <= :to ORDER BY class, day",
        class_columns);
    // The count and sums kept at write time, and the extremes of the times: one min() or max()
    // per subquery, so each reads one end of its time's index instead of every repository.
    std::string extremes;
    for (const auto& time : kTimeFields) {
      extremes += fmt::format(", (SELECT {}({}) FROM repositories)",
                              time.fold == Fold::kEarliest ? "min" : "max", time.name);
    }
    summarize_repositories = fmt::format("SELECT t.repositories, {}{} FROM repository_totals AS t",
                                         sqlite::CounterColumns("t."), extremes);
    select_total_days =
        fmt::format("SELECT day, {} FROM total_days WHERE day >= :from AND day <= :to ORDER BY day",
                    sqlite::CounterColumns());
  }
};

const QueryStatements& Sql() {
  static const QueryStatements statements;
  return statements;
}

// Reads a row of repository_columns, plus the repository's actors.
Result<RepositoryRecord> ReadRepository(Connection& db, RowReader& row) {
  RepositoryRecord record;
  record.repositoryname = row.Text();
  record.counters = sqlite::ReadTally(row);
  record.numstars = row.Int();
  record.observedsince = row.OptionalInt();
  auto stmt = db.Prepare(kSelectRepositoryActors);
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(":repository", record.repositoryname);
  Status status =
      sqlite::ForEachRow(*stmt, [&](RowReader& actor) { record.actors.push_back(actor.Text()); });
  if (!status.ok()) return status;
  return record;
}

// Collects every row of a query, each converted by `read`.
template <typename Record, typename BindFn, typename ReadFn>
Result<std::vector<Record>> Collect(sqlite::ConnectionPool& pool, std::string_view sql, BindFn bind,
                                    ReadFn read) {
  auto db = pool.Acquire();
  auto stmt = db->Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  bind(*stmt);
  std::vector<Record> records;
  Status status = sqlite::ForEachRow(*stmt, [&](RowReader& row) { records.push_back(read(row)); });
  if (!status.ok()) return status;
  return records;
}

// The ORDER BY column of a sort key; only table names ever enter the query text. `rolled`: the
// window is the rolling one, read from the repository's own columns.
std::string OrderColumn(const SortKey& sort, bool rolled) {
  switch (sort.kind) {
    case SortKey::Kind::kCounter:
      return fmt::format("r.{}", NameOf(sort.counter));
    case SortKey::Kind::kTime:
      return fmt::format("r.{}", NameOf(sort.time));
    case SortKey::Kind::kWindowCounter:
      return fmt::format(fmt::runtime(rolled ? "r.window_{}" : "coalesce(w.window_{}, 0)"),
                         NameOf(sort.counter));
    case SortKey::Kind::kName:
      break;
  }
  return "r.repositoryname";
}

// The rolling window's first day as stored, "" when its counters are not valid.
Result<std::string> RolledFrom(Connection& db) {
  auto stmt = db.Prepare("SELECT coalesce(from_day, '') FROM rolling_window");
  if (!stmt.ok()) return stmt.status();
  std::string from_day;
  Status status = sqlite::ForEachRow(*stmt, [&](RowReader& row) { from_day = row.Text(); });
  if (!status.ok()) return status;
  return from_day;
}

}  // namespace

Result<RepositoryPage> SqliteStore::ListRepositories(const RepositoryQuery& query) {
  // Every acknowledged event is visible to a query, settled or not.
  if (Status settled = Settle(); !settled.ok()) return settled;
  const bool windowed = query.window_from_day.has_value();
  // The rolling window (store.h) is read from the repositories' columns once it starts on the
  // asked day; any other window sums the days.
  const std::string rolling_from = RollingWindowFrom(clock_());
  bool rolled = windowed && *query.window_from_day == rolling_from;
  for (int attempt = 0;; ++attempt) {
    bool stale = false;
    {
      auto db = readers_->Acquire();
      // One snapshot for the count and the page, so `total` describes the items returned.
      Transaction tx(*db);
      Status status = tx.Begin("BEGIN");
      if (!status.ok()) return status;
      if (rolled) {
        auto from_day = RolledFrom(*db);
        if (!from_day.ok()) return from_day.status();
        // A day went by (or the store is new): roll, then read again in a new snapshot. Should
        // another process roll it elsewhere meanwhile, the days are summed instead.
        if (*from_day != rolling_from) {
          if (attempt == 0) {
            stale = true;
          } else {
            rolled = false;
          }
        }
      }
      if (!stale) return ListRepositoriesIn(*db, query, rolled);
    }
    Status status = RollWindow(rolling_from);
    if (!status.ok()) return status;
  }
}

Result<RepositoryPage> SqliteStore::ListRepositoriesIn(Connection& db, const RepositoryQuery& query,
                                                       bool rolled) {
  const bool windowed = query.window_from_day.has_value();
  const bool summed = windowed && !rolled;
  const std::optional<std::string> prefix_end = PrefixEnd(query.name_prefix);
  // Only literals and table names enter the text; every value is a bound parameter.
  std::string from = " FROM repositories AS r";
  if (summed) {
    // The window's columns have names of their own, so the repository's stay unambiguous.
    from += fmt::format(
        " LEFT JOIN (SELECT repository, {} FROM days WHERE day >= :window_from "
        "GROUP BY repository) AS w ON w.repository = r.repositoryname",
        sqlite::EachCounter("sum({0}) AS window_{0}"));
  }
  const std::string last_pulled(NameOf(TimeField::kLastPulled));
  const std::string last_pushed(NameOf(TimeField::kLastPushed));
  // Without a prefix there is no name condition at all: even an always-true one keeps the
  // planner off the index of the sort column, and every repository would be sorted.
  std::string where;
  const auto condition = [&](std::string_view text) {
    where += where.empty() ? " WHERE " : " AND ";
    where += text;
  };
  const bool prefixed = !query.name_prefix.empty();
  if (prefixed) condition("r.repositoryname >= :prefix");
  if (prefixed && prefix_end) condition("r.repositoryname < :prefix_end");
  if (query.pulled_before) {
    condition(fmt::format("(r.{0} IS NULL OR r.{0} < :pulled_before)", last_pulled));
  }
  if (query.pushed_after) condition(fmt::format("r.{} > :pushed_after", last_pushed));
  if (!query.actor.empty()) {
    condition(
        "EXISTS (SELECT 1 FROM actors AS a WHERE a.repository = r.repositoryname "
        "AND a.actor = :actor)");
  }
  // Ties sort by name, ascending whatever the direction, so pages are stable.
  const std::string order_column = OrderColumn(query.sort, rolled);
  std::string order = " ORDER BY " + order_column + (query.descending ? " DESC" : " ASC");
  if (query.sort.kind != SortKey::Kind::kName) order += ", r.repositoryname ASC";
  // Unfiltered, the total is the repository count kept at write time. The cleanup question
  // alone counts its complement (pulled since), a range of the lastpulled index usually much
  // smaller than the idle repositories, instead of the union of NULLs and the range before.
  std::string count_sql = "SELECT count(*) FROM repositories AS r" + where;
  if (where.empty()) {
    count_sql = "SELECT repositories FROM repository_totals";
  } else if (!prefixed && query.pulled_before && !query.pushed_after && query.actor.empty()) {
    count_sql = fmt::format(
        "SELECT t.repositories - (SELECT count(*) FROM repositories AS r "
        "WHERE r.{} >= :pulled_before) FROM repository_totals AS t",
        last_pulled);
  }
  std::string columns = Sql().repository_columns;
  if (summed) columns += ", " + sqlite::EachCounter("coalesce(w.window_{0}, 0)");
  if (rolled) columns += ", " + sqlite::EachCounter("r.window_{0}");
  const std::string page_sql =
      "SELECT " + columns + from + where + order + " LIMIT :limit OFFSET :offset";
  const auto bind = [&](Statement& stmt) {
    if (prefixed) stmt.Bind(":prefix", query.name_prefix);
    if (prefixed && prefix_end) stmt.Bind(":prefix_end", *prefix_end);
    if (query.pulled_before) stmt.Bind(":pulled_before", *query.pulled_before);
    if (query.pushed_after) stmt.Bind(":pushed_after", *query.pushed_after);
    if (!query.actor.empty()) stmt.Bind(":actor", query.actor);
  };

  RepositoryPage page;
  {
    auto stmt = db.Prepare(count_sql);
    if (!stmt.ok()) return stmt.status();
    bind(*stmt);
    Status status = sqlite::ForEachRow(*stmt, [&](RowReader& row) { page.total = row.Int(); });
    if (!status.ok()) return status;
  }
  auto stmt = db.Prepare(page_sql);
  if (!stmt.ok()) return stmt.status();
  bind(*stmt);
  if (summed) stmt->Bind(":window_from", *query.window_from_day);
  stmt->Bind(":limit", query.limit);
  stmt->Bind(":offset", query.offset);
  Status read_status = Status::Ok();
  Status status = sqlite::ForEachRow(*stmt, [&](RowReader& row) {
    auto record = ReadRepository(db, row);
    if (!record.ok()) {
      read_status = record.status();
      return;
    }
    if (windowed) record->window = sqlite::ReadCounters(row);
    page.items.push_back(std::move(*record));
  });
  if (!status.ok()) return status;
  if (!read_status.ok()) return read_status;
  return page;
}

Result<Summary> SqliteStore::Summarize(const std::string& from_day, const std::string& to_day) {
  // Every acknowledged event is visible to a query, settled or not.
  if (Status settled = Settle(); !settled.ok()) return settled;
  auto db = readers_->Acquire();
  Transaction tx(*db);
  Status status = tx.Begin("BEGIN");
  if (!status.ok()) return status;
  Summary summary;
  {
    auto stmt = db->Prepare(Sql().summarize_repositories);
    if (!stmt.ok()) return stmt.status();
    status = sqlite::ForEachRow(*stmt, [&](RowReader& row) {
      summary.repositories = row.Int();
      summary.totals = sqlite::ReadTally(row);
    });
    if (!status.ok()) return status;
  }
  auto stmt = db->Prepare(Sql().select_total_days);
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(":from", from_day);
  stmt->Bind(":to", to_day);
  status = sqlite::ForEachRow(*stmt, [&](RowReader& row) {
    DayRecord day{row.Text(), {}};
    day.counters.counts = sqlite::ReadCounters(row);
    summary.days.push_back(std::move(day));
  });
  if (!status.ok()) return status;
  return summary;
}

Result<std::optional<RepositoryRecord>> SqliteStore::GetRepository(const std::string& name) {
  // Every acknowledged event is visible to a query, settled or not.
  if (Status settled = Settle(); !settled.ok()) return settled;
  auto db = readers_->Acquire();
  // One snapshot, so the live tag list belongs to the counters it is returned with.
  Transaction tx(*db);
  Status status = tx.Begin("BEGIN");
  if (!status.ok()) return status;
  std::optional<RepositoryRecord> found;
  {
    auto stmt = db->Prepare(Sql().select_repository);
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(":repository", name);
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) return found;
    RowReader reader(*stmt);
    auto record = ReadRepository(*db, reader);
    if (!record.ok()) return record.status();
    found = std::move(*record);
  }
  auto tags = db->Prepare(kSelectLiveTagNames);
  if (!tags.ok()) return tags.status();
  tags->Bind(":repository", name);
  status = sqlite::ForEachRow(*tags, [&](RowReader& row) { found->tags.push_back(row.Text()); });
  if (!status.ok()) return status;
  return found;
}

Result<std::vector<TagRecord>> SqliteStore::ListTags(const std::string& repository) {
  // Every acknowledged event is visible to a query, settled or not.
  if (Status settled = Settle(); !settled.ok()) return settled;
  return Collect<TagRecord>(
      *readers_, Sql().select_tags, [&](Statement& s) { s.Bind(":repository", repository); },
      [](RowReader& row) {
        TagRecord record;
        record.tag = row.Text();
        record.digest = row.Text();
        record.deleted = row.Bool();
        record.attachment = row.Bool();
        record.counters = sqlite::ReadTally(row);
        return record;
      });
}

Result<std::vector<DigestRecord>> SqliteStore::ListDigests(const std::string& repository) {
  // Every acknowledged event is visible to a query, settled or not.
  if (Status settled = Settle(); !settled.ok()) return settled;
  auto db = readers_->Acquire();
  // One snapshot, so the parents belong to the digests they are returned with.
  Transaction tx(*db);
  Status status = tx.Begin("BEGIN");
  if (!status.ok()) return status;
  std::vector<DigestRecord> records;
  {
    auto stmt = db->Prepare(Sql().select_digests);
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(":repository", repository);
    status = sqlite::ForEachRow(*stmt, [&](RowReader& row) {
      DigestRecord record;
      record.digest = row.Text();
      record.media_type = row.Text();
      record.size = row.Int();
      record.deleted = row.Bool();
      record.counters = sqlite::ReadTally(row);
      records.push_back(std::move(record));
    });
    if (!status.ok()) return status;
  }
  auto stmt = db->Prepare(kSelectDigestParents);
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(":repository", repository);
  // Both lists are sorted by digest (bytewise, as std::string compares): a merge join.
  auto next = records.begin();
  status = sqlite::ForEachRow(*stmt, [&](RowReader& row) {
    std::string child = row.Text();
    while (next != records.end() && next->digest < child) ++next;
    if (next != records.end() && next->digest == child) next->parents.push_back(row.Text());
  });
  if (!status.ok()) return status;
  return records;
}

Result<std::vector<ActorRecord>> SqliteStore::ListActors(const std::string& repository) {
  // Every acknowledged event is visible to a query, settled or not.
  if (Status settled = Settle(); !settled.ok()) return settled;
  return Collect<ActorRecord>(
      *readers_, Sql().select_actors, [&](Statement& s) { s.Bind(":repository", repository); },
      [](RowReader& row) {
        ActorRecord record;
        record.actor = row.Text();
        record.firstseen = row.OptionalInt();
        record.lastseen = row.OptionalInt();
        record.counters = sqlite::ReadTally(row);
        return record;
      });
}

Result<std::vector<DayRecord>> SqliteStore::ListDays(const std::string& repository,
                                                     const std::string& from_day,
                                                     const std::string& to_day) {
  // Every acknowledged event is visible to a query, settled or not.
  if (Status settled = Settle(); !settled.ok()) return settled;
  return Collect<DayRecord>(
      *readers_, Sql().select_days,
      [&](Statement& s) {
        s.Bind(":repository", repository);
        s.Bind(":from", from_day);
        s.Bind(":to", to_day);
      },
      [](RowReader& row) {
        DayRecord record;
        record.day = row.Text();
        record.counters = sqlite::ReadTally(row);
        return record;
      });
}

Result<std::vector<ClassRecord>> SqliteStore::ListClasses(const std::string& repository,
                                                          const ClassQuery& query) {
  // Every acknowledged event is visible to a query, settled or not.
  if (Status settled = Settle(); !settled.ok()) return settled;
  const bool per_day = query.from_day && query.to_day;
  const std::string& sql = per_day              ? Sql().select_day_classes
                           : !query.tag.empty() ? Sql().select_tag_classes
                                                : Sql().select_classes;
  return Collect<ClassRecord>(
      *readers_, sql,
      [&](Statement& s) {
        s.Bind(":repository", repository);
        if (per_day) {
          s.Bind(":from", *query.from_day);
          s.Bind(":to", *query.to_day);
        } else if (!query.tag.empty()) {
          s.Bind(":tag", query.tag);
        }
      },
      [](RowReader& row) {
        ClassRecord record;
        record.cls = row.Text();
        record.tag = row.Text();
        record.day = row.Text();
        record.counters = sqlite::ReadTally(row);
        return record;
      });
}

}  // namespace drec
