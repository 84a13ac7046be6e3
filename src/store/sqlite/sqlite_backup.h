// A consistent copy of a SQLite store while drec writes it (drec backup, docs/migrate.md).
#pragma once

#include <cstdint>
#include <string>

#include "util/status.h"

namespace drec::sqlite {

// Pages copied per step by default: the copy holds its read snapshot throughout, so the step
// size only bounds how long one step holds the file's lock (none in WAL mode for drec's commits).
inline constexpr int kBackupPagesPerStep = 256;

// Copies the database at `source` into a new file `target` with SQLite's online backup API,
// a few pages per step, from one read snapshot of the source: the copy holds exactly the
// transactions committed before it began, while drec keeps committing (WAL). The copy is written
// beside `target` and renamed into place once complete, so `target` is never half written.
// Fails when `target` exists. `*pages` gets the number of pages copied.
Status BackupDatabase(const std::string& source, const std::string& target, std::int64_t* pages,
                      int pages_per_step = kBackupPagesPerStep);

}  // namespace drec::sqlite
