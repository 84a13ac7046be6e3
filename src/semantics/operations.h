// Store operations: the output of the event semantics and the input of every
// store. Each operation names one record and what happens to it; every field is
// decided by the semantics, so stores hold no counting rules, only storage.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "model/fields.h"
#include "model/registry.h"
#include "util/time.h"

namespace drec {

// What one event adds to one record: counter increments, and time bounds that stores fold with
// min (first*) and max (last*), so arrival order does not matter.
using Delta = Tally;

// Upserts the repository record: counters, time bounds, and `actor` into the bounded actor list.
// `observed_since` folds with min into the time from which drec has seen the repository's
// traffic: the retention planner decides "not pulled within D" only for a window it observed.
struct RepositoryUpdate {
  std::string repository;
  Delta delta;
  std::string actor;                         // empty: no actor to add
  std::optional<UnixMillis> observed_since;  // nullopt: leaves it as it is
  bool operator==(const RepositoryUpdate&) const = default;
};

// Upserts one tag's counters.
struct TagUpdate {
  std::string repository;
  std::string tag;
  Delta delta;
  bool operator==(const TagUpdate&) const = default;
};

// Adds `delta` to every live tag whose current digest is `digest`, or is an
// index that lists `digest` as a child: how a pull by digest reaches its tags.
struct TagsByDigestUpdate {
  std::string repository;
  std::string digest;
  Delta delta;
  bool operator==(const TagsByDigestUpdate&) const = default;
};

// The registry said `tag` resolved to `digest` at time `at`. The newest such
// statement wins, whatever the arrival order, and makes the tag live again if
// it is newer than the tag's last delete. `attachment` marks a tag that names a signature, SBOM
// or attestation rather than an image: it stays out of the repository's image tag list.
struct TagPointsAt {
  std::string repository;
  std::string tag;
  std::string digest;
  UnixMillis at = 0;
  bool attachment = false;
  bool operator==(const TagPointsAt&) const = default;
};

// Upserts one digest's counters; media type and size are set when known.
struct DigestUpdate {
  std::string repository;
  std::string digest;
  std::string media_type;
  std::int64_t size = 0;
  Delta delta;
  bool operator==(const DigestUpdate&) const = default;
};

// Records that index `parent` lists manifest `child` (registry `references`).
struct DigestParent {
  std::string repository;
  std::string child;
  std::string parent;
  bool operator==(const DigestParent&) const = default;
};

// Upserts one actor's counters in one repository. Seen times fold with min (firstseen) and max
// (lastseen); they cover every counted action, checks and deletes included, which carry no
// push or pull time.
struct ActorUpdate {
  std::string repository;
  std::string actor;
  Delta delta;
  std::optional<UnixMillis> firstseen, lastseen;
  bool operator==(const ActorUpdate&) const = default;
};

// Upserts one UTC day's counters in one repository.
struct DayUpdate {
  std::string repository;
  std::string day;  // YYYY-MM-DD
  Delta delta;
  bool operator==(const DayUpdate&) const = default;
};

// Upserts the counters of one traffic class in one repository (docs/counting.md#traffic-classes):
// all time (tag and day empty), for one UTC day (day set), or for one tag all time (tag set).
struct ClassUpdate {
  std::string repository;
  std::string cls;
  std::string tag;  // empty unless the per-tag record
  std::string day;  // YYYY-MM-DD; empty unless the per-day record
  Delta delta;
  bool operator==(const ClassUpdate&) const = default;
};

// Marks a digest deleted at `at`; the tags pointing at it (not re-pointed
// later than `at`) leave the live tag list.
struct DigestDeleted {
  std::string repository;
  std::string digest;
  UnixMillis at = 0;
  bool operator==(const DigestDeleted&) const = default;
};

// Marks a tag deleted at `at`, unless it was pointed somewhere later than that.
struct TagDeleted {
  std::string repository;
  std::string tag;
  UnixMillis at = 0;
  bool operator==(const TagDeleted&) const = default;
};

// Registry 3.x deleted a whole repository: every tag and digest is marked deleted at `at`.
struct RepositoryDeleted {
  std::string repository;
  UnixMillis at = 0;
  bool operator==(const RepositoryDeleted&) const = default;
};

// `on_delete: remove`: forget every record of the repository (the original DREC's behaviour).
struct RepositoryRemoved {
  std::string repository;
  bool operator==(const RepositoryRemoved&) const = default;
};

using Operation = std::variant<RepositoryUpdate, TagUpdate, TagsByDigestUpdate, TagPointsAt,
                               DigestUpdate, DigestParent, ActorUpdate, DayUpdate, ClassUpdate,
                               DigestDeleted, TagDeleted, RepositoryDeleted, RepositoryRemoved>;

// A manifest that a store must already know in `repository` (one it has seen pushed or pulled)
// for an event to count: a blob delete has exactly the shape of a manifest delete by digest, and
// only the store knows which of the two a digest is (docs/counting.md#deletes).
struct KnownManifest {
  std::string repository;
  std::string digest;
  bool operator==(const KnownManifest&) const = default;
};

// What one event does: applied all or nothing, at most once per event id.
struct EventEffect {
  std::string event_id;
  UnixMillis timestamp = 0;
  std::vector<Operation> operations;  // in order: later operations may read what earlier ones wrote
  // When set and the store does not know that manifest (as of the effects before this one), the
  // event id is recorded and none of the operations is applied.
  std::optional<KnownManifest> requires_manifest = std::nullopt;
  // The registry whose endpoint received the event; its statistics are kept apart
  // (docs/registries.md). Decided by the endpoint, not by the event's content.
  std::string registry{kDefaultRegistry};
};

// The effects of one or more envelopes, applied in one store transaction.
struct Batch {
  std::vector<EventEffect> effects;
};

}  // namespace drec
