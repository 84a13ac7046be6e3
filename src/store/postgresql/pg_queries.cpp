// The PostgreSQL store's read side: the queries of the API, each in one read-only snapshot.
#include <fmt/format.h>
#include <simdjson.h>

#include <string>

#include "store/name_prefix.h"
#include "store/postgresql/pg_fields.h"
#include "store/postgresql/pg_store.h"

namespace drec {
namespace {

using pg::Params;
using pg::RowReader;

constexpr const char kSelectLiveTagNames[] =
    "SELECT tag FROM tags WHERE repository = $1 AND NOT deleted AND NOT attachment ORDER BY tag";

// The statements that read counters and times, built once from the field table. Each column
// list is read back, in its order, by the reader beside the query that uses it.
struct QueryStatements {
  std::string repository_columns, select_repository, select_tags, select_digests, select_actors,
      select_days, summarize_repositories, select_total_days, select_classes, select_tag_classes,
      select_day_classes;

  QueryStatements() {
    using pg::TallyColumns;
    repository_columns = fmt::format("r.repositoryname, {}, r.numstars, r.actors, r.observedsince",
                                     TallyColumns("r."));
    select_repository = fmt::format("SELECT {} FROM repositories AS r WHERE repositoryname = $1",
                                    repository_columns);
    select_tags = fmt::format(
        "SELECT tag, coalesce(digest, ''), deleted, attachment, {} FROM tags "
        "WHERE repository = $1 ORDER BY tag",
        TallyColumns());
    // The parents as a text[], sorted bytewise (the columns are COLLATE "C").
    select_digests = fmt::format(
        "SELECT digest, coalesce(media_type, ''), coalesce(size, 0), deleted, {}, "
        "coalesce((SELECT array_agg(p.parent ORDER BY p.parent) FROM digest_parents AS p "
        "WHERE p.repository = d.repository AND p.child = d.digest), '{{}}') "
        "FROM digests AS d WHERE repository = $1 ORDER BY digest",
        TallyColumns());
    select_actors = fmt::format(
        "SELECT actor, firstseen, lastseen, {} FROM actors WHERE repository = $1 ORDER BY actor",
        TallyColumns());
    select_days = fmt::format(
        "SELECT day, {} FROM days WHERE repository = $1 AND day >= $2 AND day <= $3 "
        "ORDER BY day",
        TallyColumns());
    const std::string class_columns = "class, tag, day, " + TallyColumns();
    select_classes = fmt::format(
        "SELECT {} FROM classes WHERE repository = $1 AND tag = '' AND day = '' ORDER BY class",
        class_columns);
    select_tag_classes = fmt::format(
        "SELECT {} FROM classes WHERE repository = $1 AND tag = $2 AND day = '' ORDER BY class",
        class_columns);
    select_day_classes = fmt::format(
        "SELECT {} FROM classes WHERE repository = $1 AND tag = '' AND day >= $2 AND day <= $3 "
        "ORDER BY class, day",
        class_columns);
    // The count and sums kept at write time, and the extremes of the times: one min() or max()
    // per subquery, so each reads one end of its time's index instead of every repository.
    std::string extremes;
    for (const auto& time : kTimeFields) {
      extremes += fmt::format(", (SELECT {}({}) FROM repositories)",
                              time.fold == Fold::kEarliest ? "min" : "max", time.name);
    }
    summarize_repositories = fmt::format("SELECT t.repositories, {}{} FROM repository_totals AS t",
                                         pg::CounterColumns("t."), extremes);
    select_total_days =
        fmt::format("SELECT day, {} FROM total_days WHERE day >= $1 AND day <= $2 ORDER BY day",
                    pg::CounterColumns());
  }
};

const QueryStatements& Sql() {
  static const QueryStatements statements;
  return statements;
}

// Text PostgreSQL can hold: valid UTF-8 without NUL. Names from a URL may be neither; no record
// has such a name, and sending it would fail the query (or, with NUL, cut it short).
bool Storable(std::string_view text) {
  return text.find('\0') == std::string_view::npos &&
         simdjson::validate_utf8(text.data(), text.size());
}

// The elements of a text[] in PostgreSQL's text output: {a,"b c","d\"e"}.
std::vector<std::string> ParseTextArray(std::string_view literal) {
  std::vector<std::string> elements;
  if (literal.size() < 2) return elements;
  literal = literal.substr(1, literal.size() - 2);
  std::size_t i = 0;
  while (i < literal.size()) {
    std::string element;
    if (literal[i] == '"') {
      for (++i; i < literal.size() && literal[i] != '"'; ++i) {
        if (literal[i] == '\\' && i + 1 < literal.size()) ++i;
        element += literal[i];
      }
      ++i;  // the closing quote
    } else {
      for (; i < literal.size() && literal[i] != ','; ++i) element += literal[i];
    }
    elements.push_back(std::move(element));
    ++i;  // the comma
  }
  return elements;
}

// Reads a row of repository_columns.
RepositoryRecord ReadRepository(RowReader& row) {
  RepositoryRecord record;
  record.repositoryname = row.Text();
  record.counters = pg::ReadTally(row);
  record.numstars = row.Int();
  record.actors = ParseTextArray(row.Text());
  record.observedsince = row.OptionalInt();
  return record;
}

// The ORDER BY of a sort key; only table names ever enter the query text. Unset times sort
// first ascending and last descending, as in the other stores.
std::string OrderBy(const RepositoryQuery& query, bool rolled) {
  const char* direction = query.descending ? " DESC" : " ASC";
  switch (query.sort.kind) {
    case SortKey::Kind::kCounter:
      return fmt::format("r.{}{}, r.repositoryname ASC", NameOf(query.sort.counter), direction);
    case SortKey::Kind::kTime:
      return fmt::format("r.{}{} NULLS {}, r.repositoryname ASC", NameOf(query.sort.time),
                         direction, query.descending ? "LAST" : "FIRST");
    case SortKey::Kind::kWindowCounter:
      return fmt::format(fmt::runtime(rolled ? "r.window_{}{}, r.repositoryname ASC"
                                             : "coalesce(w.window_{}, 0){}, r.repositoryname ASC"),
                         NameOf(query.sort.counter), direction);
    case SortKey::Kind::kName:
      break;
  }
  return fmt::format("r.repositoryname{}", direction);
}

// Ends a read-only snapshot whatever happens: the pooled connection is then ready for the next.
class Snapshot {
 public:
  explicit Snapshot(pg::Connection& db) : db_(db) {}
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;
  Status Begin() {
    Status status = db_.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    begun_ = status.ok();
    return status;
  }
  ~Snapshot() {
    if (begun_) (void)db_.Exec("ROLLBACK");
  }

 private:
  pg::Connection& db_;
  bool begun_ = false;
};

}  // namespace

template <typename T, typename ReadFn>
Result<T> PostgresStore::InSnapshot(ReadFn read) {
  // A pooled connection that broke while idle (a server restart, a failover) fails its first
  // statement; the query then runs once more, on a connection the pool opens anew.
  for (int attempt = 0;; ++attempt) {
    auto lease = readers_.Acquire();
    if (!lease.ok()) return lease.status();
    pg::Connection& db = ***lease;
    Result<T> answer = [&]() -> Result<T> {
      Snapshot snapshot(db);
      Status status = snapshot.Begin();
      if (!status.ok()) return status;
      return read(db);
    }();
    if (answer.ok() || db.usable() || attempt > 0) return answer;
  }
}

Result<RepositoryPage> PostgresStore::ListRepositories(const RepositoryQuery& query) {
  if (!Storable(query.name_prefix) || !Storable(query.actor)) return RepositoryPage{};
  // The rolling window (store.h) is read from the repositories' columns once it starts on the
  // asked day; any other window sums the days. A stale one (a day went by, a new schema) is
  // rolled first; should another replica roll it elsewhere meanwhile, the days are summed.
  const std::string rolling_from = RollingWindowFrom(clock_());
  const bool rolling = query.window_from_day && *query.window_from_day == rolling_from;
  bool stale = false;
  auto page = ListRepositoriesOnce(query, rolling, &stale);
  if (!stale) return page;
  Status status = RollWindow(rolling_from);
  if (!status.ok()) return status;
  page = ListRepositoriesOnce(query, rolling, &stale);
  if (!stale) return page;
  return ListRepositoriesOnce(query, false, &stale);
}

Result<RepositoryPage> PostgresStore::ListRepositoriesOnce(const RepositoryQuery& query,
                                                           bool rolled, bool* stale) {
  *stale = false;
  const bool windowed = query.window_from_day.has_value();
  const bool summed = windowed && !rolled;
  // Only literals and table names enter the text; every value is a parameter.
  Params params;
  const auto param = [&](auto value) {
    params.Add(value);
    return fmt::format("${}", params.size());
  };
  // Without a prefix there is no name condition at all, so nothing keeps the planner off the
  // index of the sort column.
  std::string where;
  const auto condition = [&](std::string_view text) {
    where += where.empty() ? " WHERE " : " AND ";
    where += text;
  };
  if (!query.name_prefix.empty()) {
    condition(fmt::format("r.repositoryname >= {}", param(query.name_prefix)));
    const std::optional<std::string> end = PrefixEnd(query.name_prefix);
    if (end && Storable(*end)) {
      condition(fmt::format("r.repositoryname < {}", param(*end)));
    } else {
      condition("starts_with(r.repositoryname, $1)");
    }
  }
  const std::string last_pulled(NameOf(TimeField::kLastPulled));
  const std::string last_pushed(NameOf(TimeField::kLastPushed));
  if (query.pulled_before) {
    condition(
        fmt::format("(r.{0} IS NULL OR r.{0} < {1})", last_pulled, param(*query.pulled_before)));
  }
  if (query.pushed_after) {
    condition(fmt::format("r.{} > {}", last_pushed, param(*query.pushed_after)));
  }
  if (!query.actor.empty()) {
    condition(
        fmt::format("EXISTS (SELECT 1 FROM actors AS a WHERE a.repository = r.repositoryname "
                    "AND a.actor = {})",
                    param(query.actor)));
  }
  const Params count_params = params;
  // Unfiltered, the total is the repository count kept at write time. The cleanup question
  // alone counts its complement (pulled since), a range of the lastpulled index usually much
  // smaller than the idle repositories, instead of the NULLs and the range before.
  std::string count_sql = "SELECT count(*) FROM repositories AS r" + where;
  if (where.empty()) {
    count_sql = "SELECT repositories FROM repository_totals";
  } else if (query.name_prefix.empty() && query.pulled_before && !query.pushed_after &&
             query.actor.empty()) {
    count_sql = fmt::format(
        "SELECT t.repositories - (SELECT count(*) FROM repositories AS r "
        "WHERE r.{} >= $1) FROM repository_totals AS t",
        last_pulled);
  }
  std::string from = " FROM repositories AS r";
  std::string columns = Sql().repository_columns;
  if (summed) {
    // The window's columns have names of their own, so the repository's stay unambiguous.
    from += fmt::format(
        " LEFT JOIN (SELECT repository, {} FROM days WHERE day >= {} GROUP BY repository) AS w "
        "ON w.repository = r.repositoryname",
        pg::EachCounter("sum({0}) AS window_{0}"), param(*query.window_from_day));
    columns += ", " + pg::EachCounter("coalesce(w.window_{0}, 0)");
  }
  if (rolled) columns += ", " + pg::EachCounter("r.window_{0}");
  const std::string limit = param(query.limit);
  const std::string offset = param(query.offset);
  const std::string page_sql = fmt::format("SELECT {}{}{} ORDER BY {} LIMIT {} OFFSET {}", columns,
                                           from, where, OrderBy(query, rolled), limit, offset);
  return InSnapshot<RepositoryPage>([&](pg::Connection& db) -> Result<RepositoryPage> {
    RepositoryPage page;
    if (rolled) {
      auto stored = db.Query("SELECT coalesce(from_day, '') FROM rolling_window", Params());
      if (!stored.ok()) return stored.status();
      std::string from_day;
      pg::ForEachRow(stored->get(), [&](RowReader& row) { from_day = row.Text(); });
      if (from_day != *query.window_from_day) {
        *stale = true;
        return page;
      }
    }
    auto count = db.Query(count_sql, count_params);
    if (!count.ok()) return count.status();
    pg::ForEachRow(count->get(), [&](RowReader& row) { page.total = row.Int(); });
    auto rows = db.Query(page_sql, params);
    if (!rows.ok()) return rows.status();
    pg::ForEachRow(rows->get(), [&](RowReader& row) {
      RepositoryRecord record = ReadRepository(row);
      if (windowed) record.window = pg::ReadCounters(row);
      page.items.push_back(std::move(record));
    });
    return page;
  });
}

Result<Summary> PostgresStore::Summarize(const std::string& from_day, const std::string& to_day) {
  return InSnapshot<Summary>([&](pg::Connection& db) -> Result<Summary> {
    Summary summary;
    auto totals = db.Query(Sql().summarize_repositories, Params());
    if (!totals.ok()) return totals.status();
    pg::ForEachRow(totals->get(), [&](RowReader& row) {
      summary.repositories = row.Int();
      summary.totals = pg::ReadTally(row);
    });
    if (!Storable(from_day) || !Storable(to_day)) return summary;
    auto days = db.Query(Sql().select_total_days, Params().Add(from_day).Add(to_day));
    if (!days.ok()) return days.status();
    pg::ForEachRow(days->get(), [&](RowReader& row) {
      DayRecord day{row.Text(), {}};
      day.counters.counts = pg::ReadCounters(row);
      summary.days.push_back(std::move(day));
    });
    return summary;
  });
}

Result<std::optional<RepositoryRecord>> PostgresStore::GetRepository(const std::string& name) {
  using Found = std::optional<RepositoryRecord>;
  if (!Storable(name)) return Found();
  return InSnapshot<Found>([&](pg::Connection& db) -> Result<Found> {
    Found found;
    auto rows = db.Query(Sql().select_repository, Params().Add(name));
    if (!rows.ok()) return rows.status();
    pg::ForEachRow(rows->get(), [&](RowReader& row) { found = ReadRepository(row); });
    if (!found) return found;
    // The same snapshot, so the live tag list belongs to the counters it is returned with.
    auto tags = db.Query(kSelectLiveTagNames, Params().Add(name));
    if (!tags.ok()) return tags.status();
    pg::ForEachRow(tags->get(), [&](RowReader& row) { found->tags.push_back(row.Text()); });
    return found;
  });
}

namespace {

// Every row of one query, each converted by `read`; empty when a parameter cannot be stored.
template <typename Record, typename ReadFn>
Result<std::vector<Record>> CollectRows(pg::Connection& db, std::string_view sql,
                                        const Params& params, ReadFn read) {
  auto rows = db.Query(sql, params);
  if (!rows.ok()) return rows.status();
  std::vector<Record> records;
  pg::ForEachRow(rows->get(), [&](RowReader& row) { records.push_back(read(row)); });
  return records;
}

}  // namespace

Result<std::vector<TagRecord>> PostgresStore::ListTags(const std::string& repository) {
  if (!Storable(repository)) return std::vector<TagRecord>();
  return InSnapshot<std::vector<TagRecord>>([&](pg::Connection& db) {
    return CollectRows<TagRecord>(db, Sql().select_tags, Params().Add(repository),
                                  [](RowReader& row) {
                                    TagRecord record;
                                    record.tag = row.Text();
                                    record.digest = row.Text();
                                    record.deleted = row.Bool();
                                    record.attachment = row.Bool();
                                    record.counters = pg::ReadTally(row);
                                    return record;
                                  });
  });
}

Result<std::vector<DigestRecord>> PostgresStore::ListDigests(const std::string& repository) {
  if (!Storable(repository)) return std::vector<DigestRecord>();
  return InSnapshot<std::vector<DigestRecord>>([&](pg::Connection& db) {
    return CollectRows<DigestRecord>(db, Sql().select_digests, Params().Add(repository),
                                     [](RowReader& row) {
                                       DigestRecord record;
                                       record.digest = row.Text();
                                       record.media_type = row.Text();
                                       record.size = row.Int();
                                       record.deleted = row.Bool();
                                       record.counters = pg::ReadTally(row);
                                       record.parents = ParseTextArray(row.Text());
                                       return record;
                                     });
  });
}

Result<std::vector<ActorRecord>> PostgresStore::ListActors(const std::string& repository) {
  if (!Storable(repository)) return std::vector<ActorRecord>();
  return InSnapshot<std::vector<ActorRecord>>([&](pg::Connection& db) {
    return CollectRows<ActorRecord>(db, Sql().select_actors, Params().Add(repository),
                                    [](RowReader& row) {
                                      ActorRecord record;
                                      record.actor = row.Text();
                                      record.firstseen = row.OptionalInt();
                                      record.lastseen = row.OptionalInt();
                                      record.counters = pg::ReadTally(row);
                                      return record;
                                    });
  });
}

Result<std::vector<DayRecord>> PostgresStore::ListDays(const std::string& repository,
                                                       const std::string& from_day,
                                                       const std::string& to_day) {
  if (!Storable(repository) || !Storable(from_day) || !Storable(to_day)) {
    return std::vector<DayRecord>();
  }
  return InSnapshot<std::vector<DayRecord>>([&](pg::Connection& db) {
    return CollectRows<DayRecord>(db, Sql().select_days,
                                  Params().Add(repository).Add(from_day).Add(to_day),
                                  [](RowReader& row) {
                                    DayRecord record;
                                    record.day = row.Text();
                                    record.counters = pg::ReadTally(row);
                                    return record;
                                  });
  });
}

Result<std::vector<ClassRecord>> PostgresStore::ListClasses(const std::string& repository,
                                                            const ClassQuery& query) {
  const bool per_day = query.from_day && query.to_day;
  Params params;
  params.Add(repository);
  const std::string* sql = &Sql().select_classes;
  if (per_day) {
    sql = &Sql().select_day_classes;
    params.Add(*query.from_day).Add(*query.to_day);
  } else if (!query.tag.empty()) {
    sql = &Sql().select_tag_classes;
    params.Add(query.tag);
  }
  if (!Storable(repository) || !Storable(query.tag) ||
      (per_day && (!Storable(*query.from_day) || !Storable(*query.to_day)))) {
    return std::vector<ClassRecord>();
  }
  return InSnapshot<std::vector<ClassRecord>>([&](pg::Connection& db) {
    return CollectRows<ClassRecord>(db, *sql, params, [](RowReader& row) {
      ClassRecord record;
      record.cls = row.Text();
      record.tag = row.Text();
      record.day = row.Text();
      record.counters = pg::ReadTally(row);
      return record;
    });
  });
}

}  // namespace drec
