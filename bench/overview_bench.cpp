// The dashboard overview's queries and a repository page on a large store: by default 100,000
// repositories and 10 million events spread over the last 30 days. The data is generated once
// through the store's own Apply (as coalesced deltas: one operation stands for many events) and
// kept for later runs. Run from build/release:
//   bench/overview_bench                                  SQLite, overview-bench/drec-100000.db
//   DREC_BENCH_REPOSITORIES=10000 bench/overview_bench    another scale (100 events each)
//   DREC_BENCH_POSTGRESQL_URI=postgresql://... bench/overview_bench   PostgreSQL, schema
//     bench_<repositories> of that database (bench/overview_bench.py starts a cluster)
//   DREC_BENCH_BULK=1 ...                 generates with SQL (INSERT ... SELECT) instead of Apply:
//     the same rows, in seconds instead of an hour at 1,000,000
//   DREC_BENCH_DAYS=2 ...                 day records per repository (10 unless set)
//   DREC_BENCH_CHECK_BULK=1000 ...        generates that many repositories both ways, compares
//     every query's answer, prints the verdict and exits (1 when they differ)
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "api/query_params.h"
#include "store/postgresql/pg_connection.h"
#include "store/postgresql/pg_store.h"
#include "store/sqlite/sqlite_handle.h"
#include "store/sqlite/sqlite_store.h"
#include "util/time.h"

namespace drec {
namespace {

constexpr std::int64_t kEventsPerRepository = 100;

int EnvInt(const char* name, int unset) {
  const char* text = std::getenv(name);
  return text != nullptr ? std::atoi(text) : unset;
}

int Repositories() {
  static const int repositories = EnvInt("DREC_BENCH_REPOSITORIES", 100'000);
  return repositories;
}

// Day records per repository: the overview reads none of them (only the 30 per-day totals),
// so a large scale may keep fewer to generate faster.
int DaysPerRepository() {
  static const int days = EnvInt("DREC_BENCH_DAYS", 10);
  return days;
}

// The name of a scale's data: the SQLite file and the PostgreSQL schema.
std::string ScaleName(int repositories) {
  return DaysPerRepository() == 10 ? std::to_string(repositories)
                                   : fmt::format("{}_d{}", repositories, DaysPerRepository());
}

UnixMillis Today() { return StartOfUtcDay(NowMillis()); }

// Each repository gets events on `DaysPerRepository()` consecutive days of the last 30, ending 0
// to 19 days ago; counts vary by repository so sorts matter.
Status Generate(Store& store, int repositories) {
  const std::int64_t per_repository = kEventsPerRepository;
  const int days = DaysPerRepository();
  const UnixMillis today = Today();
  std::int64_t id = 0;
  for (int first = 0; first < repositories; first += 1000) {
    Batch batch;
    for (int r = first; r < std::min(first + 1000, repositories); ++r) {
      const std::string name = fmt::format("team-{}/app-{}", r % 97, r);
      // 90 % pulls, 5 % pushes, 5 % checks, skewed so repositories differ.
      const std::int64_t pulls = per_repository * 9 / 10 + (r % 13) - 6;
      const std::int64_t pushes = per_repository / 20, checks = per_repository - pulls - pushes;
      EventEffect effect{fmt::format("gen-{}", id++), today, {}};
      for (int d = 0; d < days; ++d) {
        const UnixMillis day = today - (r % 20 + d) * kDayMillis;
        Delta delta;
        delta.counts[Counter::kPulls] = pulls / days + (d == 0 ? pulls % days : 0);
        delta.counts[Counter::kPushes] = pushes / days + (d == 0 ? pushes % days : 0);
        delta.counts[Counter::kChecks] = checks / days + (d == 0 ? checks % days : 0);
        delta.Pulled(day + r % kDayMillis);
        delta.Pushed(day);
        effect.operations.emplace_back(
            RepositoryUpdate{name, delta, fmt::format("user-{}", r % 50), std::nullopt});
        effect.operations.emplace_back(DayUpdate{name, UtcDay(day), delta});
      }
      batch.effects.push_back(std::move(effect));
    }
    ApplyOutcome outcome;
    if (Status s = store.Apply(batch, &outcome); !s.ok()) return s;
  }
  return Status::Ok();
}

// Generate's rows written by SQL into a store's fresh tables, as Apply and the first trending
// query (its roll) would leave them: `series` is a row source of r in [0, repositories) named n,
// `days_series` one of d in [0, DaysPerRepository()) named k. `day_text` turns a day's unix
// milliseconds (the SQL expression {0}) into "YYYY-MM-DD"; `actor` is the actors list of one
// actor (the SQL text {0}).
struct BulkDialect {
  std::string series, days_series, day_text, name, actor, event_id;
};

std::vector<std::string> BulkStatements(const BulkDialect& sql) {
  const std::int64_t e = kEventsPerRepository;
  const int days = DaysPerRepository();
  const UnixMillis today = Today();
  const std::string rolled_from = RollingWindowFrom(NowMillis());
  // Per repository r: pulls, pushes and checks, as Generate computes them.
  const std::string pulls = fmt::format("({} * 9 / 10 + r % 13 - 6)", e);
  const std::string pushes = fmt::format("({} / 20)", e);
  const std::string checks = fmt::format("({} - {} - {})", e, pulls, pushes);
  const auto day = [&](const std::string& offset) {
    return fmt::format("({} - (r % 20 + {}) * {})", today, offset, kDayMillis);
  };
  // Every day of a repository lies in the rolling window (at most 28 days back), so its window
  // counters are its counters.
  std::vector<std::string> statements;
  statements.push_back(fmt::format(
      "INSERT INTO repositories (repositoryname, numpulls, numpushs, numchecks, firstpushed, "
      "lastpushed, firstpulled, lastpulled, actors, window_numpulls, window_numpushs, "
      "window_numchecks) SELECT {name}, {p}, {u}, {c}, {first}, {last}, {first} + r, {last} + r, "
      "{actor}, {p}, {u}, {c} FROM {series} ORDER BY 1",
      fmt::arg("name", sql.name), fmt::arg("p", pulls), fmt::arg("u", pushes),
      fmt::arg("c", checks), fmt::arg("first", day(std::to_string(days - 1))),
      fmt::arg("last", day("0")), fmt::arg("actor", sql.actor), fmt::arg("series", sql.series)));
  const auto share = [&](const std::string& total) {
    return fmt::format("({0} / {1} + CASE WHEN k = 0 THEN {0} % {1} ELSE 0 END)", total, days);
  };
  statements.push_back(fmt::format(
      "INSERT INTO days (repository, day, numpulls, numpushs, numchecks, firstpushed, "
      "lastpushed, firstpulled, lastpulled) SELECT {name}, {text}, {p}, {u}, {c}, {day}, {day}, "
      "{day} + r, {day} + r FROM {series}, {days} ORDER BY 1, 2",
      fmt::arg("name", sql.name),
      fmt::arg("text", fmt::format(fmt::runtime(sql.day_text), day("k"))),
      fmt::arg("p", share(pulls)), fmt::arg("u", share(pushes)), fmt::arg("c", share(checks)),
      fmt::arg("day", day("k")), fmt::arg("series", sql.series),
      fmt::arg("days", sql.days_series)));
  statements.push_back(
      "INSERT INTO total_days (day, numpulls, numpushs, numchecks) "
      "SELECT day, sum(numpulls), sum(numpushs), sum(numchecks) FROM days GROUP BY day");
  statements.push_back(
      "UPDATE repository_totals SET repositories = t.n, numpulls = t.p, numpushs = t.u, "
      "numchecks = t.c FROM (SELECT count(*) AS n, sum(numpulls) AS p, sum(numpushs) AS u, "
      "sum(numchecks) AS c FROM repositories) AS t");
  statements.push_back(fmt::format("UPDATE rolling_window SET from_day = '{}'", rolled_from));
  statements.push_back(fmt::format("INSERT INTO event_ids (id, applied_at) SELECT {}, {} FROM {}",
                                   sql.event_id, NowMillis(), sql.series));
  return statements;
}

Status BulkGenerateSqlite(const std::string& path, int repositories) {
  auto db = sqlite::Connection::Open(path, SQLITE_OPEN_READWRITE);
  if (!db.ok()) return db.status();
  const BulkDialect dialect{
      fmt::format("(WITH RECURSIVE s(r) AS (SELECT 0 UNION ALL SELECT r + 1 FROM s WHERE r + 1 < "
                  "{}) SELECT r FROM s) AS n",
                  repositories),
      fmt::format("(WITH RECURSIVE s(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM s WHERE k + 1 < "
                  "{}) SELECT k FROM s) AS m",
                  DaysPerRepository()),
      "strftime('%Y-%m-%d', {0} / 1000, 'unixepoch')",
      "printf('team-%d/app-%d', r % 97, r)",
      "json_array(printf('user-%d', r % 50))",
      "'gen-' || r"};
  // Rows in key order and a large cache: the b-trees grow at their ends.
  if (Status s = (*db)->Exec("PRAGMA cache_size = -500000; BEGIN"); !s.ok()) return s;
  for (const std::string& statement : BulkStatements(dialect)) {
    if (Status s = (*db)->Exec(statement.c_str()); !s.ok()) return s;
  }
  return (*db)->Exec("COMMIT");
}

Status BulkGeneratePostgres(const std::string& uri, const std::string& schema, int repositories) {
  auto db = pg::Connection::Open(uri, schema);
  if (!db.ok()) return db.status();
  const BulkDialect dialect{
      fmt::format("generate_series(0::bigint, {}) AS n(r)", repositories - 1),
      fmt::format("generate_series(0::bigint, {}) AS m(k)", DaysPerRepository() - 1),
      "to_char(to_timestamp({0} / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
      "format('team-%s/app-%s', r % 97, r)",
      "ARRAY[format('user-%s', r % 50)]",
      "'gen-' || r"};
  if (Status s = (*db)->Exec("BEGIN"); !s.ok()) return s;
  for (const std::string& statement : BulkStatements(dialect)) {
    if (Status s = (*db)->Exec(statement); !s.ok()) return s;
  }
  return (*db)->Exec("COMMIT");
}

bool Bulk() { return EnvInt("DREC_BENCH_BULK", 0) != 0; }

// The first `limit` repositories sorted by `field` (as the API's sort parameter names it).
RepositoryQuery Sorted(const std::string& field, bool descending, std::int64_t limit) {
  RepositoryQuery query;
  if (!ParseSort(fmt::format("{}{}", descending ? "-" : "", field), &query).ok()) std::abort();
  query.limit = limit;
  return query;
}

// Opens (generating when empty) the store of `repositories` named `name` (the SQLite file's
// and PostgreSQL schema's), through Apply or, with `bulk`, SQL. `clock`: the store's "today" for
// its rolling window; NowMillis when unset.
std::unique_ptr<Store> OpenStore(StoreClock clock, int repositories, const std::string& name,
                                 bool bulk) {
  const auto failed = [](const Status& status) {
    fmt::print(stderr, "overview_bench: {}\n", status.message());
    return nullptr;
  };
  if (const char* uri = std::getenv("DREC_BENCH_POSTGRESQL_URI"); uri != nullptr) {
    const std::string schema = "bench_" + name;
    auto opened = PostgresStore::Open(uri, schema, clock);
    if (!opened.ok()) return failed(opened.status());
    auto summary = (*opened)->Summarize("", "");
    if (!summary.ok()) return failed(summary.status());
    if (summary->repositories != 0) return std::move(opened).value();
    if (!bulk) {
      if (Status s = Generate(**opened, repositories); !s.ok()) return failed(s);
      return std::move(opened).value();
    }
    if (Status s = BulkGeneratePostgres(uri, schema, repositories); !s.ok()) return failed(s);
    opened = PostgresStore::Open(uri, schema, std::move(clock));
    if (!opened.ok()) return failed(opened.status());
    return std::move(opened).value();
  }
  const std::filesystem::path path = fmt::format("overview-bench/drec-{}.db", name);
  const bool fresh = !std::filesystem::exists(path);
  std::filesystem::create_directories(path.parent_path());
  auto opened = SqliteStore::Open(path.string(), clock);
  if (!opened.ok()) return failed(opened.status());
  if (!fresh) return std::move(opened).value();
  if (!bulk) {
    if (Status s = Generate(**opened, repositories); !s.ok()) return failed(s);
    return std::move(opened).value();
  }
  opened->reset();
  if (Status s = BulkGenerateSqlite(path.string(), repositories); !s.ok()) return failed(s);
  opened = SqliteStore::Open(path.string(), std::move(clock));
  if (!opened.ok()) return failed(opened.status());
  return std::move(opened).value();
}

std::unique_ptr<Store> OpenStore(StoreClock clock = nullptr) {
  return OpenStore(std::move(clock), Repositories(), ScaleName(Repositories()), Bulk());
}

RepositoryQuery Trending(int days) {
  RepositoryQuery query = Sorted("window.numpulls", true, 10);
  query.window_from_day = UtcDay(Today() - (days - 1) * kDayMillis);
  return query;
}

Store* TheStore() {
  static std::unique_ptr<Store> store = [] {
    std::unique_ptr<Store> opened = OpenStore();
    // A store generated before the rolling window (or yesterday) rolls on its first trending
    // query: done here, so no measured iteration pays for it.
    if (opened && !opened->ListRepositories(Trending(30)).ok()) return std::unique_ptr<Store>();
    return opened;
  }();
  return store.get();
}

// The overview page: totals and per-day totals of 30 days.
void BM_Summary(benchmark::State& state) {
  Store* store = TheStore();
  if (!store) return state.SkipWithError("no store");
  const std::string from = UtcDay(Today() - 29 * kDayMillis), to = UtcDay(Today());
  for (auto _ : state) {
    auto summary = store->Summarize(from, to);
    if (!summary.ok() || summary->repositories != Repositories()) {
      state.SkipWithError("bad summary");
    }
  }
}
BENCHMARK(BM_Summary)->Unit(benchmark::kMillisecond);

void List(benchmark::State& state, const RepositoryQuery& query) {
  Store* store = TheStore();
  if (!store) return state.SkipWithError("no store");
  for (auto _ : state) {
    auto page = store->ListRepositories(query);
    if (!page.ok() || page->items.empty()) state.SkipWithError("bad page");
  }
}

void BM_TopByPulls(benchmark::State& state) { List(state, Sorted("numpulls", true, 10)); }
BENCHMARK(BM_TopByPulls)->Unit(benchmark::kMillisecond);

void BM_RecentlyPushed(benchmark::State& state) { List(state, Sorted("lastpushed", true, 10)); }
BENCHMARK(BM_RecentlyPushed)->Unit(benchmark::kMillisecond);

// The rolling window: the dashboard's trending panel.
void BM_TrendingWindow30d(benchmark::State& state) { List(state, Trending(30)); }
BENCHMARK(BM_TrendingWindow30d)->Unit(benchmark::kMillisecond);

// The same 30 days summed from the per-day records, as every window was before the rolling
// one: the store seen by a clock a year ahead, for which this window is not the rolling one.
void BM_TrendingWindow30dSummed(benchmark::State& state) {
  if (TheStore() == nullptr) return state.SkipWithError("no store");
  static std::unique_ptr<Store> ahead =
      OpenStore([] { return NowMillis() + std::int64_t{365} * kDayMillis; });
  if (!ahead) return state.SkipWithError("no store");
  const RepositoryQuery query = Trending(30);
  for (auto _ : state) {
    auto page = ahead->ListRepositories(query);
    if (!page.ok() || page->items.empty()) state.SkipWithError("bad page");
  }
}
BENCHMARK(BM_TrendingWindow30dSummed)->Unit(benchmark::kMillisecond);

// What days going by cost: the window rolled 5 days forward (the oldest generated days, those
// that leave it, subtracted) and back again (added back), with the trending query that triggers
// each roll. Ends as it started.
void BM_RollFiveDaysAndBack(benchmark::State& state) {
  if (TheStore() == nullptr) return state.SkipWithError("no store");
  static std::atomic<UnixMillis> offset = 0;
  static std::unique_ptr<Store> rolling = OpenStore([] { return NowMillis() + offset.load(); });
  if (!rolling) return state.SkipWithError("no store");
  for (auto _ : state) {
    for (const UnixMillis shift : {5 * kDayMillis, UnixMillis{0}}) {
      offset = shift;
      RepositoryQuery query = Sorted("window.numpulls", true, 10);
      query.window_from_day = RollingWindowFrom(NowMillis() + shift);
      if (!rolling->ListRepositories(query).ok()) state.SkipWithError("bad page");
    }
  }
}
BENCHMARK(BM_RollFiveDaysAndBack)->Unit(benchmark::kMillisecond);

// Any other window sums the per-day records.
void BM_TrendingWindow7d(benchmark::State& state) { List(state, Trending(7)); }
BENCHMARK(BM_TrendingWindow7d)->Unit(benchmark::kMillisecond);

RepositoryQuery NotPulledFor7Days() {
  RepositoryQuery query = Sorted("lastpulled", false, 100);
  query.pulled_before = Today() - 6 * kDayMillis;
  return query;
}

void BM_NotPulledFor7Days(benchmark::State& state) { List(state, NotPulledFor7Days()); }
BENCHMARK(BM_NotPulledFor7Days)->Unit(benchmark::kMillisecond);

// The overview as the dashboard loads it (summary, top, trending, recently pushed), plus the
// cleanup list: the sum of the queries above, one after the other.
void BM_OverviewTotal(benchmark::State& state) {
  Store* store = TheStore();
  if (!store) return state.SkipWithError("no store");
  const std::string from = UtcDay(Today() - 29 * kDayMillis), to = UtcDay(Today());
  const RepositoryQuery queries[] = {Sorted("numpulls", true, 10), Sorted("lastpushed", true, 10),
                                     Trending(30), NotPulledFor7Days()};
  for (auto _ : state) {
    if (!store->Summarize(from, to).ok()) state.SkipWithError("bad summary");
    for (const RepositoryQuery& query : queries) {
      if (!store->ListRepositories(query).ok()) state.SkipWithError("bad page");
    }
  }
}
BENCHMARK(BM_OverviewTotal)->Unit(benchmark::kMillisecond);

// The dashboard's repository view (web/src/main.js): the repository, its tags, actors, 30 days
// and traffic classes; and its digests, as the API's repository page lists them.
void BM_RepositoryPage(benchmark::State& state) {
  Store* store = TheStore();
  if (!store) return state.SkipWithError("no store");
  const std::string from = UtcDay(Today() - 29 * kDayMillis), to = UtcDay(Today());
  int r = 0;
  for (auto _ : state) {
    const std::string name = fmt::format("team-{}/app-{}", r % 97, r);
    r = (r + 7919) % Repositories();
    auto repository = store->GetRepository(name);
    if (!repository.ok() || !repository->has_value()) state.SkipWithError("bad repository");
    if (!store->ListTags(name).ok() || !store->ListDigests(name).ok() ||
        !store->ListActors(name).ok() || !store->ListClasses(name, {}).ok()) {
      state.SkipWithError("bad repository lists");
    }
    auto days = store->ListDays(name, from, to);
    if (!days.ok() || days->empty()) state.SkipWithError("bad days");
  }
}
BENCHMARK(BM_RepositoryPage)->Unit(benchmark::kMillisecond);

// A readable form of every answer the check compares.
std::string Describe(const Counters& c) {
  std::string out;
  for (std::size_t i = 0; i < kCounterCount; ++i) out += fmt::format(" {}", c.counts.at(i));
  for (const auto& time : kTimeFields) {
    const auto& value = c.times[time.field];
    out += value ? fmt::format(" {}", *value) : std::string(" -");
  }
  return out;
}

std::string Describe(const RepositoryPage& page) {
  std::string out = fmt::format("total {}\n", page.total);
  for (const RepositoryRecord& item : page.items) {
    out += fmt::format("{}{} stars {} since {} actors", item.repositoryname,
                       Describe(item.counters), item.numstars, item.observedsince.value_or(-1));
    for (const std::string& actor : item.actors) out += " " + actor;
    if (item.window) {
      out += " window";
      for (std::size_t i = 0; i < kCounterCount; ++i) out += fmt::format(" {}", item.window->at(i));
    }
    out += "\n";
  }
  return out;
}

std::string Describe(const Summary& summary) {
  std::string out =
      fmt::format("repositories {}{}\n", summary.repositories, Describe(summary.totals));
  for (const DayRecord& day : summary.days) out += day.day + Describe(day.counters) + "\n";
  return out;
}

// Every overview query, the trending of 7 days (summed), every repository and the days of some.
std::vector<std::pair<std::string, std::string>> Answers(Store& store, int repositories) {
  std::vector<std::pair<std::string, std::string>> answers;
  const std::string from = UtcDay(Today() - 29 * kDayMillis), to = UtcDay(Today());
  const auto text = [](const auto& result) {
    return result.ok() ? Describe(*result) : "error: " + result.status().message();
  };
  answers.emplace_back("summary", text(store.Summarize(from, to)));
  const std::pair<const char*, RepositoryQuery> lists[] = {
      {"top by pulls", Sorted("numpulls", true, 10)},
      {"recently pushed", Sorted("lastpushed", true, 10)},
      {"trending 30 days", Trending(30)},
      {"cleanup", NotPulledFor7Days()},
      {"trending 7 days", Trending(7)},
      {"every repository", Sorted("repositoryname", false, repositories)},
  };
  for (const auto& [name, query] : lists)
    answers.emplace_back(name, text(store.ListRepositories(query)));
  for (int r = 0; r < repositories; r += 97) {
    const std::string name = fmt::format("team-{}/app-{}", r % 97, r);
    auto days = store.ListDays(name, from, to);
    std::string out;
    if (days.ok()) {
      for (const DayRecord& day : *days) out += day.day + Describe(day.counters) + "\n";
    }
    answers.emplace_back("days of " + name, days.ok() ? out : days.status().message());
  }
  return answers;
}

// Generates `repositories` through Apply and through SQL and compares every answer.
int CheckBulk(int repositories) {
  const std::string apply_name = fmt::format("check_apply_{}", ScaleName(repositories));
  const std::string bulk_name = fmt::format("check_bulk_{}", ScaleName(repositories));
  const char* uri = std::getenv("DREC_BENCH_POSTGRESQL_URI");
  for (const std::string& name : {apply_name, bulk_name}) {
    if (uri != nullptr) {
      auto db = pg::Connection::Open(uri, "public");
      if (!db.ok() ||
          !(*db)->Exec(fmt::format("DROP SCHEMA IF EXISTS bench_{} CASCADE", name)).ok()) {
        fmt::print(stderr, "overview_bench: cannot drop schema bench_{}\n", name);
        return 1;
      }
    } else {
      const std::string path = fmt::format("overview-bench/drec-{}.db", name);
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    }
  }
  auto by_apply = OpenStore(nullptr, repositories, apply_name, false);
  auto by_sql = OpenStore(nullptr, repositories, bulk_name, true);
  if (!by_apply || !by_sql) return 1;
  // The Apply-generated store rolls its window on its first trending query, as in the bench.
  const auto expected = Answers(*by_apply, repositories);
  const auto got = Answers(*by_sql, repositories);
  int differing = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (expected[i].second == got[i].second) continue;
    ++differing;
    fmt::print("differs: {}\n--- through Apply:\n{}--- through SQL:\n{}", expected[i].first,
               expected[i].second, got[i].second);
  }
  fmt::print(
      "bulk generation check ({}, {} repositories, {} days each): {} of {} answers "
      "identical{}\n",
      uri != nullptr ? "PostgreSQL" : "SQLite", repositories, DaysPerRepository(),
      expected.size() - differing, expected.size(), differing == 0 ? "" : " - DIFFERENT");
  return differing == 0 ? 0 : 1;
}

}  // namespace
}  // namespace drec

int main(int argc, char** argv) {
  if (const char* check = std::getenv("DREC_BENCH_CHECK_BULK"); check != nullptr) {
    return drec::CheckBulk(std::atoi(check));
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
