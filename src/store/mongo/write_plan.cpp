#include "store/mongo/write_plan.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <tuple>
#include <variant>

#include "store/known_manifests.h"

namespace drec::mongo {
namespace {

constexpr std::size_t kMaxRepositoryActors = 100;

// Every repository update of a batch, merged: one $inc instead of one per event.
struct RepositoryFold {
  std::string repository;
  Delta delta;
  std::vector<std::string> actors;           // distinct, in first-seen order
  std::optional<UnixMillis> observed_since;  // the earliest of the merged updates
  WindowCounters window{};                   // the merged days' counts in the rolling window
  // False while only days of the repository were merged: their window counts change the
  // document without creating it, as SQLite's UPDATE does.
  bool create = true;
};

// Every pull by one digest of a batch, merged, with the digests whose tags it reaches: the
// digest itself and the indexes known to list it at that point of the batch.
struct TagsFold {
  std::string repository;
  std::vector<std::string> digests;
  Delta delta;
};

using Step = std::variant<RepositoryFold, TagUpdate, TagsFold, TagPointsAt, DigestUpdate,
                          DigestParent, ActorUpdate, DayUpdate, ClassUpdate, DigestDeleted,
                          TagDeleted, RepositoryDeleted, RepositoryRemoved>;

// Turns operations into steps, merging an operation into an earlier step of the same document
// when nothing between them could tell the difference. Counter folds commute with each other
// and with every other operation of their document except the repository-wide ones
// (RepositoryDeleted marks what exists, RepositoryRemoved deletes it); merged pulls by digest
// must not move past anything that changes which tags they reach.
class Coalescer {
 public:
  explicit Coalescer(StoredState stored)
      : parents_(std::move(stored.parents)),
        days_(std::move(stored.days)),
        window_from_(std::move(stored.window_from)) {}

  const std::vector<Step>& steps() const { return steps_; }
  // The change of each day's all-repository totals: sums commute with everything, so one
  // $inc per day covers the whole batch.
  const std::map<std::string, WindowCounters>& totals() const { return totals_; }
  // Days whose totals document a DayUpdate creates when missing.
  const std::set<std::string>& days_updated() const { return days_updated_; }

  void Add(const RepositoryUpdate& op) {
    auto& fold = Fold(op.repository, kRepositoryKind, "", NewFold(op.repository, true));
    fold.create = true;
    fold.delta += op.delta;
    fold.observed_since = Earliest(fold.observed_since, op.observed_since);
    if (!op.actor.empty() && fold.actors.size() < kMaxRepositoryActors &&
        std::find(fold.actors.begin(), fold.actors.end(), op.actor) == fold.actors.end()) {
      fold.actors.push_back(op.actor);
    }
  }

  void Add(const TagUpdate& op) {
    Fold(op.repository, kTagKind, op.tag, TagUpdate{op.repository, op.tag, {}}).delta += op.delta;
  }

  void Add(const TagsByDigestUpdate& op) {
    std::vector<std::string> digests = {op.digest};
    const auto parents = parents_.find({op.repository, op.digest});
    if (parents != parents_.end()) {
      digests.insert(digests.end(), parents->second.begin(), parents->second.end());
    }
    Fold(op.repository, kTagsKind, op.digest, TagsFold{op.repository, std::move(digests), {}})
        .delta += op.delta;
  }

  void Add(const TagPointsAt& op) { Barrier(op.repository, kTagsKind, op); }
  void Add(const TagDeleted& op) { Barrier(op.repository, kTagsKind, op); }

  void Add(const DigestDeleted& op) {
    // Whether a digest update revives the digest depends on the deletes before it.
    open_.erase(Key{op.repository, kDigestKind, op.digest});
    Barrier(op.repository, kTagsKind, op);
  }

  void Add(const DigestParent& op) {
    // A known link changes nothing: writing it again would only cut merges for nothing.
    if (!parents_[{op.repository, op.child}].insert(op.parent).second) return;
    Barrier(op.repository, kTagsKind, op);
  }

  void Add(const DigestUpdate& op) {
    auto& fold = Fold(op.repository, kDigestKind, op.digest,
                      DigestUpdate{op.repository, op.digest, "", 0, {}});
    fold.delta += op.delta;
    if (!op.media_type.empty()) fold.media_type = op.media_type;
    if (op.size != 0) fold.size = op.size;
  }

  void Add(const ActorUpdate& op) {
    auto& fold =
        Fold(op.repository, kActorKind, op.actor, ActorUpdate{op.repository, op.actor, {}, {}, {}});
    fold.delta += op.delta;
    fold.firstseen = Earliest(fold.firstseen, op.firstseen);
    fold.lastseen = Latest(fold.lastseen, op.lastseen);
  }

  void Add(const DayUpdate& op) {
    Fold(op.repository, kDayKind, op.day, DayUpdate{op.repository, op.day, {}}).delta += op.delta;
    AddCounts(days_[op.repository][op.day], op.delta, 1);
    AddCounts(totals_[op.day], op.delta, 1);
    days_updated_.insert(op.day);
    // In the window from its first day on, future days too (a window has no end). The counts
    // ride in the repository's update: it commutes with everything its fold does.
    if (window_from_ && op.day >= *window_from_ && op.delta.counts != WindowCounters{}) {
      AddCounts(Fold(op.repository, kRepositoryKind, "", NewFold(op.repository, false)).window,
                op.delta, 1);
    }
  }

  void Add(const ClassUpdate& op) {
    // Tags cannot hold a NUL, nor can class names or days: the three make one key.
    std::string key = op.cls;
    key.append(1, '\0').append(op.tag).append(1, '\0').append(op.day);
    Fold(op.repository, kClassKind, key, ClassUpdate{op.repository, op.cls, op.tag, op.day, {}})
        .delta += op.delta;
  }

  void Add(const RepositoryDeleted& op) { Barrier(op.repository, std::nullopt, op); }

  void Add(const RepositoryRemoved& op) {
    // Forgotten statistics leave the totals; the links go with the repository, and only those
    // written later in the batch count again.
    for (const auto& [day, counts] : days_[op.repository]) AddCounts(totals_[day], counts, -1);
    days_.erase(op.repository);
    const auto first = parents_.lower_bound({op.repository, ""});
    auto last = first;
    while (last != parents_.end() && last->first.first == op.repository) ++last;
    parents_.erase(first, last);
    Barrier(op.repository, std::nullopt, op);
  }

 private:
  enum Kind {
    kRepositoryKind,
    kTagKind,
    kTagsKind,
    kDigestKind,
    kActorKind,
    kDayKind,
    kClassKind,
    kKinds
  };
  using Key = std::tuple<std::string, int, std::string>;  // repository, kind, document key

  // The open step of that document, created from `initial` when there is none.
  template <typename S>
  S& Fold(const std::string& repository, Kind kind, const std::string& key, S initial) {
    const auto [entry, created] = open_.try_emplace(Key{repository, kind, key}, steps_.size());
    if (created) steps_.emplace_back(std::move(initial));
    return std::get<S>(steps_[entry->second]);
  }

  // Appends a step that later steps of `kind` (every kind when nullopt) must not merge across.
  template <typename Op>
  void Barrier(const std::string& repository, std::optional<Kind> kind, const Op& op) {
    const int first = kind ? *kind : 0;
    const int last = kind ? *kind + 1 : kKinds;
    open_.erase(open_.lower_bound(Key{repository, first, ""}),
                open_.lower_bound(Key{repository, last, ""}));
    steps_.emplace_back(op);
  }

  static RepositoryFold NewFold(const std::string& repository, bool create) {
    RepositoryFold fold;
    fold.repository = repository;
    fold.create = create;
    return fold;
  }

  static void AddCounts(WindowCounters& to, const Delta& d, int sign) {
    AddCounts(to, d.counts, sign);
  }

  static void AddCounts(WindowCounters& to, const WindowCounters& c, int sign) {
    for (std::size_t i = 0; i < kCounterCount; ++i) to.at(i) += sign * c.at(i);
  }

  std::vector<Step> steps_;
  std::map<Key, std::size_t> open_;
  // Index links as of the current operation (stored ones only for the digests pulled by digest).
  std::map<std::pair<std::string, std::string>, std::set<std::string>> parents_;
  // Per-day counters as of the current operation (stored ones only for removed repositories).
  std::map<std::string, std::map<std::string, WindowCounters>> days_;
  std::map<std::string, WindowCounters> totals_;
  std::set<std::string> days_updated_;
  const std::optional<std::string> window_from_;
};

// A query filter under construction.
class Filter {
 public:
  template <typename T>
  Filter& Eq(std::string_view field, const T& value) {
    Append(doc_.get(), field, value);
    return *this;
  }

  Filter& In(std::string_view field, const std::vector<std::string>& values) {
    AppendDocument(doc_.get(), field, [&](bson_t* c) { Append(c, "$in", values); });
    return *this;
  }

  Filter& Ne(std::string_view field, std::string_view value) {
    AppendDocument(doc_.get(), field, [&](bson_t* c) { Append(c, "$ne", value); });
    return *this;
  }

  Filter& Absent(std::string_view field) {
    AppendDocument(doc_.get(), field, [&](bson_t* c) { Append(c, "$exists", false); });
    return *this;
  }

  // Unset, or not later than `t`: how SQL's `x IS NULL OR x <= t` reads here.
  Filter& UnsetOrNotAfter(std::string_view field, UnixMillis t) { return Not(field, "$gt", t); }

  // Unset, or earlier than `t`.
  Filter& UnsetOrBefore(std::string_view field, UnixMillis t) { return Not(field, "$gte", t); }

  // Set, and earlier than `t`.
  Filter& SetAndBefore(std::string_view field, UnixMillis t) {
    AppendDocument(doc_.get(), field, [&](bson_t* c) { Append(c, "$lt", Date{t}); });
    return *this;
  }

  const bson_t* get() const { return doc_.get(); }

 private:
  Filter& Not(std::string_view field, std::string_view op, UnixMillis t) {
    AppendDocument(doc_.get(), field, [&](bson_t* c) {
      AppendDocument(c, "$not", [&](bson_t* n) { Append(n, op, Date{t}); });
    });
    return *this;
  }

  Bson doc_;
};

// An operator update under construction: never a replacement, so fields of other tools survive.
class Update {
 public:
  Update& Inc(std::string_view field, std::int64_t value) {
    if (value != 0) Append(inc_.get(), field, value);
    return *this;
  }

  Update& Min(std::string_view field, std::optional<UnixMillis> t) {
    if (t) Append(min_.get(), field, Date{*t});
    return *this;
  }

  Update& Max(std::string_view field, std::optional<UnixMillis> t) {
    if (t) Append(max_.get(), field, Date{*t});
    return *this;
  }

  template <typename T>
  Update& Set(std::string_view field, const T& value) {
    Append(set_.get(), field, value);
    return *this;
  }

  template <typename T>
  Update& SetOnInsert(std::string_view field, const T& value) {
    Append(set_on_insert_.get(), field, value);
    return *this;
  }

  Update& Push(std::string_view field, std::string_view value) {
    Append(push_.get(), field, value);
    return *this;
  }

  // Counters add up; first* take the minimum and last* the maximum, so order does not matter.
  Update& Fold(const Delta& d) {
    Add(d.counts);
    for (std::size_t i = 0; i < kTimeFieldCount; ++i) {
      const auto& field = kTimeFields[i];
      if (field.fold == drec::Fold::kEarliest) {
        Min(field.name, d.times.at(i));
      } else {
        Max(field.name, d.times.at(i));
      }
    }
    return *this;
  }

  Update& Add(const WindowCounters& c) {
    for (std::size_t i = 0; i < kCounterCount; ++i) Inc(kCounterFields[i].name, c.at(i));
    return *this;
  }

  Update& AddWindow(const WindowCounters& c) {
    for (std::size_t i = 0; i < kCounterCount; ++i)
      Inc(WindowField(kCounterFields[i].counter), c.at(i));
    return *this;
  }

  // What a new document starts with, so readers find every counter.
  Update& ZeroCounters() {
    for (const auto& field : kCounterFields) SetOnInsert(field.name, std::int64_t{0});
    return *this;
  }

  // A new repository's window is empty: sorting by it finds every repository.
  Update& ZeroWindow() {
    for (const auto& field : kCounterFields)
      SetOnInsert(WindowField(field.counter), std::int64_t{0});
    return *this;
  }

  void AppendTo(bson_t* update) const {
    const std::pair<const char*, const Bson*> operators[] = {
        {"$inc", &inc_}, {"$min", &min_},   {"$max", &max_},
        {"$set", &set_}, {"$push", &push_}, {"$setOnInsert", &set_on_insert_}};
    for (const auto& [name, doc] : operators) {
      if (!bson_empty(doc->get())) Append(update, name, doc->get());
    }
  }

 private:
  Bson inc_, min_, max_, set_, push_, set_on_insert_;
};

// The journal's array of writes. Each write's index is also its guard: a document that a write
// changed carries lastop {batch, n}, and a write filters on "not changed by this batch at or
// after me", so replaying a journal skips what already happened and a document's writes happen
// in journal order. Documents a batch creates start without lastop, so upserts need no guard.
class Writes {
 public:
  Writes(bson_t* array, const bson_oid_t& batch) : array_(array), batch_(batch) {}

  // Creates the document matching `key` with the defaults of `update` unless it exists; changes
  // nothing otherwise, so repeating it is harmless and it needs no guard (a guarded upsert
  // would try to insert a duplicate when the guard rejects the existing document).
  void Ensure(std::string_view target, const Filter& key, Update& update) {
    Add(target, key, &update, /*upsert=*/true, /*multi=*/false, /*guarded=*/false);
  }

  // Applies `update` to the documents matching `filter` that this batch has not changed yet.
  void Change(std::string_view target, const Filter& filter, Update& update, bool multi = false) {
    Add(target, filter, &update, /*upsert=*/false, multi, /*guarded=*/true);
  }

  // Deletes what matches; repeating it is harmless, and the writes after it in the journal
  // recreate what they created the first time.
  void Remove(std::string_view target, const Filter& filter) {
    Add(target, filter, nullptr, false, true, false);
  }

 private:
  void Add(std::string_view target, const Filter& filter, Update* update, bool upsert, bool multi,
           bool guarded) {
    char buffer[16];
    const char* key = nullptr;
    const std::size_t length = bson_uint32_to_string(n_, &key, buffer, sizeof buffer);
    AppendDocument(array_, std::string_view(key, length), [&](bson_t* write) {
      Append(write, "coll", target);
      Bson full_filter;
      bson_concat(full_filter.get(), filter.get());
      if (guarded) AppendGuard(full_filter.get());
      AppendRaw(write, "filter", full_filter.get());
      if (update == nullptr) {
        Append(write, "remove", true);
        return;
      }
      if (guarded) {
        Bson lastop;
        Append(lastop.get(), "batch", batch_);
        Append(lastop.get(), "n", std::int64_t{n_});
        update->Set("lastop", lastop.get());
      }
      Bson operators;
      update->AppendTo(operators.get());
      AppendRaw(write, "update", operators.get());
      Append(write, "upsert", upsert);
      Append(write, "multi", multi);
    });
    ++n_;
  }

  // Filters and updates are kept as raw BSON: their operator keys ($inc, $or) are not allowed
  // as field names of a stored document.
  static void AppendRaw(bson_t* doc, const char* key, const bson_t* value) {
    bson_append_binary(doc, key, -1, BSON_SUBTYPE_BINARY, bson_get_data(value), value->len);
  }

  void AppendGuard(bson_t* filter) const {
    bson_t any;
    bson_append_array_begin(filter, "$or", 3, &any);
    AppendDocument(&any, "0", [&](bson_t* c) {
      AppendDocument(c, "lastop.batch", [&](bson_t* ne) { Append(ne, "$ne", batch_); });
    });
    AppendDocument(&any, "1", [&](bson_t* c) {
      AppendDocument(c, "lastop.n", [&](bson_t* lt) { Append(lt, "$lt", std::int64_t{n_}); });
    });
    bson_append_array_end(filter, &any);
  }

  bson_t* array_;
  const bson_oid_t& batch_;
  std::uint32_t n_ = 0;
};

Filter RepositoryKey(const std::string& repository) {
  Filter f;
  f.Eq("repositoryname", repository);
  return f;
}

Filter Key(const std::string& repository, const char* field, const std::string& value) {
  Filter f;
  f.Eq("repository", repository).Eq(field, value);
  return f;
}

Filter OfRepository(const std::string& repository) {
  Filter f;
  f.Eq("repository", repository);
  return f;
}

void EnsureTag(Writes& w, const std::string& repository, const std::string& tag) {
  w.Ensure("tags", Key(repository, "tag", tag),
           Update().ZeroCounters().SetOnInsert("deleted", false));
}

void EnsureDigest(Writes& w, const std::string& repository, const std::string& digest) {
  w.Ensure("digests", Key(repository, "digest", digest),
           Update().ZeroCounters().SetOnInsert("deleted", false));
}

void Emit(Writes& w, const RepositoryFold& s) {
  if (s.create) {
    w.Ensure("repositories", RepositoryKey(s.repository),
             Update()
                 .ZeroCounters()
                 .ZeroWindow()
                 .SetOnInsert("actors", std::vector<std::string>())
                 .SetOnInsert("numstars", std::int64_t{0}));
  }
  w.Change("repositories", RepositoryKey(s.repository),
           Update().Fold(s.delta).AddWindow(s.window).Min("observedsince", s.observed_since));
  for (const std::string& actor : s.actors) {
    // Distinct and at most 100: appended only while absent and while the list has room.
    w.Change("repositories", RepositoryKey(s.repository).Ne("actors", actor).Absent("actors.99"),
             Update().Push("actors", actor));
  }
}

void Emit(Writes& w, const TagUpdate& s) {
  EnsureTag(w, s.repository, s.tag);
  w.Change("tags", Key(s.repository, "tag", s.tag), Update().Fold(s.delta));
}

void Emit(Writes& w, const TagsFold& s) {
  w.Change("tags", OfRepository(s.repository).Eq("deleted", false).In("digest", s.digests),
           Update().Fold(s.delta), /*multi=*/true);
}

void Emit(Writes& w, const TagPointsAt& s) {
  EnsureTag(w, s.repository, s.tag);
  // Whether a tag names an attachment follows from its name, so any statement may set it.
  if (s.attachment)
    w.Change("tags", Key(s.repository, "tag", s.tag), Update().Set("attachment", true));
  // The newest statement wins; it revives the tag only when newer than its last delete.
  w.Change("tags", Key(s.repository, "tag", s.tag).UnsetOrNotAfter("digest_at", s.at),
           Update().Set("digest", s.digest).Set("digest_at", Date{s.at}));
  w.Change("tags", Key(s.repository, "tag", s.tag).UnsetOrBefore("deleted_at", s.at),
           Update().Set("deleted", false));
}

void Emit(Writes& w, const DigestUpdate& s) {
  EnsureDigest(w, s.repository, s.digest);
  if (const auto pushed = s.delta.times[TimeField::kLastPushed]) {
    // A push newer than the digest's delete brings the digest back, whichever arrived first.
    w.Change("digests", Key(s.repository, "digest", s.digest).SetAndBefore("deleted_at", *pushed),
             Update().Set("deleted", false));
  }
  Update update;
  update.Fold(s.delta);
  // What is known is set; deletes and mounts carry no media type or size and keep the old ones.
  if (!s.media_type.empty()) update.Set("media_type", s.media_type);
  if (s.size != 0) update.Set("size", s.size);
  w.Change("digests", Key(s.repository, "digest", s.digest), update);
}

void Emit(Writes& w, const DigestParent& s) {
  w.Ensure("digestparents", Key(s.repository, "child", s.child).Eq("parent", s.parent),
           Update().SetOnInsert("parent", s.parent));
}

void Emit(Writes& w, const ActorUpdate& s) {
  w.Ensure("actors", Key(s.repository, "actor", s.actor), Update().ZeroCounters());
  w.Change("actors", Key(s.repository, "actor", s.actor),
           Update().Fold(s.delta).Min("firstseen", s.firstseen).Max("lastseen", s.lastseen));
}

void Emit(Writes& w, const DayUpdate& s) {
  w.Ensure("days", Key(s.repository, "day", s.day), Update().ZeroCounters());
  w.Change("days", Key(s.repository, "day", s.day), Update().Fold(s.delta));
}

void Emit(Writes& w, const ClassUpdate& s) {
  Filter key = Key(s.repository, "class", s.cls);
  key.Eq("tag", s.tag).Eq("day", s.day);
  w.Ensure("classes", key, Update().ZeroCounters());
  w.Change("classes", key, Update().Fold(s.delta));
}

void Emit(Writes& w, const DigestDeleted& s) {
  EnsureDigest(w, s.repository, s.digest);
  // A delete older than the digest's last push does not stand.
  w.Change(
      "digests",
      Key(s.repository, "digest", s.digest).UnsetOrNotAfter(NameOf(TimeField::kLastPushed), s.at),
      Update().Set("deleted", true));
  w.Change("digests", Key(s.repository, "digest", s.digest), Update().Max("deleted_at", s.at));
  // A tag re-pointed after the delete keeps its new digest and stays live.
  w.Change("tags", Key(s.repository, "digest", s.digest).UnsetOrNotAfter("digest_at", s.at),
           Update().Set("deleted", true).Max("deleted_at", s.at), /*multi=*/true);
}

void Emit(Writes& w, const TagDeleted& s) {
  EnsureTag(w, s.repository, s.tag);
  w.Change("tags", Key(s.repository, "tag", s.tag), Update().Max("deleted_at", s.at));
  w.Change("tags", Key(s.repository, "tag", s.tag).UnsetOrNotAfter("digest_at", s.at),
           Update().Set("deleted", true));
}

void Emit(Writes& w, const RepositoryDeleted& s) {
  // Same rule as a tag delete, so a push newer than the repository delete survives it.
  w.Change("tags", OfRepository(s.repository), Update().Max("deleted_at", s.at), true);
  w.Change("tags", OfRepository(s.repository).UnsetOrNotAfter("digest_at", s.at),
           Update().Set("deleted", true), true);
  w.Change("digests", OfRepository(s.repository),
           Update().Set("deleted", true).Max("deleted_at", s.at), true);
}

void Emit(Writes& w, const RepositoryRemoved& s) {
  w.Remove("repositories", RepositoryKey(s.repository));
  for (const char* target : {"tags", "digests", "digestparents", "actors", "days", "classes"}) {
    w.Remove(target, OfRepository(s.repository));
  }
}

}  // namespace

std::string WindowField(Counter counter) { return "window_" + std::string(NameOf(counter)); }

std::set<std::pair<std::string, std::string>> ManifestsRequired(
    std::span<const EventEffect* const> effects) {
  std::set<std::pair<std::string, std::string>> manifests;
  for (const EventEffect* effect : effects) {
    if (const auto& m = effect->requires_manifest) manifests.emplace(m->repository, m->digest);
  }
  return manifests;
}

std::set<std::string> RepositoriesRemoved(std::span<const EventEffect* const> effects) {
  std::set<std::string> repositories;
  for (const EventEffect* effect : effects) {
    for (const Operation& operation : effect->operations) {
      if (const auto* op = std::get_if<RepositoryRemoved>(&operation)) {
        repositories.insert(op->repository);
      }
    }
  }
  return repositories;
}

std::set<std::pair<std::string, std::string>> DigestsPulledByDigest(
    std::span<const EventEffect* const> effects) {
  std::set<std::pair<std::string, std::string>> digests;
  for (const EventEffect* effect : effects) {
    for (const Operation& operation : effect->operations) {
      if (const auto* op = std::get_if<TagsByDigestUpdate>(&operation)) {
        digests.emplace(op->repository, op->digest);
      }
    }
  }
  return digests;
}

Bson BuildJournal(const bson_oid_t& batch, UnixMillis now,
                  std::span<const EventEffect* const> effects, StoredState stored,
                  std::int64_t* unknown_manifests) {
  KnownManifests manifests(std::move(stored.manifests));
  Coalescer coalescer(std::move(stored));
  std::vector<std::string> ids;
  std::int64_t unknown = 0;
  for (const EventEffect* effect : effects) {
    ids.push_back(effect->event_id);
    if (!manifests.Allows(*effect)) {
      ++unknown;
      continue;
    }
    for (const Operation& operation : effect->operations) {
      manifests.Observe(operation);
      std::visit([&](const auto& op) { coalescer.Add(op); }, operation);
    }
  }
  if (unknown_manifests != nullptr) *unknown_manifests = unknown;
  Bson journal;
  Append(journal.get(), "_id", batch);
  Append(journal.get(), "created_at", Date{now});
  Append(journal.get(), "events", ids);
  bson_t array;
  bson_append_array_begin(journal.get(), "writes", 6, &array);
  Writes writes(&array, batch);
  for (const Step& step : coalescer.steps()) {
    std::visit([&](const auto& s) { Emit(writes, s); }, step);
  }
  for (const auto& [day, counts] : coalescer.totals()) {
    Filter key;
    key.Eq("day", day);
    if (coalescer.days_updated().contains(day)) {
      writes.Ensure("totaldays", key, Update().ZeroCounters());
    }
    writes.Change("totaldays", key, Update().Add(counts));
  }
  bson_append_array_end(journal.get(), &array);
  return journal;
}

}  // namespace drec::mongo
