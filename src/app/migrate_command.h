// drec migrate (docs/migrate.md): copies every registry's statistics from the store of one
// config file into the store of another, exactly, resumably, with a progress line on stderr.
#pragma once

namespace drec {

// Runs `drec migrate ARGS` (argv[0] is "migrate"). Exit status: 0 copied (or finished before),
// 2 bad usage or configuration, 1 the copy failed or was refused.
int RunMigrate(int argc, const char* const* argv);

}  // namespace drec
