#include "app/backup_command.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <vector>

#include "app/open_stores.h"
#include "config/config_loader.h"
#include "store/sqlite/sqlite_backup.h"

namespace drec {
namespace {

constexpr std::string_view kUsage =
    "Usage: drec backup [config.yml] [setting flags] --output DIR [--step-pages N]\n"
    "\n"
    "Copies every registry's SQLite file (storage.sqlite.path, and drec@R.db beside it for each\n"
    "of `registries`) into DIR, under the same names, with SQLite's online backup API: drec\n"
    "keeps running and taking events, and each copy holds exactly what was committed when its\n"
    "copy began. The settings are read as drec reads them (config file, DREC_* variables,\n"
    "flags), so give the running drec's. DIR is created if needed; files already in it are not\n"
    "overwritten. --step-pages: pages copied per step (default 256).\n"
    "\n"
    "Restore: stop drec, copy the files of DIR into storage.sqlite.path's directory (removing\n"
    "any drec.db-wal and drec.db-shm there), start drec. For PostgreSQL use pg_dump, for\n"
    "MongoDB mongodump (docs/migrate.md).\n"
    "\n"
    "Exit status: 0 done, 2 bad usage or configuration, 1 a copy failed.\n";

void Say(const std::string& line) { std::fprintf(stderr, "drec backup: %s\n", line.c_str()); }

}  // namespace

int RunBackup(int argc, const char* const* argv, const std::map<std::string, std::string>& env) {
  // --output is the command's own; every other argument is drec's (config file, flags).
  std::string output;
  int step_pages = sqlite::kBackupPagesPerStep;
  std::vector<const char*> rest = {"drec"};
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage.data(), stdout);
      return 0;
    }
    if (arg == "--output" || arg == "-o") {
      if (i + 1 >= argc) {
        Say("--output needs a directory (see drec backup --help)");
        return 2;
      }
      output = argv[++i];
    } else if (arg == "--step-pages") {
      if (i + 1 >= argc || std::atoi(argv[i + 1]) < 1) {
        Say("--step-pages needs a number of pages, at least 1 (see drec backup --help)");
        return 2;
      }
      step_pages = std::atoi(argv[++i]);
    } else if (arg.starts_with("--output=")) {
      output = std::string(arg.substr(9));
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (output.empty()) {
    Say("--output DIR is required (see drec backup --help)");
    return 2;
  }
  auto outcome = LoadSettings(static_cast<int>(rest.size()), rest.data(), env);
  if (!outcome.ok()) {
    Say(outcome.status().message());
    return 2;
  }
  if (auto* early = std::get_if<EarlyExit>(&*outcome)) {
    std::fputs(early->text.c_str(), stdout);
    return early->exit_code;
  }
  const Settings& settings = std::get<Settings>(*outcome);
  if (settings.backend == Backend::kPostgresql) {
    Say("storage.backend is postgresql: back it up with PostgreSQL's tools (pg_dump, or a "
        "standby); drec backup copies the embedded SQLite store");
    return 2;
  }
  if (settings.backend == Backend::kMongodb) {
    Say("storage.backend is mongodb: back it up with MongoDB's tools (mongodump); drec backup "
        "copies the embedded SQLite store");
    return 2;
  }
  std::error_code error;
  std::filesystem::create_directories(output, error);
  if (error) {
    Say(fmt::format("cannot create {}: {}", output, error.message()));
    return 1;
  }
  for (const std::string& registry : RegistryNames(settings)) {
    const std::filesystem::path source(SqlitePathOf(settings, registry));
    const std::filesystem::path target = std::filesystem::path(output) / source.filename();
    const auto began = std::chrono::steady_clock::now();
    std::int64_t pages = 0;
    Status status = sqlite::BackupDatabase(source.string(), target.string(), &pages, step_pages);
    if (!status.ok()) {
      Say(fmt::format("registry {}: {}", registry, status.message()));
      return status.code() == Status::Code::kInvalidArgument ? 2 : 1;
    }
    Say(fmt::format(
        "registry {}: {} -> {} ({} pages, {:.1f} s)", registry, source.string(), target.string(),
        pages, std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count()));
  }
  Say(fmt::format(
      "done. Restore: stop drec, copy the files of {} into {}, start drec (docs/migrate.md)",
      output, std::filesystem::path(settings.sqlite_path).parent_path().string()));
  return 0;
}

}  // namespace drec
