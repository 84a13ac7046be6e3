// drec backup (docs/migrate.md#backup): a consistent copy of every registry's SQLite file while
// drec runs, named as drec expects, so that restoring is copying the files back.
#pragma once

#include <map>
#include <string>

namespace drec {

// Runs `drec backup [config.yml] [flags] --output DIR` (argv[0] is "backup"). The settings are
// read as drec reads them (`env` is the process environment), so the backup finds the files the
// running drec uses. Exit status: 0 done, 2 bad usage or configuration (or not the SQLite store),
// 1 the copy failed.
int RunBackup(int argc, const char* const* argv, const std::map<std::string, std::string>& env);

}  // namespace drec
