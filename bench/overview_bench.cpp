// The dashboard overview's queries and a repository page on a large store: by default 100,000
// repositories and 10 million events spread over the last 30 days. The data is generated once
// through the store's own Apply (as coalesced deltas: one operation stands for many events) and
// kept for later runs. Run from build/release:
//   bench/overview_bench                                  SQLite, overview-bench/drec-100000.db
//   DREC_BENCH_REPOSITORIES=10000 bench/overview_bench    another scale (100 events each)
//   DREC_BENCH_POSTGRESQL_URI=postgresql://... bench/overview_bench   PostgreSQL, schema
//     bench_<repositories> of that database (bench/overview_bench.py starts a cluster)
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "api/query_params.h"
#include "store/postgresql/pg_store.h"
#include "store/sqlite/sqlite_store.h"
#include "util/time.h"

namespace drec {
namespace {

constexpr std::int64_t kEventsPerRepository = 100;

int Repositories() {
  static const int repositories = [] {
    const char* text = std::getenv("DREC_BENCH_REPOSITORIES");
    return text != nullptr ? std::atoi(text) : 100'000;
  }();
  return repositories;
}

UnixMillis Today() { return StartOfUtcDay(NowMillis()); }

// Each repository gets events on 10 consecutive days of the last 30, ending 0 to 19 days ago;
// counts vary by repository so sorts matter.
Status Generate(Store& store) {
  const std::int64_t per_repository = kEventsPerRepository;
  const UnixMillis today = Today();
  std::int64_t id = 0;
  for (int first = 0; first < Repositories(); first += 1000) {
    Batch batch;
    for (int r = first; r < first + 1000; ++r) {
      const std::string name = fmt::format("team-{}/app-{}", r % 97, r);
      // 90 % pulls, 5 % pushes, 5 % checks, skewed so repositories differ.
      const std::int64_t pulls = per_repository * 9 / 10 + (r % 13) - 6;
      const std::int64_t pushes = per_repository / 20, checks = per_repository - pulls - pushes;
      EventEffect effect{fmt::format("gen-{}", id++), today, {}};
      for (int d = 0; d < 10; ++d) {
        const UnixMillis day = today - (r % 20 + d) * kDayMillis;
        Delta delta;
        delta.counts[Counter::kPulls] = pulls / 10 + (d == 0 ? pulls % 10 : 0);
        delta.counts[Counter::kPushes] = pushes / 10 + (d == 0 ? pushes % 10 : 0);
        delta.counts[Counter::kChecks] = checks / 10 + (d == 0 ? checks % 10 : 0);
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

// The first `limit` repositories sorted by `field` (as the API's sort parameter names it).
RepositoryQuery Sorted(const std::string& field, bool descending, std::int64_t limit) {
  RepositoryQuery query;
  if (!ParseSort(fmt::format("{}{}", descending ? "-" : "", field), &query).ok()) std::abort();
  query.limit = limit;
  return query;
}

// `clock`: the store's "today" for its rolling window; NowMillis when unset.
std::unique_ptr<Store> OpenStore(StoreClock clock = nullptr) {
  if (const char* uri = std::getenv("DREC_BENCH_POSTGRESQL_URI"); uri != nullptr) {
    const std::string schema = fmt::format("bench_{}", Repositories());
    auto opened = PostgresStore::Open(uri, schema, std::move(clock));
    if (!opened.ok()) return nullptr;
    auto summary = (*opened)->Summarize("", "");
    if (!summary.ok()) return nullptr;
    if (summary->repositories == 0 && !Generate(**opened).ok()) return nullptr;
    return std::move(opened).value();
  }
  const std::filesystem::path path = fmt::format("overview-bench/drec-{}.db", Repositories());
  const bool fresh = !std::filesystem::exists(path);
  auto opened = SqliteStore::Open(path.string(), std::move(clock));
  if (!opened.ok()) return nullptr;
  if (fresh && !Generate(**opened).ok()) return nullptr;
  return std::move(opened).value();
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

}  // namespace
}  // namespace drec

BENCHMARK_MAIN();
