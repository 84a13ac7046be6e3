// What stores return to queries: the data model of docs/data-model.md, with its field names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/fields.h"
#include "util/time.h"

namespace drec {

// A record's counters and first/last times.
using Counters = Tally;

// Counts within a window of days, summed from the per-day records.
using WindowCounters = CounterValues;

struct RepositoryRecord {
  std::string registry;  // set by the reader that knows it (store/registries); empty otherwise
  std::string repositoryname;
  Counters counters;
  std::optional<WindowCounters> window;  // set when the query asked for a window
  std::vector<std::string> actors;       // at most 100, in first-seen order
  std::int64_t numstars = 0;
  std::vector<std::string> tags;  // live image tags, sorted; attachment tags are left out
  // The earliest event drec has of the repository (live, replayed or backfilled): since then it
  // has seen all of the repository's traffic. Unset for a repository recorded before drec kept it.
  std::optional<UnixMillis> observedsince;
};

struct TagRecord {
  std::string tag;
  std::string digest;  // current; empty when never learned
  bool deleted = false;
  bool attachment = false;  // names a signature, SBOM or attestation (docs/counting.md#attachments)
  Counters counters;
};

struct DigestRecord {
  std::string digest;
  std::string media_type;
  std::int64_t size = 0;
  bool deleted = false;
  Counters counters;
  // The indexes known to list this manifest (registry `references`), sorted: a child of a kept
  // index must not be deleted as untagged.
  std::vector<std::string> parents;
};

struct ActorRecord {
  std::string actor;
  Counters counters;
  std::optional<UnixMillis> firstseen, lastseen;
};

struct DayRecord {
  std::string day;  // YYYY-MM-DD
  Counters counters;
};

// One traffic class's counters in one repository (docs/counting.md#traffic-classes): all time,
// for one tag, or for one day, as the ClassQuery asked.
struct ClassRecord {
  std::string cls;
  std::string tag;  // set for a tag's classes
  std::string day;  // set for per-day classes
  Counters counters;
  bool operator==(const ClassRecord&) const = default;
};

// Which class records ListClasses returns, each ordered by class (then day): all time (the
// default), a tag's (all time), or per day in [from_day, to_day].
struct ClassQuery {
  std::string tag;                      // a tag's classes
  std::optional<std::string> from_day;  // with to_day: per day
  std::optional<std::string> to_day;
};

// What the repository list is ordered by. The API builds it from the `sort` parameter, so a
// store only ever sees a field of the table in model/fields.h, never the caller's text.
struct SortKey {
  enum class Kind : std::uint8_t { kName, kCounter, kTime, kWindowCounter };
  Kind kind = Kind::kName;
  Counter counter = Counter::kPulls;         // kCounter, kWindowCounter
  TimeField time = TimeField::kFirstPushed;  // kTime
};

// Parameters of the repository list, validated by the API before a store sees them: a window
// sort comes with a window, offset and limit are not negative.
struct RepositoryQuery {
  std::string name_prefix;
  // The cleanup question: repositories last pulled before this time, or never pulled.
  std::optional<UnixMillis> pulled_before;
  std::optional<UnixMillis> pushed_after;  // last pushed after this time
  std::string actor;                       // only repositories this actor pushed or pulled
  // First day (YYYY-MM-DD) of a window up to today: fills RepositoryRecord::window and allows
  // sorting by window counters (the trending question).
  std::optional<std::string> window_from_day;
  SortKey sort;
  bool descending = false;
  std::int64_t offset = 0;
  std::int64_t limit = 100;
};

// Totals across every repository: all time, and per day of a range.
struct Summary {
  std::int64_t repositories = 0;
  Counters totals;              // counters summed; times are the earliest first* and latest last*
  std::vector<DayRecord> days;  // days of the range that have records, ascending
};

struct RepositoryPage {
  std::vector<RepositoryRecord> items;
  std::int64_t total = 0;
};

}  // namespace drec
