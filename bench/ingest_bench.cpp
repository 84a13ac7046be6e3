// Throughput of the write path's parts: the pure semantics, SQLite commits of different batch
// sizes (what group commit buys), and the fold of claimed events into the records. Run:
//   build/release/bench/ingest_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <filesystem>
#include <memory>
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

// A SQLite store in a fresh directory of its own, removed again at the end.
class ScratchStore {
 public:
  explicit ScratchStore(const std::string& name)
      : dir_(std::filesystem::temp_directory_path() / name) {
    std::filesystem::remove_all(dir_);
    auto store = SqliteStore::Open((dir_ / "bench.db").string());
    if (store.ok()) {
      store_ = std::move(*store);
    } else {
      error_ = store.status().message();
    }
  }
  ~ScratchStore() {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  ScratchStore(const ScratchStore&) = delete;
  ScratchStore& operator=(const ScratchStore&) = delete;

  // nullptr when it could not be opened: error() says why.
  SqliteStore* get() const { return store_.get(); }
  const std::string& error() const { return error_; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<SqliteStore> store_;
  std::string error_;
};

// The next `count` pull events (PullEvent from `*next` on), as the semantics make them a batch.
Batch PullBatch(std::int64_t* next, std::int64_t count, std::int64_t repositories,
                const Classifier& classifier) {
  std::vector<Event> events;
  for (std::int64_t i = 0; i < count; ++i) events.push_back(PullEvent((*next)++, repositories));
  return Batch{Interpret(events, DeletePolicy::kKeep, classifier).effects};
}

// Events per second committed to SQLite (synchronous=FULL) with `range(0)`
// events per transaction: 1 is what a store without group commit does.
void BM_SqliteCommit(benchmark::State& state) {
  const ScratchStore store("drec-bench-sqlite");
  if (store.get() == nullptr) return state.SkipWithError(store.error().c_str());
  std::int64_t next = 0;
  const Classifier classifier = DefaultClassifier();
  for (auto _ : state) {
    const Batch batch = PullBatch(&next, state.range(0), 200, classifier);
    ApplyOutcome outcome;
    if (!store.get()->Apply(batch, &outcome).ok()) state.SkipWithError("apply failed");
  }
  state.SetItemsProcessed(next);
}
BENCHMARK(BM_SqliteCommit)->Arg(1)->Arg(16)->Arg(256)->MinTime(2.0)->UseRealTime();

// The fold (SqliteStore::Settle) of 1,024 claimed pull events spread over `range(0)`
// repositories, per event and in CPU time: what a claimed event costs the committer later, off
// its acknowledgement's path. The claims are made with the timer paused.
void BM_SqliteFold(benchmark::State& state) {
  const ScratchStore store("drec-bench-sqlite-fold");
  if (store.get() == nullptr) return state.SkipWithError(store.error().c_str());
  constexpr std::int64_t kEventsPerFold = 1024;
  std::int64_t next = 0;
  const Classifier classifier = DefaultClassifier();
  for (auto _ : state) {
    state.PauseTiming();
    const Batch batch = PullBatch(&next, kEventsPerFold, state.range(0), classifier);
    ApplyOutcome outcome;
    if (!store.get()->Apply(batch, &outcome).ok()) state.SkipWithError("apply failed");
    state.ResumeTiming();
    if (!store.get()->Settle().ok()) state.SkipWithError("settle failed");
  }
  state.SetItemsProcessed(next);
}
BENCHMARK(BM_SqliteFold)->Arg(1)->Arg(200)->Arg(5000)->MinTime(2.0);

}  // namespace
}  // namespace drec

BENCHMARK_MAIN();
