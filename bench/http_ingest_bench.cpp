// Ingest over real TLS into SQLite: what a registry sees. One client sending
// one POST at a time is exactly a registry endpoint (its throughput is
// 1 / latency); several clients show what group commit does with concurrency.
// Run: build/release/bench/http_ingest_bench
#include <benchmark/benchmark.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "../tests/integration/http/tls_client.h"
#include "api/router.h"
#include "auth/authenticator.h"
#include "http/server.h"
#include "http/tls_context.h"
#include "pipeline/committer.h"
#include "pipeline/readiness.h"
#include "store/sqlite/sqlite_store.h"

namespace drec {
namespace {

std::string Envelope(std::int64_t n) {
  return R"({"events":[{"id":"bench-)" + std::to_string(n) +
         R"(","timestamp":"2026-11-27T02:24:34.208825095Z","action":"pull","target":{
         "mediaType":"application/vnd.oci.image.manifest.v1+json","size":345,
         "digest":"sha256:0d826e9f6f381abed102659d74414ca15a811f2d2ade3709b7201098657f24a9",
         "repository":"team/app-)" +
         std::to_string(n % 100) +
         R"(","tag":"v1"},"request":{"method":"GET","useragent":"skopeo/1.9.3"},
         "actor":{"name":"alice"}}]})";
}

void BM_HttpIngest(benchmark::State& state) {
  const int clients = static_cast<int>(state.range(0));
  const auto dir = std::filesystem::temp_directory_path() / "drec-bench-http";
  std::filesystem::remove_all(dir);
  CertificateFiles files{(dir / "cert.pem").string(), (dir / "key.pem").string()};
  if (!GenerateSelfSignedCertificate(files, 1).ok()) return state.SkipWithError("cert");
  auto store = SqliteStore::Open((dir / "drec.db").string());
  if (!store.ok()) return state.SkipWithError("store");
  Metrics metrics;
  Authenticator auth({"bench"}, {});
  Committer committer(**store, metrics, {});
  const Classifier classifier = DefaultClassifier();
  IngestEndpoint ingest(DeletePolicy::kKeep, classifier, committer, metrics);
  RegistrySet registries({{"default", store->get()}});
  Readiness readiness([&registries] { return registries.Ping(); },
                      [&committer] { return committer.health(); }, metrics, {});
  Router router({.ingest_route = "/events",
                 .auth = auth,
                 .ingest = ingest,
                 .registries = registries,
                 .metrics = metrics,
                 .readiness = readiness,
                 .retention_policy_file = {},
                 .retention_registry_budget = {}},
                QueryWorkerOptions{});
  ServerOptions options;
  options.endpoint = {boost::asio::ip::make_address("127.0.0.1"), 0};
  options.threads = 2;
  options.tls = std::move(MakeTlsContext(Settings{}, files)).value();
  HttpServer server(options, router, metrics);
  if (!server.Start().ok()) return state.SkipWithError("listen");

  constexpr int kPerClient = 200;
  std::atomic<std::int64_t> next{0}, failures{0}, latency_us{0};
  for (auto _ : state) {
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&] {
        testing::TlsClient client(server.port(), files.cert);
        for (int i = 0; i < kPerClient; ++i) {
          const auto start = std::chrono::steady_clock::now();
          auto res = client.Send(
              boost::beast::http::verb::post, "/events", Envelope(next++),
              {{"Authorization", "Bearer bench"}, {"Content-Type", "application/json"}});
          latency_us += std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - start)
                            .count();
          if (res.result_int() != 200) ++failures;
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  state.SetItemsProcessed(next.load());
  state.counters["failures"] = static_cast<double>(failures.load());
  state.counters["mean_latency_ms"] =
      static_cast<double>(latency_us.load()) / 1000.0 / static_cast<double>(next.load());
  server.Stop(std::chrono::seconds(5));
  committer.Stop();
  store->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_HttpIngest)
    ->Arg(1)
    ->Arg(8)
    ->Arg(32)
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace drec

BENCHMARK_MAIN();
