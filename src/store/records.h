// What stores return to queries: the data model of SPEC section 4, with its field names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/time.h"

namespace drec {

struct Counters {
  std::int64_t numpulls = 0;
  std::int64_t numpushs = 0;
  std::int64_t numchecks = 0;
  std::int64_t numindexpulls = 0;
  std::int64_t numdeletes = 0;
  std::optional<UnixMillis> firstpushed, lastpushed, firstpulled, lastpulled;
  bool operator==(const Counters&) const = default;
};

// Counts within a window of days, summed from the per-day records.
struct WindowCounters {
  std::int64_t numpulls = 0;
  std::int64_t numpushs = 0;
  std::int64_t numchecks = 0;
  std::int64_t numindexpulls = 0;
  std::int64_t numdeletes = 0;
  bool operator==(const WindowCounters&) const = default;
};

struct RepositoryRecord {
  std::string repositoryname;
  Counters counters;
  std::optional<WindowCounters> window;  // set when the query asked for a window
  std::vector<std::string> actors;       // at most 100, in first-seen order
  std::int64_t numstars = 0;
  std::vector<std::string> tags;  // live tags, sorted
};

struct TagRecord {
  std::string tag;
  std::string digest;  // current; empty when never learned
  bool deleted = false;
  Counters counters;
};

struct DigestRecord {
  std::string digest;
  std::string media_type;
  std::int64_t size = 0;
  bool deleted = false;
  Counters counters;
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

// Parameters of the repository list; the API validates them before a store sees them.
struct RepositoryQuery {
  std::string name_prefix;
  // The cleanup question: repositories last pulled before this time, or never pulled.
  std::optional<UnixMillis> pulled_before;
  std::optional<UnixMillis> pushed_after;  // last pushed after this time
  std::string actor;                       // only repositories this actor pushed or pulled
  // First day (YYYY-MM-DD) of a window up to today: fills RepositoryRecord::window and allows
  // sorting by "window.numpulls" and the other window counters (the trending question).
  std::optional<std::string> window_from_day;
  // A counter, a time field, repositoryname, or window.<counter> with a window.
  std::string sort_field = "repositoryname";
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
