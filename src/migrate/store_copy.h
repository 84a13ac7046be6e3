// The copy loop of drec migrate (docs/migrate.md): every row of one registry's store into
// another store, exactly, in chunks, resumable. It knows no store: it reads and writes the
// store-neutral rows of store/transfer/record_tables.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "store/transfer/record_tables.h"
#include "util/status.h"

namespace drec::migrate {

// Where a copy stands, after each chunk: for the progress line.
struct Progress {
  std::string table;               // the table being copied
  std::int64_t table_rows = 0;     // rows of that table copied so far
  std::int64_t table_total = 0;    // rows of that table in the source
  std::int64_t rows = 0;           // rows of the registry copied so far (this run and before)
  std::int64_t total = 0;          // rows of the registry in the source
  std::int64_t rows_this_run = 0;  // rows this run wrote
};

struct CopyOptions {
  std::size_t chunk_rows = 5000;  // rows per target transaction (and per source read)
  std::function<void(const Progress&)> on_progress;  // after each chunk, when set
};

// What a copy of one registry's store did.
struct CopyReport {
  bool already_done = false;  // a finished copy from this source was found: nothing written
  bool resumed = false;       // an interrupted copy from this source was continued
  std::int64_t rows = 0;      // rows in the target's tables now (those this copy wrote)
  std::int64_t rows_this_run = 0;
};

// What a copy into `sink` from `source` would do, checked before anything is written: start,
// continue an interrupted copy, or nothing (finished before); InvalidArgument with the reason
// for a refusal (a target that holds other statistics, or another source's copy, or the source
// itself).
enum class CopyStart : std::uint8_t { kFresh, kResume, kDone };
Result<CopyStart> CheckCopy(transfer::RecordSource& source, transfer::RecordSink& sink);

// Copies every table of `source` into `sink`. The sink must hold no statistics, unless it holds
// the checkpoint of a copy from the same source (Identity), which is then continued from its last
// chunk (or, when finished, left alone). A resumed copy checks that the source still has the row
// counts it had when the copy began, since rows already copied are not read again. Fails with
// InvalidArgument for a refusal (the message says why; nothing was written) and with the
// store's error otherwise.
Result<CopyReport> CopyStore(transfer::RecordSource& source, transfer::RecordSink& sink,
                             const CopyOptions& options);

// The checkpoint a copy keeps in its target (exposed for tests).
struct Checkpoint {
  std::string source;                     // the source's Identity
  std::vector<std::int64_t> source_rows;  // rows per table when the copy began, Tables() order
  std::size_t table = 0;                  // index in Tables() of the table being copied
  std::optional<transfer::Key> after;     // the last key written of that table
  std::int64_t rows = 0;                  // rows written so far
  bool done = false;
};
std::string EncodeCheckpoint(const Checkpoint& checkpoint);
Result<Checkpoint> DecodeCheckpoint(const std::string& text);

}  // namespace drec::migrate
