#include "app/migrate_command.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "app/logging.h"
#include "app/open_stores.h"
#include "config/config_loader.h"
#include "migrate/store_copy.h"

namespace drec {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kProgressInterval = std::chrono::seconds(1);

void Say(const std::string& line) { std::fprintf(stderr, "drec migrate: %s\n", line.c_str()); }

// A config file's settings, read as drec reads them but from the file alone: DREC_* variables
// and setting flags would otherwise apply to both sides of the copy (docs/migrate.md).
Result<Settings> LoadFile(const std::string& option, const std::string& path) {
  const std::array<const char*, 2> argv = {"drec", path.c_str()};
  auto outcome = LoadSettings(static_cast<int>(argv.size()), argv.data(), {});
  if (!outcome.ok()) {
    return Status::InvalidArgument(
        fmt::format("{} {}: {}", option, path, outcome.status().message()));
  }
  if (auto* settings = std::get_if<Settings>(&*outcome)) return std::move(*settings);
  return Status::InvalidArgument(fmt::format("{} {}: not a config file", option, path));
}

// One registry's pair of stores.
struct Pair {
  std::string registry;
  std::unique_ptr<transfer::RecordSource> source;
  std::unique_ptr<transfer::RecordSink> sink;
  migrate::CopyStart start = migrate::CopyStart::kFresh;
};

std::string Rate(std::int64_t rows, Clock::duration elapsed) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  if (seconds <= 0) return "";
  return fmt::format(", {:.0f} rows/s", static_cast<double>(rows) / seconds);
}

int Copy(const Settings& from, const Settings& to, std::size_t chunk_rows) {
  if (from.backend == Backend::kSqlite && to.backend == Backend::kSqlite) {
    std::error_code a, b;
    if (std::filesystem::weakly_canonical(from.sqlite_path, a) ==
        std::filesystem::weakly_canonical(to.sqlite_path, b)) {
      Say("the source and the target are the same SQLite file: " + from.sqlite_path);
      return 2;
    }
  }
  // Every pair is opened and checked before anything is written: a refusal changes nothing.
  std::vector<Pair> pairs;
  for (const std::string& registry : RegistryNames(from)) {
    auto source = OpenRecordSource(from, registry);
    if (!source.ok()) {
      Say(fmt::format("source, registry {}: {}", registry, source.status().message()));
      return 1;
    }
    auto sink = OpenRecordSink(to, registry);
    if (!sink.ok()) {
      Say(fmt::format("target, registry {}: {}", registry, sink.status().message()));
      return 1;
    }
    auto start = migrate::CheckCopy(**source, **sink);
    if (!start.ok()) {
      Say(fmt::format("registry {}: {}; nothing was copied", registry, start.status().message()));
      return 1;
    }
    pairs.push_back({registry, std::move(source).value(), std::move(sink).value(), *start});
  }
  const auto target_registries = RegistryNames(to);
  for (const Pair& pair : pairs) {
    if (std::find(target_registries.begin(), target_registries.end(), pair.registry) ==
        target_registries.end()) {
      Say(fmt::format(
          "note: the target's config does not list registry {} (registries): its statistics are "
          "copied, but drec on the target serves them only once it lists it",
          pair.registry));
    }
  }
  if (std::all_of(pairs.begin(), pairs.end(),
                  [](const Pair& p) { return p.start == migrate::CopyStart::kDone; })) {
    for (const Pair& pair : pairs) {
      Say(fmt::format("registry {}: {} -> {}", pair.registry, pair.source->Identity(),
                      pair.sink->Identity()));
    }
    Say("this migration finished before: nothing to do, nothing changed");
    return 0;
  }

  const Clock::time_point began = Clock::now();
  std::int64_t copied = 0;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    Pair& pair = pairs[i];
    const std::string label = fmt::format("[{}/{} {}]", i + 1, pairs.size(), pair.registry);
    Say(fmt::format("{} {} -> {}{}", label, pair.source->Identity(), pair.sink->Identity(),
                    pair.start == migrate::CopyStart::kResume ? " (continuing)" : ""));
    const Clock::time_point registry_began = Clock::now();
    Clock::time_point last_line{};
    migrate::CopyOptions options;
    options.chunk_rows = chunk_rows;
    options.on_progress = [&](const migrate::Progress& p) {
      const Clock::time_point now = Clock::now();
      if (now - last_line < kProgressInterval && p.rows < p.total) return;
      last_line = now;
      Say(fmt::format("{} {} {}/{} rows; {}/{} rows ({}%){}", label, p.table, p.table_rows,
                      p.table_total, p.rows, p.total, p.total > 0 ? p.rows * 100 / p.total : 100,
                      Rate(p.rows_this_run, now - registry_began)));
    };
    auto report = migrate::CopyStore(*pair.source, *pair.sink, options);
    if (!report.ok()) {
      Say(fmt::format("{} {}", label, report.status().message()));
      Say("the copy stopped; run the same command again to continue it");
      return 1;
    }
    copied += report->rows_this_run;
    Say(fmt::format(
        "{} {}: {} rows{}", label, report->already_done ? "finished before" : "copied",
        report->rows,
        report->resumed ? fmt::format(" ({} in this run)", report->rows_this_run) : std::string()));
  }
  Say(fmt::format("done: {} rows copied in {:.1f} s{}", copied,
                  std::chrono::duration<double>(Clock::now() - began).count(),
                  Rate(copied, Clock::now() - began)));
  return 0;
}

}  // namespace

int RunMigrate(int argc, const char* const* argv) {
  CLI::App app{
      "Copies every registry's statistics from the store of SOURCE.yml into the store of "
      "TARGET.yml (SQLite, PostgreSQL or MongoDB; docs/migrate.md). The target must hold no "
      "statistics; an interrupted copy continues when run again.",
      "drec migrate"};
  std::string from, to;
  std::size_t chunk_rows = 5000;
  app.add_option("--from", from, "config file of the store to copy from")->required();
  app.add_option("--to", to, "config file of the store to copy into")->required();
  app.add_option("--chunk-size", chunk_rows, "rows per target transaction")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
      ->capture_default_str();
  app.footer(
      "Each side is its config file alone (storage.*, registries, pipeline.retention_days): "
      "DREC_* environment variables do not apply. Every registry of SOURCE.yml is copied. "
      "Exit status: 0 copied, 2 bad usage or config, 1 failed or refused.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::ParseError& e) {
    Say(std::string(e.what()) + " (see drec migrate --help)");
    return 2;
  }
  auto source = LoadFile("--from", from);
  if (!source.ok()) {
    Say(source.status().message());
    return 2;
  }
  auto target = LoadFile("--to", to);
  if (!target.ok()) {
    Say(target.status().message());
    return 2;
  }
  // The stores' own messages (a MongoDB lease held by a running drec, say) on stderr.
  Settings logging = *source;
  logging.log_level = "warn";
  logging.log_format = LogFormat::kText;
  SetUpLogging(logging);
  return Copy(*source, *target, chunk_rows);
}

}  // namespace drec
