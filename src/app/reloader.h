// Changes without a restart: on SIGHUP, or when a file the settings name changes (a Kubernetes
// Secret update, a renewed certificate), the configuration is loaded again from the same
// command line, environment and file. Credentials, the TLS certificate and the log level take
// effect for the next request or connection; open connections and queued events are not
// touched. A configuration that does not load, or whose certificate does not, is refused with a
// log line and the one in force stays. Other changed settings are named in a warning: only a
// restart applies them.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "auth/authenticator.h"
#include "config/settings.h"
#include "http/server.h"
#include "metrics/metrics.h"

namespace drec {

class Reloader {
 public:
  // What a reload changes; owned by app/ and alive as long as the Reloader.
  struct Targets {
    Authenticator& auth;
    HttpServer& server;  // its TLS context; plain HTTP stays plain
    Metrics& metrics;
  };

  // `args` and `env`: what the settings in force were loaded from, loaded again on a reload.
  Reloader(std::vector<std::string> args, std::map<std::string, std::string> env, Settings in_force,
           Targets targets);

  // Loads the configuration again and applies what can change while running; `why` names the
  // trigger in the log ("SIGHUP").
  void Reload(std::string_view why);

  // Reloads when a watched file (the config file, auth.tokens_file, the TLS files) changed
  // since the last look: a stat per file, cheap enough to call every watch interval.
  void ReloadIfFilesChanged();

  // How long to wait between two ReloadIfFilesChanged (reload.watch_interval_ms in force).
  std::chrono::milliseconds watch_interval() const { return in_force_.reload_watch_interval; }

 private:
  // What tells a file's content changed without reading it: a Kubernetes Secret update swaps a
  // symlink (new inode), an editor rewrites in place (new mtime or size).
  struct FileState {
    bool exists = false;
    dev_t device = 0;
    ino_t inode = 0;
    std::int64_t mtime_ns = 0;
    off_t size = 0;
    bool operator==(const FileState&) const = default;
  };
  static FileState Look(const std::string& path);
  std::map<std::string, FileState> LookAtWatchedFiles() const;

  std::vector<std::string> args_;
  std::map<std::string, std::string> env_;
  Settings in_force_;
  Targets targets_;
  std::map<std::string, FileState> seen_;
};

}  // namespace drec
