// drec's entry point: builds the settings, wires the parts together, runs
// until SIGINT/SIGTERM, then stops in order (stop accepting, finish requests,
// drain the commit queue). SIGHUP and changed files reload what can change while running
// (app/reloader.h). No part constructs another part's dependencies.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <boost/asio/ip/address.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <thread>

#include "api/router.h"
#include "app/backup_command.h"
#include "app/feed_commands.h"
#include "app/logging.h"
#include "app/migrate_command.h"
#include "app/open_stores.h"
#include "app/reloader.h"
#include "app/retention_command.h"
#include "app/settings_semantics.h"
#include "app/version.h"
#include "auth/authenticator.h"
#include "config/config_loader.h"
#include "http/server.h"
#include "http/tls_context.h"
#include "metrics/metrics.h"
#include "pipeline/committer.h"
#include "pipeline/readiness.h"
#include "semantics/traffic_class.h"
#include "store/registries/registry_set.h"

extern char** environ;

namespace drec {
namespace {

std::map<std::string, std::string> Environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (auto eq = entry.find('='); eq != std::string_view::npos) {
      env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
    }
  }
  return env;
}

// How long a stop may take: requests in progress get this long to finish, then what they
// queued is committed (each commit bounded by the store's own timeouts).
constexpr std::chrono::seconds kStopGrace{10};

// Descriptors kept for what is not a client connection: the store's files and sockets, the
// log, the listening socket, the I/O threads' own.
constexpr std::int64_t kReservedDescriptors = 64;

// server.max_connections as the process can honour it: the soft open-files limit is raised to
// the hard one, and connections get what remains of it after the reserve. Beyond it, accept
// would fail with EMFILE and clients would wait in the backlog.
std::int64_t EffectiveMaxConnections(std::int64_t configured) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return configured;
  if (limit.rlim_cur != limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY) return configured;
  const std::int64_t allowed =
      std::max<std::int64_t>(1, static_cast<std::int64_t>(limit.rlim_cur) - kReservedDescriptors);
  if (allowed < configured) {
    spdlog::warn(
        "server.max_connections: {} exceeds what the open-files limit ({}) allows; serving at "
        "most {} connections (raise LimitNOFILE / ulimit -n)",
        configured, limit.rlim_cur, allowed);
    return allowed;
  }
  return configured;
}

// glibc's malloc raises its mmap threshold to the largest block freed (up to 32 MiB), after
// which request bodies come from the heap and stay there when freed. A fixed threshold keeps
// bodies above it in mappings returned at once; fewer arenas keep the threads' freed memory
// from spreading over many heaps. Measured in docs (README, "Limits").
void TuneMalloc() {
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  mallopt(M_ARENA_MAX, 2);
}

timespec Timespec(std::chrono::milliseconds duration) {
  return {static_cast<time_t>(duration.count() / 1000),
          static_cast<long>(duration.count() % 1000) * 1'000'000};
}

int Run(const Settings& settings, std::vector<std::string> args,
        std::map<std::string, std::string> env) {
  // Block the stop and reload signals before any thread starts, the logging thread included,
  // so that every thread inherits the mask and the main thread alone takes them: a SIGTERM
  // during start-up then waits for the main loop and stops drec cleanly instead of killing it.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  SetUpLogging(settings);
  TuneMalloc();

  // A store that is down at start-up is waited for, as it would be once running: the
  // registry keeps its events meanwhile. A store that is misconfigured stops start-up.
  auto stores = OpenStores(settings);
  while (!stores.ok() && stores.status().code() == Status::Code::kUnavailable) {
    spdlog::warn("{}; retrying in 2 s", stores.status().message());
    const timespec retry{2, 0};
    const int signal = sigtimedwait(&signals, nullptr, &retry);
    if (signal == SIGINT || signal == SIGTERM) return 0;
    stores = OpenStores(settings);
  }
  if (!stores.ok()) {
    spdlog::critical("{}", stores.status().message());
    return 2;
  }
  std::map<std::string, Store*, std::less<>> by_registry;
  for (auto& [name, store] : *stores) by_registry.emplace(name, store.get());
  RegistrySet registries(std::move(by_registry));
  ServerOptions server_options;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(
      settings.address == "localhost" ? "127.0.0.1" : settings.address, ec);
  if (ec) {
    spdlog::critical("server.address: \"{}\" is not an IP address", settings.address);
    return 2;
  }
  server_options.endpoint = {address, settings.port};
  server_options.max_body_bytes = settings.max_body_bytes;
  server_options.read_timeout = settings.read_timeout;
  server_options.idle_timeout = settings.idle_timeout;
  server_options.max_connections = EffectiveMaxConnections(settings.max_connections);
  server_options.max_buffered_bytes = settings.max_buffered_bytes;
  server_options.threads =
      settings.threads > 0 ? settings.threads
                           : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (!settings.plain_http) {
    auto files = ServerCertificate(settings);
    if (!files.ok()) {
      spdlog::critical("{}", files.status().message());
      return 2;
    }
    if (settings.tls_cert.empty()) {
      spdlog::info("no server.ssl.cert configured: using the self-signed certificate {}",
                   files->cert);
    }
    auto tls = MakeTlsContext(settings, *files);
    if (!tls.ok()) {
      spdlog::critical("{}", tls.status().message());
      return 2;
    }
    server_options.tls = std::move(tls).value();
  }
  if (settings.anonymous()) {
    spdlog::warn(
        "no credentials configured (auth.tokens, auth.basic): anyone who reaches {}:{} "
        "can send events and read statistics",
        settings.address, settings.port);
  }

  const Classifier classifier = MakeClassifier(settings);
  Metrics metrics(classifier.ClassNames(), DREC_VERSION);
  Authenticator auth(settings.tokens, settings.basic_users);
  Committer committer(registries, metrics,
                      {.queue_capacity = settings.queue_capacity,
                       .max_batch_events = settings.max_batch_events,
                       .retention_days = settings.retention_days,
                       .commit_timeout = settings.commit_timeout});
  StoreWriter& writer = registries;
  Readiness readiness(
      [&writer] { return writer.Ping(); }, [&committer] { return committer.health(); }, metrics,
      {.check_timeout = settings.check_timeout, .commit_timeout = settings.commit_timeout});
  IngestEndpoint ingest(DeletePolicyOf(settings), classifier, committer, metrics);
  // Declared after the committer and before the server: the server stops first, then the
  // router's query workers finish, then the committer drains.
  Router router({.ingest_route = settings.route,
                 .auth = auth,
                 .ingest = ingest,
                 .registries = registries,
                 .metrics = metrics,
                 .readiness = readiness,
                 .retention_policy_file = settings.retention_policy_file,
                 .retention_registry_budget = settings.query_timeout},
                QueryWorkerOptions{.deadline = settings.query_timeout});
  HttpServer server(server_options, router, metrics);
  if (Status s = server.Start(); !s.ok()) {
    spdlog::critical("{}", s.message());
    return 2;
  }
  spdlog::info("drec {} listening on {}://{}:{}{} (store: {}; registries: {})", DREC_VERSION,
               settings.plain_http ? "http" : "https", settings.address, server.port(),
               settings.route, StoreDescription(settings), fmt::join(registries.names(), ", "));
  spdlog::info("serving at most {} connections and {} request body bytes at once",
               server_options.max_connections, server_options.max_buffered_bytes);

  Reloader reloader(std::move(args), std::move(env), settings,
                    {.auth = auth, .server = server, .metrics = metrics});
  for (;;) {
    const timespec watch = Timespec(reloader.watch_interval());
    const int signal = sigtimedwait(&signals, nullptr, &watch);
    if (signal == SIGINT || signal == SIGTERM) {
      spdlog::info("signal {}: stopping; requests in progress have {} s to finish", signal,
                   kStopGrace.count());
      break;
    }
    if (signal == SIGHUP) {
      reloader.Reload("SIGHUP");
    } else {
      reloader.ReloadIfFilesChanged();
    }
  }
  const auto stopping = std::chrono::steady_clock::now();
  server.Stop(kStopGrace);
  committer.Stop();
  spdlog::info("stopped in {} ms, the commit queue drained",
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - stopping)
                   .count());
  return 0;
}

}  // namespace
}  // namespace drec

int main(int argc, char** argv) {
  const std::map<std::string, std::string> env = drec::Environment();
  // The subcommands, before the server's settings: each reads its own arguments.
  if (argc > 1 && std::string_view(argv[1]) == "migrate") {
    return drec::RunMigrate(argc - 1, argv + 1);
  }
  if (argc > 1 && std::string_view(argv[1]) == "backup") {
    return drec::RunBackup(argc - 1, argv + 1, env);
  }
  if (argc > 1 && std::string_view(argv[1]) == "retention") {
    return drec::RunRetention(argc - 1, argv + 1, env);
  }
  if (argc > 1 && std::string_view(argv[1]) == "replay") {
    return drec::RunReplay(argc - 1, argv + 1, env);
  }
  if (argc > 1 && std::string_view(argv[1]) == "backfill") {
    return drec::RunBackfill(argc - 1, argv + 1, env);
  }
  auto outcome = drec::LoadSettings(argc, argv, env);
  if (!outcome.ok()) {
    std::cerr << "drec: " << outcome.status().message() << "\n";
    return 2;
  }
  if (auto* early = std::get_if<drec::EarlyExit>(&*outcome)) {
    std::cout << early->text;
    return early->exit_code;
  }
  return drec::Run(std::get<drec::Settings>(*outcome), std::vector<std::string>(argv, argv + argc),
                   env);
}
