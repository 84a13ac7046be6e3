#include "app/reloader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <variant>

#include "config/config_loader.h"
#include "config/effective_settings.h"
#include "http/tls_context.h"

namespace drec {
namespace {

// The settings a reload applies; a change to any other is only applied by a restart.
constexpr std::array<std::string_view, 8> kReloadable = {
    "auth.tokens",         "auth.tokens_file",     "auth.basic", "server.ssl.cert",
    "server.ssl.cert_key", "server.ssl.client_ca", "log.level",  "reload.watch_interval_ms"};

bool IsReloadable(std::string_view key) {
  return std::find(kReloadable.begin(), kReloadable.end(), key) != kReloadable.end();
}

// The reloadable settings of `next` over `in_force`: what drec runs with after a reload.
void TakeReloadable(const Settings& next, Settings& in_force) {
  in_force.tokens = next.tokens;
  in_force.tokens_file = next.tokens_file;
  in_force.basic_users = next.basic_users;
  in_force.tls_cert = next.tls_cert;
  in_force.tls_key = next.tls_key;
  in_force.tls_client_ca = next.tls_client_ca;
  in_force.log_level = next.log_level;
  in_force.reload_watch_interval = next.reload_watch_interval;
}

// The files a reload reads: a change to any of them triggers one.
std::vector<std::string> WatchedPaths(const Settings& settings) {
  std::vector<std::string> paths;
  for (const std::string* path : {&settings.config_file, &settings.tokens_file, &settings.tls_cert,
                                  &settings.tls_key, &settings.tls_client_ca}) {
    if (!path->empty()) paths.push_back(*path);
  }
  return paths;
}

}  // namespace

Reloader::Reloader(std::vector<std::string> args, std::map<std::string, std::string> env,
                   Settings in_force, Targets targets)
    : args_(std::move(args)),
      env_(std::move(env)),
      in_force_(std::move(in_force)),
      targets_(targets),
      seen_(LookAtWatchedFiles()) {}

Reloader::FileState Reloader::Look(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return {};
  return {true, st.st_dev, st.st_ino,
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
          st.st_size};
}

std::map<std::string, Reloader::FileState> Reloader::LookAtWatchedFiles() const {
  std::map<std::string, FileState> states;
  for (std::string& path : WatchedPaths(in_force_)) {
    FileState state = Look(path);
    states.emplace(std::move(path), state);
  }
  return states;
}

void Reloader::ReloadIfFilesChanged() {
  for (const auto& [path, before] : seen_) {
    if (Look(path) != before) return Reload(fmt::format("{} changed", path));
  }
}

void Reloader::Reload(std::string_view why) {
  // Looked at before loading, so a change made while loading triggers one more reload.
  seen_ = LookAtWatchedFiles();
  auto refuse = [&](std::string_view problem) {
    spdlog::error("reload ({}) refused, the configuration in force stays: {}", why, problem);
    targets_.metrics.ConfigReload(false);
  };
  std::vector<const char*> argv;
  argv.reserve(args_.size());
  for (const std::string& arg : args_) argv.push_back(arg.c_str());
  auto outcome = LoadSettings(static_cast<int>(argv.size()), argv.data(), env_);
  if (!outcome.ok()) return refuse(outcome.status().message());
  if (!std::holds_alternative<Settings>(*outcome)) return refuse("the command line does not run");
  const Settings& next = std::get<Settings>(*outcome);

  std::shared_ptr<boost::asio::ssl::context> tls;
  if (!in_force_.plain_http && !next.plain_http) {
    auto files = ServerCertificate(next);
    if (!files.ok()) return refuse(files.status().message());
    auto context = MakeTlsContext(next, *files);
    if (!context.ok()) return refuse(context.status().message());
    tls = std::move(context).value();
  }

  std::vector<std::string> restart_only;
  for (std::string& key : config::ChangedSettings(in_force_, next)) {
    if (!IsReloadable(key)) restart_only.push_back(std::move(key));
  }
  targets_.auth.Replace(next.tokens, next.basic_users);
  if (tls) targets_.server.ReplaceTls(std::move(tls));
  spdlog::set_level(spdlog::level::from_str(next.log_level));
  TakeReloadable(next, in_force_);
  // Files the new settings name for the first time are looked at now; the others keep the
  // state seen before loading.
  std::map<std::string, FileState> watched;
  for (std::string& path : WatchedPaths(in_force_)) {
    const auto seen = seen_.find(path);
    const FileState state = seen != seen_.end() ? seen->second : Look(path);
    watched.emplace(std::move(path), state);
  }
  seen_ = std::move(watched);
  targets_.metrics.ConfigReload(true);
  spdlog::info("reloaded ({}): {} bearer tokens, {} basic users{}", why, in_force_.tokens.size(),
               in_force_.basic_users.size(),
               in_force_.plain_http ? "" : ", TLS certificate and key read again");
  if (!restart_only.empty()) {
    spdlog::warn("changed settings that only a restart applies: {}", fmt::join(restart_only, ", "));
  }
}

}  // namespace drec
