// Throughput of the write path's parts: the pure semantics, SQLite commits of different batch
// sizes (what group commit buys), and the fold of claimed events into the records. Run:
//   build/release/bench/ingest_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <filesystem>
#include <string>

#include "semantics/semantics.h"
#include "store/sqlite/sqlite_store.h"

namespace drec {
namespace {

// A pull of one of `repositories` repositories (200 unless given), its tags, digests and actors.
Event PullEvent(std::int64_t n, std::int64_t repositories = 200) {
  Event e;
  e.id = fmt::format("bench-{}", n);
  e.timestamp = 1'790'000'000'000 + n;
  e.action = "pull";
  e.media_type = "application/vnd.oci.image.manifest.v1+json";
  e.has_media_type = true;
  e.digest = fmt::format("sha256:{:064x}", n % 50);  // the registry's grammar: 64 hex digits
  e.repository = "team/app-" + std::to_string(n % repositories);
  e.tag = n % 2 == 0 ? fmt::format("v{}", n % 10) : "";
  e.method = "GET";
  e.actor = fmt::format("user-{}", n % 30);
  return e;
}

void BM_Semantics(benchmark::State& state) {
  std::vector<Event> events;
  for (int i = 0; i < 1000; ++i) events.push_back(PullEvent(i));
  const Classifier classifier = DefaultClassifier();
  for (auto _ : state) {
    benchmark::DoNotOptimize(Interpret(events, DeletePolicy::kKeep, classifier));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(events.size()));
}
BENCHMARK(BM_Semantics);

// Events per second committed to SQLite (synchronous=FULL) with `range(0)`
// events per transaction: 1 is what a store without group commit does.
void BM_SqliteCommit(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / "drec-bench-sqlite";
  std::filesystem::remove_all(dir);
  auto store = SqliteStore::Open((dir / "bench.db").string());
  if (!store.ok()) {
    state.SkipWithError(store.status().message().c_str());
    return;
  }
  std::int64_t next = 0;
  const std::int64_t batch_size = state.range(0);
  const Classifier classifier = DefaultClassifier();
  for (auto _ : state) {
    std::vector<Event> events;
    for (std::int64_t i = 0; i < batch_size; ++i) events.push_back(PullEvent(next++));
    Batch batch{Interpret(events, DeletePolicy::kKeep, classifier).effects};
    ApplyOutcome outcome;
    if (!(*store)->Apply(batch, &outcome).ok()) state.SkipWithError("apply failed");
  }
  state.SetItemsProcessed(next);
  store->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_SqliteCommit)->Arg(1)->Arg(16)->Arg(256)->MinTime(2.0)->UseRealTime();

// The fold (SqliteStore::Settle) of 1,024 claimed pull events spread over `range(0)`
// repositories, per event and in CPU time: what a claimed event costs the committer later, off
// its acknowledgement's path. The claims are made with the timer paused.
void BM_SqliteFold(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / "drec-bench-sqlite-fold";
  std::filesystem::remove_all(dir);
  auto store = SqliteStore::Open((dir / "bench.db").string());
  if (!store.ok()) {
    state.SkipWithError(store.status().message().c_str());
    return;
  }
  constexpr std::int64_t kEventsPerFold = 1024;
  std::int64_t next = 0;
  const Classifier classifier = DefaultClassifier();
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<Event> events;
    for (std::int64_t i = 0; i < kEventsPerFold; ++i) {
      events.push_back(PullEvent(next++, state.range(0)));
    }
    Batch batch{Interpret(events, DeletePolicy::kKeep, classifier).effects};
    ApplyOutcome outcome;
    if (!(*store)->Apply(batch, &outcome).ok()) state.SkipWithError("apply failed");
    state.ResumeTiming();
    if (!(*store)->Settle().ok()) state.SkipWithError("settle failed");
  }
  state.SetItemsProcessed(next);
  store->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_SqliteFold)->Arg(1)->Arg(200)->Arg(5000)->MinTime(2.0);

}  // namespace
}  // namespace drec

BENCHMARK_MAIN();
