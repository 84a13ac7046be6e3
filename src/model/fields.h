// The statistics' fields, defined once. Every record, store column, JSON and CSV field, sort
// key, window sum and OpenAPI property of a counter or a time is derived from the two tables
// below, so adding a counter is one entry in kCounterFields, one migration per store and one
// line in docs/counting.md (which says what each counter counts).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "util/time.h"

namespace drec {

// A counter of events, by position in kCounterFields.
enum class Counter : std::uint8_t {
  kPulls,
  kPushes,
  kChecks,
  kIndexPulls,
  kDeletes,
  kAttachmentPushes,
  kAttachmentPulls,
};

// How a time field folds: the earliest or the latest value seen wins, so arrival order never
// matters.
enum class Fold : std::uint8_t { kEarliest, kLatest };

// A time bound, by position in kTimeFields.
enum class TimeField : std::uint8_t { kFirstPushed, kLastPushed, kFirstPulled, kLastPulled };

struct CounterField {
  Counter counter;
  std::string_view name;     // the field name in every store, JSON answer and CSV column
  std::string_view meaning;  // one line, shown in the OpenAPI document
};

struct TimeFieldSpec {
  TimeField field;
  std::string_view name;
  Fold fold;
  std::string_view meaning;
};

// docs/counting.md states each rule in full; these lines are its summary.
inline constexpr std::array<CounterField, 7> kCounterFields{{
    {Counter::kPulls, "numpulls",
     "GETs of an image manifest (not an index): one per platform fetched"},
    {Counter::kPushes, "numpushs", "pushes of a manifest with a tag (the original's spelling)"},
    {Counter::kChecks, "numchecks", "HEAD requests for a manifest: version checks, never pulls"},
    {Counter::kIndexPulls, "numindexpulls", "GETs of an index or manifest list"},
    {Counter::kDeletes, "numdeletes", "deletes of a manifest known to the repository"},
    {Counter::kAttachmentPushes, "numattachmentpushes",
     "pushes of a signature, SBOM or attestation (a tag sha256-<hex>[.sig|.att|.sbom])"},
    {Counter::kAttachmentPulls, "numattachmentpulls",
     "GETs of a signature, SBOM or attestation by its tag: verifications, never image pulls"},
}};

inline constexpr std::array<TimeFieldSpec, 4> kTimeFields{{
    {TimeField::kFirstPushed, "firstpushed", Fold::kEarliest, "time of the earliest counted push"},
    {TimeField::kLastPushed, "lastpushed", Fold::kLatest, "time of the latest counted push"},
    {TimeField::kFirstPulled, "firstpulled", Fold::kEarliest,
     "time of the earliest image or index GET"},
    {TimeField::kLastPulled, "lastpulled", Fold::kLatest, "time of the latest image or index GET"},
}};

inline constexpr std::size_t kCounterCount = kCounterFields.size();
inline constexpr std::size_t kTimeFieldCount = kTimeFields.size();

// The tables list their enumerators in order, so an enumerator indexes its entry.
constexpr bool TablesInEnumOrder() {
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    if (static_cast<std::size_t>(kCounterFields[i].counter) != i) return false;
  }
  for (std::size_t i = 0; i < kTimeFieldCount; ++i) {
    if (static_cast<std::size_t>(kTimeFields[i].field) != i) return false;
  }
  return true;
}
static_assert(TablesInEnumOrder(), "kCounterFields and kTimeFields must follow their enums");

// The counter named `name`, or nullopt: how a sort parameter or a stored field finds its entry.
constexpr std::optional<Counter> CounterNamed(std::string_view name) {
  for (const auto& f : kCounterFields) {
    if (f.name == name) return f.counter;
  }
  return std::nullopt;
}
constexpr std::optional<TimeField> TimeFieldNamed(std::string_view name) {
  for (const auto& f : kTimeFields) {
    if (f.name == name) return f.field;
  }
  return std::nullopt;
}
constexpr std::string_view NameOf(Counter c) { return kCounterFields[static_cast<size_t>(c)].name; }
constexpr std::string_view NameOf(TimeField t) { return kTimeFields[static_cast<size_t>(t)].name; }

// One value per counter: the counts of a record, of a delta, or of a window of days.
class CounterValues {
 public:
  std::int64_t& operator[](Counter c) { return values_[static_cast<std::size_t>(c)]; }
  std::int64_t operator[](Counter c) const { return values_[static_cast<std::size_t>(c)]; }
  // Positional access, in kCounterFields order, for code that walks the table.
  std::int64_t& at(std::size_t i) { return values_.at(i); }
  std::int64_t at(std::size_t i) const { return values_.at(i); }
  CounterValues& operator+=(const CounterValues& other) {
    for (std::size_t i = 0; i < kCounterCount; ++i) values_[i] += other.values_[i];
    return *this;
  }
  bool operator==(const CounterValues&) const = default;

 private:
  std::array<std::int64_t, kCounterCount> values_{};
};

// One optional time per time field; unset until the first event that sets it.
class TimeValues {
 public:
  std::optional<UnixMillis>& operator[](TimeField f) { return values_[static_cast<size_t>(f)]; }
  const std::optional<UnixMillis>& operator[](TimeField f) const {
    return values_[static_cast<size_t>(f)];
  }
  std::optional<UnixMillis>& at(std::size_t i) { return values_.at(i); }
  const std::optional<UnixMillis>& at(std::size_t i) const { return values_.at(i); }
  // Folds each field with its own rule (min for first*, max for last*).
  TimeValues& operator+=(const TimeValues& other) {
    for (std::size_t i = 0; i < kTimeFieldCount; ++i) {
      values_[i] = kTimeFields[i].fold == Fold::kEarliest ? Earliest(values_[i], other.values_[i])
                                                          : Latest(values_[i], other.values_[i]);
    }
    return *this;
  }
  bool operator==(const TimeValues&) const = default;

 private:
  std::array<std::optional<UnixMillis>, kTimeFieldCount> values_{};
};

// The counters and time bounds of one record, or what one event adds to a record: the same
// shape, folded the same way (counters add, times fold).
struct Tally {
  CounterValues counts;
  TimeValues times;

  Tally& operator+=(const Tally& other) {
    counts += other.counts;
    times += other.times;
    return *this;
  }
  bool operator==(const Tally&) const = default;
  // Marks a push at `t`.
  void Pushed(UnixMillis t) { times[TimeField::kFirstPushed] = times[TimeField::kLastPushed] = t; }
  // Marks a pull at `t`.
  void Pulled(UnixMillis t) { times[TimeField::kFirstPulled] = times[TimeField::kLastPulled] = t; }
};

}  // namespace drec
