// The dashboard overview's queries on a large store: 100,000 repositories and
// 10 million events spread over the last 30 days. The data is generated once
// through the store's own Apply (as coalesced deltas: one operation stands for
// many events) and kept in the build directory for later runs. Run:
//   build/release/bench/overview_bench
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <filesystem>
#include <string>

#include "api/query_params.h"
#include "store/sqlite/sqlite_store.h"
#include "util/time.h"

namespace drec {
namespace {

constexpr int kRepositories = 100'000;
constexpr int kDays = 30;
constexpr std::int64_t kEvents = 10'000'000;

UnixMillis Today() { return StartOfUtcDay(NowMillis()); }

// Each repository gets events on 10 consecutive days of the last 30, ending 0 to 19 days ago;
// counts vary by repository so sorts matter.
Status Generate(Store& store) {
  const std::int64_t per_repository = kEvents / kRepositories;  // 100
  const UnixMillis today = Today();
  std::int64_t id = 0;
  for (int first = 0; first < kRepositories; first += 1000) {
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

Store* TheStore() {
  static std::unique_ptr<SqliteStore> store = [] {
    const std::filesystem::path path = "overview-bench/drec.db";
    const bool fresh = !std::filesystem::exists(path);
    auto opened = SqliteStore::Open(path.string());
    if (!opened.ok()) return std::unique_ptr<SqliteStore>();
    if (fresh && !Generate(**opened).ok()) return std::unique_ptr<SqliteStore>();
    return std::move(opened).value();
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
    if (!summary.ok() || summary->repositories != kRepositories) state.SkipWithError("bad summary");
  }
}
BENCHMARK(BM_Summary)->Unit(benchmark::kMillisecond);

// The first `limit` repositories sorted by `field` (as the API's sort parameter names it).
RepositoryQuery Sorted(const std::string& field, bool descending, std::int64_t limit) {
  RepositoryQuery query;
  if (!ParseSort(fmt::format("{}{}", descending ? "-" : "", field), &query).ok()) std::abort();
  query.limit = limit;
  return query;
}

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

void BM_TrendingWindow30d(benchmark::State& state) {
  RepositoryQuery query = Sorted("window.numpulls", true, 10);
  query.window_from_day = UtcDay(Today() - 29 * kDayMillis);
  List(state, query);
}
BENCHMARK(BM_TrendingWindow30d)->Unit(benchmark::kMillisecond);

void BM_NotPulledFor7Days(benchmark::State& state) {
  RepositoryQuery query = Sorted("lastpulled", false, 100);
  query.pulled_before = Today() - 6 * kDayMillis;
  List(state, query);
}
BENCHMARK(BM_NotPulledFor7Days)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace drec

BENCHMARK_MAIN();
