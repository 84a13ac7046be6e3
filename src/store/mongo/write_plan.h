// Turns the effects of a batch into a journal: the literal MongoDB writes that apply them,
// coalesced per document and made safe to repeat. Pure (no I/O), so the rules that make the
// MongoDB store exact can be tested without a server. docs/mongodb.md gives the argument.
#pragma once

#include <bson/bson.h>

#include <array>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "semantics/operations.h"
#include "store/mongo/mongo_driver.h"
#include "store/records.h"

namespace drec::mongo {

// The collections a journal writes to, named in journals by role; in the order a journal's
// writes are sent, the repository document last, so a reader who sees a repository's counts
// finds its tags, digests, actors, days and classes at least as far along.
inline constexpr std::array<std::string_view, 8> kWriteTargets = {
    "tags", "digests", "digestparents", "actors", "days", "totaldays", "classes", "repositories"};

// What the journal of a batch depends on beyond the batch itself: read from the database just
// before the journal is built, so that replaying it later needs no reads and cannot differ.
struct StoredState {
  // Index parents by (repository, child digest), for the digests of DigestsPulledByDigest.
  std::map<std::pair<std::string, std::string>, std::set<std::string>> parents;
  // Per-day counters by repository and day, for the repositories of RepositoriesRemoved: what
  // removing them takes off the all-repository daily totals.
  std::map<std::string, std::map<std::string, WindowCounters>> days;
  // The (repository, digest) pairs of ManifestsRequired that are stored as manifests.
  std::set<std::pair<std::string, std::string>> manifests;
  // The rolling window's first day (store.h, kRollingWindowDays) as stored when the journal is
  // built; unset while the window is not valid. A day from it on adds its counts to the
  // repository's window_* counters, in the repository's own update.
  std::optional<std::string> window_from;
};

// The _id of the rolling window's document in C.meta: {_id: "window", from_day: "YYYY-MM-DD",
// rolling: {from, to, id}}; from_day is absent while the window is not valid, rolling present
// while a roll is under way (docs/mongodb.md#the-rolling-window).
inline constexpr std::string_view kWindowDocument = "window";

// The name of a counter's rolling-window field in the repository documents: window_numpulls, ...
std::string WindowField(Counter counter);

// The (repository, digest) pairs whose stored parents BuildJournal needs: pulls by digest.
std::set<std::pair<std::string, std::string>> DigestsPulledByDigest(
    std::span<const EventEffect* const> effects);

// The (repository, digest) pairs whose stored kind BuildJournal needs: the effects' required
// manifests (EventEffect::requires_manifest).
std::set<std::pair<std::string, std::string>> ManifestsRequired(
    std::span<const EventEffect* const> effects);

// The repositories whose stored days BuildJournal needs: those the effects remove.
std::set<std::string> RepositoriesRemoved(std::span<const EventEffect* const> effects);

// The journal document for `effects` (none of whose ids was applied before), applied as batch
// `batch` at `now`: {_id: batch, created_at, events: [ids], writes: [{coll, filter, update,
// upsert, multi} | {coll, filter, remove: true}]}, filter and update as raw BSON (binary). Every
// update that changes a document is guarded by the document's `lastop`, so that applying the
// writes again changes nothing twice.
// An effect whose required manifest is neither stored nor made known by an earlier effect of
// the batch contributes its id and no writes; `unknown_manifests` (when given) counts them.
Bson BuildJournal(const bson_oid_t& batch, UnixMillis now,
                  std::span<const EventEffect* const> effects, StoredState stored,
                  std::int64_t* unknown_manifests = nullptr);

}  // namespace drec::mongo
