// The MongoDB store's write side: batches journaled and applied exactly once without
// transactions (docs/mongodb.md), crash recovery, and event-id pruning.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>
#include <utility>

#include "store/mongo/mongo_documents.h"
#include "store/mongo/mongo_driver.h"
#include "store/mongo/mongo_store.h"
#include "store/mongo/write_plan.h"
#include "store/mongo/writer_lease.h"

namespace drec {
namespace {

using mongo::Append;
using mongo::AppendDocument;
using mongo::Bson;
using mongo::BulkPtr;
using mongo::Client;
using mongo::CollectionPtr;
using mongo::CursorPtr;
using mongo::Date;
using mongo::ReadCounters;
using mongo::SortedBy;
using mongo::ToStatus;

Status Injected() { return Status::Unavailable("mongodb: injected fault"); }

// The _id of the journal's one document: the batch being applied, or only the sequence number of
// the last one once it is finished.
constexpr std::string_view kJournalSlot = "batch";

// At most this many digests' index links are cached (a few MB); beyond, the cache starts over.
constexpr std::size_t kMaxCachedDigests = 100'000;

// Calls `each` with every document of `collection` whose (repository, `field`) is one of `keys`;
// `narrow` adds conditions to each repository's clause.
template <typename NarrowFn, typename EachFn>
Status FindKeys(CollectionPtr collection, const std::set<std::pair<std::string, std::string>>& keys,
                std::string_view field, NarrowFn narrow, std::string_view what, EachFn each) {
  if (keys.empty()) return Status::Ok();
  std::map<std::string, std::vector<std::string>> by_repository;
  for (const auto& [repository, value] : keys) by_repository[repository].push_back(value);
  Bson filter;
  bson_t any;
  bson_append_array_begin(filter.get(), "$or", 3, &any);
  std::uint32_t i = 0;
  for (const auto& entry : by_repository) {
    AppendDocument(&any, std::to_string(i++), [&](bson_t* clause) {
      Append(clause, "repository", entry.first);
      AppendDocument(clause, field, [&](bson_t* in) { Append(in, "$in", entry.second); });
      narrow(clause);
    });
  }
  bson_append_array_end(filter.get(), &any);
  CursorPtr cursor(
      mongoc_collection_find_with_opts(collection.get(), filter.get(), nullptr, nullptr));
  return mongo::ForEach(cursor.get(), what, each);
}

// Half MongoDB's 16 MiB document limit leaves room for the command around the journal; a larger
// batch is split into several journals, applied one after the other.
constexpr std::uint32_t kMaxJournalBytes = 8u << 20;

// Sends the writes added to it in as few round trips as the server takes: one, or one per
// `limit` writes when the server needs smaller requests.
class BulkWrite {
 public:
  // `upserted`, when given, receives the string _ids of the documents its upserts inserted.
  BulkWrite(mongoc_collection_t* collection, bool ordered, std::size_t limit, std::string context,
            std::unordered_set<std::string>* upserted = nullptr)
      : collection_(collection),
        ordered_(ordered),
        limit_(limit),
        context_(std::move(context)),
        upserted_(upserted) {}

  Status Update(const bson_t* filter, const bson_t* update, bool upsert, bool multi) {
    Bson opts;
    Append(opts.get(), "upsert", upsert);
    bson_error_t error;
    const bool ok = multi ? mongoc_bulk_operation_update_many_with_opts(Bulk(), filter, update,
                                                                        opts.get(), &error)
                          : mongoc_bulk_operation_update_one_with_opts(Bulk(), filter, update,
                                                                       opts.get(), &error);
    if (!ok) return ToStatus(error, "adding an update");
    return Added();
  }

  Status Remove(const bson_t* filter) {
    bson_error_t error;
    if (!mongoc_bulk_operation_remove_many_with_opts(Bulk(), filter, nullptr, &error)) {
      return ToStatus(error, "adding a delete");
    }
    return Added();
  }

  Status Send() {
    if (count_ == 0) return Status::Ok();
    bson_t reply;
    bson_error_t error;
    const bool ok = mongoc_bulk_operation_execute(bulk_.get(), &reply, &error) != 0;
    bson_iter_t iter;
    bson_iter_t upserts;
    if (ok && upserted_ != nullptr && bson_iter_init_find(&iter, &reply, "upserted") &&
        BSON_ITER_HOLDS_ARRAY(&iter) && bson_iter_recurse(&iter, &upserts)) {
      while (bson_iter_next(&upserts)) {
        bson_t entry;
        if (BSON_ITER_HOLDS_DOCUMENT(&upserts)) {
          std::uint32_t length = 0;
          const std::uint8_t* data = nullptr;
          bson_iter_document(&upserts, &length, &data);
          if (bson_init_static(&entry, data, length)) {
            upserted_->insert(mongo::StringField(&entry, "_id"));
          }
        }
      }
    }
    bson_destroy(&reply);
    bulk_.reset();
    count_ = 0;
    return ok ? Status::Ok() : ToStatus(error, context_);
  }

 private:
  mongoc_bulk_operation_t* Bulk() {
    if (bulk_ == nullptr) {
      Bson opts;
      Append(opts.get(), "ordered", ordered_);
      bulk_.reset(mongoc_collection_create_bulk_operation_with_opts(collection_, opts.get()));
    }
    return bulk_.get();
  }

  Status Added() {
    ++count_;
    return limit_ != 0 && count_ >= limit_ ? Send() : Status::Ok();
  }

  mongoc_collection_t* collection_;
  const bool ordered_;
  const std::size_t limit_;
  const std::string context_;
  std::unordered_set<std::string>* const upserted_;
  BulkPtr bulk_;
  std::size_t count_ = 0;
};

// One write of a journal, pointing into the journal's buffer.
// The documents first: bson_t is 128-byte aligned, and this order pads least.
struct JournalWrite {
  bson_t filter;
  bson_t update;
  std::string_view coll;
  bool remove = false;
  bool upsert = false;
  bool multi = false;
};

bool StaticDocument(const bson_iter_t* iter, bson_t* doc) {
  std::uint32_t length = 0;
  const std::uint8_t* data = nullptr;
  if (BSON_ITER_HOLDS_DOCUMENT(iter)) {
    bson_iter_document(iter, &length, &data);
  } else if (BSON_ITER_HOLDS_BINARY(iter)) {
    bson_subtype_t subtype;
    bson_iter_binary(iter, &subtype, &length, &data);
  } else {
    return false;
  }
  return bson_init_static(doc, data, length);
}

bool ParseWrite(const bson_iter_t* element, JournalWrite* write) {
  bson_t doc;
  bson_iter_t field;
  if (!StaticDocument(element, &doc) || !bson_iter_init(&field, &doc)) return false;
  bool has_filter = false;
  bool has_update = false;
  while (bson_iter_next(&field)) {
    const std::string_view key = bson_iter_key(&field);
    if (key == "coll" && BSON_ITER_HOLDS_UTF8(&field)) {
      std::uint32_t length = 0;
      const char* coll = bson_iter_utf8(&field, &length);
      write->coll = std::string_view(coll, length);
    } else if (key == "filter") {
      has_filter = StaticDocument(&field, &write->filter);
    } else if (key == "update") {
      has_update = StaticDocument(&field, &write->update);
    } else if (key == "remove") {
      write->remove = bson_iter_as_bool(&field);
    } else if (key == "upsert") {
      write->upsert = bson_iter_as_bool(&field);
    } else if (key == "multi") {
      write->multi = bson_iter_as_bool(&field);
    }
  }
  return !write->coll.empty() && has_filter && (write->remove || has_update);
}
}  // namespace

bool MongoStore::Spend() {
  if (fault_budget_ == 0) return false;
  if (fault_budget_ > 0) --fault_budget_;
  ++writes_;
  return true;
}

Status MongoStore::Recover(Client& client) {
  CollectionPtr journal = client.Collection(database_, CollectionName("journal"));
  Bson filter;
  Bson opts = SortedBy("_id");
  CursorPtr cursor(
      mongoc_collection_find_with_opts(journal.get(), filter.get(), opts.get(), nullptr));
  std::vector<Bson> pending;
  Status status = mongo::ForEach(cursor.get(), "reading the journal",
                                 [&](const bson_t* doc) { pending.emplace_back(bson_copy(doc)); });
  if (!status.ok()) return status;
  std::int64_t slot_seq = 0;
  std::size_t replayed = 0;
  // Journals of the release before the journal slot (an ObjectId _id each) first: they are
  // older than any slot.
  for (const Bson& entry : pending) {
    bson_iter_t id;
    if (!bson_iter_init_find(&id, entry.get(), "_id") || !BSON_ITER_HOLDS_OID(&id)) continue;
    status = lease_->Held(holding_);
    if (!status.ok()) return status;
    status = Execute(client, entry.get(), /*legacy=*/true);
    if (!status.ok()) return status;
    ++replayed;
  }
  for (const Bson& entry : pending) {
    if (mongo::StringField(entry.get(), "_id") != kJournalSlot) continue;
    slot_seq = mongo::Int64Field(entry.get(), "seq");
    bson_iter_t iter;
    bson_t batch;
    if (!bson_iter_init_find(&iter, entry.get(), "journal")) continue;  // finished
    if (!StaticDocument(&iter, &batch)) return Status::Internal("mongodb: malformed journal");
    status = lease_->Held(holding_);
    if (!status.ok()) return status;
    status = Execute(client, &batch, /*legacy=*/false);
    if (!status.ok()) return status;
    ++replayed;
    // Finished: the slot keeps only the sequence number, so the next start does not replay it.
    if (!Spend()) return Injected();
    Bson key;
    Append(key.get(), "_id", kJournalSlot);
    Bson done;
    Append(done.get(), "_id", kJournalSlot);
    Append(done.get(), "seq", slot_seq);
    bson_error_t error;
    if (!mongoc_collection_replace_one(journal.get(), key.get(), done.get(), nullptr, nullptr,
                                       &error)) {
      return ToStatus(error, "closing the journal");
    }
  }
  // Event ids claimed by a batch whose journal was never written: that batch applied nothing,
  // so its events are not applied and must not count as duplicates when the registry retries.
  if (!Spend()) return Injected();
  CollectionPtr event_ids = client.Collection(database_, CollectionName("eventids"));
  Bson abandoned;
  AppendDocument(abandoned.get(), "seq", [&](bson_t* gt) { Append(gt, "$gt", slot_seq); });
  bson_error_t error;
  if (!mongoc_collection_delete_many(event_ids.get(), abandoned.get(), nullptr, nullptr, &error)) {
    return ToStatus(error, "dropping the claims of an unwritten journal");
  }
  if (replayed > 0) {
    spdlog::info("mongodb: finished {} batch(es) an interrupted commit had left pending", replayed);
  }
  next_seq_ = slot_seq + 1;
  // Another writer, or the replay, may have changed index links since they were cached.
  parents_cache_.clear();
  // A roll of the window left half done is finished before any batch adds to the window.
  status = LoadWindow(client);
  if (!status.ok()) return status;
  recovery_needed_ = false;
  return Status::Ok();
}

Status MongoStore::Execute(Client& client, const bson_t* journal, bool legacy) {
  bson_iter_t iter;
  if (!bson_iter_init_find(&iter, journal, "_id") || !BSON_ITER_HOLDS_OID(&iter)) {
    return Status::Internal("mongodb: journal entry without an ObjectId _id");
  }
  const bson_oid_t batch = *bson_iter_oid(&iter);
  bool crashed = false;
  Status status = Status::Ok();

  if (legacy) {
    // A journal of the release before claims: its event ids are recorded with its writes.
    const UnixMillis created_at = mongo::DateField(journal, "created_at").value_or(NowMillis());
    CollectionPtr event_ids = client.Collection(database_, CollectionName("eventids"));
    BulkWrite ids(event_ids.get(), /*ordered=*/false, request_limit_, "recording event ids");
    for (const std::string& id : mongo::StringsField(journal, "events")) {
      if ((crashed = !Spend())) break;
      Bson filter;
      Append(filter.get(), "_id", id);
      Bson update;
      AppendDocument(update.get(), "$setOnInsert", [&](bson_t* set) {
        Append(set, "batch", batch);
        Append(set, "applied_at", Date{created_at});
      });
      status = ids.Update(filter.get(), update.get(), /*upsert=*/true, /*multi=*/false);
      if (!status.ok()) return status;
    }
    status = ids.Send();
    if (!status.ok()) return status;
    if (crashed) return Injected();
  }

  // The writes, one ordered round trip per collection: writes to different collections never
  // read each other's documents, so only the order within a collection matters.
  bson_iter_t writes;
  if (!bson_iter_init_find(&iter, journal, "writes") || !BSON_ITER_HOLDS_ARRAY(&iter) ||
      !bson_iter_recurse(&iter, &writes)) {
    return Status::Internal("mongodb: journal entry without writes");
  }
  for (std::string_view target : mongo::kWriteTargets) {
    status = lease_->Held(holding_);  // a batch that outlives the lease stops, as if drec died
    if (!status.ok()) return status;
    const std::string name = CollectionName(target);
    CollectionPtr collection = client.Collection(database_, name);
    BulkWrite bulk(collection.get(), /*ordered=*/true, request_limit_, "writing " + name);
    bson_iter_t element = writes;
    while (!crashed && bson_iter_next(&element)) {
      JournalWrite write;
      if (!ParseWrite(&element, &write)) return Status::Internal("mongodb: malformed journal");
      if (write.coll != target) continue;
      if ((crashed = !Spend())) break;
      status = write.remove ? bulk.Remove(&write.filter)
                            : bulk.Update(&write.filter, &write.update, write.upsert, write.multi);
      if (!status.ok()) return status;
    }
    status = bulk.Send();
    if (!status.ok()) return status;
    if (crashed) return Injected();
  }
  if (!legacy) return Status::Ok();

  if (!Spend()) return Injected();
  CollectionPtr journals = client.Collection(database_, CollectionName("journal"));
  Bson filter;
  Append(filter.get(), "_id", batch);
  bson_error_t error;
  if (!mongoc_collection_delete_one(journals.get(), filter.get(), nullptr, nullptr, &error)) {
    return ToStatus(error, "closing the journal");
  }
  return Status::Ok();
}

Status MongoStore::ReadStoredState(Client& client, std::span<const EventEffect* const> effects,
                                   mongo::StoredState* stored) {
  // Which tags a pull by digest reaches depends on the index links stored so far, and what
  // removing a repository takes off the daily totals on its stored days: both are read now and
  // fixed in the journal, so a replay writes the same whatever happened since.
  // Index links come from the cache when it knows the digest (the lease makes this drec their
  // only writer), from the server otherwise.
  std::set<std::pair<std::string, std::string>> missing;
  for (const auto& key : mongo::DigestsPulledByDigest(effects)) {
    const auto cached = parents_cache_.find(key);
    if (cached == parents_cache_.end()) {
      missing.insert(key);
    } else if (!cached->second.empty()) {
      stored->parents[key] = cached->second;
    }
  }
  Status status = FindKeys(
      client.Collection(database_, CollectionName("digestparents")), missing, "child",
      [](bson_t*) {}, "reading index links",
      [&](const bson_t* doc) {
        stored->parents[{mongo::StringField(doc, "repository"), mongo::StringField(doc, "child")}]
            .insert(mongo::StringField(doc, "parent"));
      });
  if (!status.ok()) return status;
  if (parents_cache_.size() + missing.size() > kMaxCachedDigests) parents_cache_.clear();
  for (const auto& key : missing) {
    const auto found = stored->parents.find(key);
    parents_cache_[key] = found == stored->parents.end() ? std::set<std::string>() : found->second;
  }
  // A manifest event always sets the media type; a digest known only from a delete has none.
  status = FindKeys(
      client.Collection(database_, CollectionName("digests")), mongo::ManifestsRequired(effects),
      "digest",
      [](bson_t* clause) {
        AppendDocument(clause, "media_type",
                       [](bson_t* exists) { Append(exists, "$exists", true); });
      },
      "reading manifests",
      [&](const bson_t* doc) {
        stored->manifests.emplace(mongo::StringField(doc, "repository"),
                                  mongo::StringField(doc, "digest"));
      });
  if (!status.ok()) return status;
  const std::set<std::string> removed = mongo::RepositoriesRemoved(effects);
  if (!removed.empty()) {
    Bson filter;
    AppendDocument(filter.get(), "repository", [&](bson_t* in) {
      Append(in, "$in", std::vector<std::string>(removed.begin(), removed.end()));
    });
    CollectionPtr days = client.Collection(database_, CollectionName("days"));
    CursorPtr cursor(mongoc_collection_find_with_opts(days.get(), filter.get(), nullptr, nullptr));
    Status status = mongo::ForEach(cursor.get(), "reading days", [&](const bson_t* doc) {
      stored->days[mongo::StringField(doc, "repository")][mongo::StringField(doc, "day")] =
          ReadCounters(doc).counts;
    });
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

Status MongoStore::Commit(Client& client, std::span<const EventEffect* const> effects,
                          ApplyOutcome* outcome) {
  mongo::StoredState stored;
  stored.window_from = window_from_;
  Status status = ReadStoredState(client, effects, &stored);
  if (!status.ok()) return status;

  bson_oid_t batch;
  bson_oid_init(&batch, nullptr);
  const UnixMillis now = NowMillis();
  // The journal as if every event were new: the largest it can be. Split before claiming, so
  // that each journal has claims of its own.
  std::int64_t unknown = 0;
  Bson journal = mongo::BuildJournal(batch, now, effects, stored, &unknown);
  if (journal->len > kMaxJournalBytes) {
    if (effects.size() == 1) {
      return Status::Internal("mongodb: the writes of event " + effects[0]->event_id +
                              " exceed the journal size limit");
    }
    const std::size_t half = effects.size() / 2;
    status = Commit(client, effects.first(half), outcome);
    if (!status.ok()) return status;
    return Commit(client, effects.subspan(half), outcome);
  }

  status = lease_->Held(holding_);
  if (!status.ok()) return status;
  recovery_needed_ = true;
  // One round trip both claims the new event ids and finds the known ones: an upsert inserts
  // the ids not applied before, and the reply names them. The claims carry this journal's
  // sequence number; until the journal is written they are undone by recovery.
  const std::int64_t seq = next_seq_;
  std::unordered_set<std::string> claimed;
  CollectionPtr event_ids = client.Collection(database_, CollectionName("eventids"));
  BulkWrite claims(event_ids.get(), /*ordered=*/false, request_limit_, "claiming event ids",
                   &claimed);
  bool crashed = false;
  for (const EventEffect* effect : effects) {
    if ((crashed = !Spend())) break;
    Bson filter;
    Append(filter.get(), "_id", effect->event_id);
    Bson update;
    AppendDocument(update.get(), "$setOnInsert", [&](bson_t* set) {
      Append(set, "batch", batch);
      Append(set, "seq", seq);
      Append(set, "applied_at", Date{now});
    });
    status = claims.Update(filter.get(), update.get(), /*upsert=*/true, /*multi=*/false);
    if (!status.ok()) return status;
  }
  status = claims.Send();
  if (!status.ok()) return status;
  if (crashed) return Injected();

  std::vector<const EventEffect*> fresh;
  for (const EventEffect* effect : effects) {
    if (claimed.contains(effect->event_id)) {
      fresh.push_back(effect);
    } else {
      ++outcome->duplicates;
    }
  }
  if (fresh.empty()) {  // nothing claimed, nothing written
    recovery_needed_ = false;
    return Status::Ok();
  }
  if (fresh.size() != effects.size()) {
    journal = mongo::BuildJournal(batch, now, fresh, std::move(stored), &unknown);
    if (journal->len > kMaxJournalBytes) {
      return Status::Internal("mongodb: a batch's journal exceeds the size limit");
    }
  }

  // The journal: one replacement of the slot, atomic, naming the batch's sequence number.
  if (!Spend()) return Injected();
  Bson slot;
  Append(slot.get(), "_id", kJournalSlot);
  Append(slot.get(), "seq", seq);
  Append(slot.get(), "journal", journal.get());
  Bson key;
  Append(key.get(), "_id", kJournalSlot);
  Bson upsert;
  Append(upsert.get(), "upsert", true);
  CollectionPtr journals = client.Collection(database_, CollectionName("journal"));
  bson_error_t error;
  if (!mongoc_collection_replace_one(journals.get(), key.get(), slot.get(), upsert.get(), nullptr,
                                     &error)) {
    return ToStatus(error, "writing the journal");
  }
  next_seq_ = seq + 1;
  status = Execute(client, journal.get(), /*legacy=*/false);
  if (!status.ok()) return status;
  // What the batch changed about index links is read again when next needed.
  for (const EventEffect* effect : fresh) {
    for (const Operation& operation : effect->operations) {
      if (const auto* link = std::get_if<DigestParent>(&operation)) {
        parents_cache_.erase({link->repository, link->child});
      } else if (const auto* removed = std::get_if<RepositoryRemoved>(&operation)) {
        const auto first = parents_cache_.lower_bound({removed->repository, ""});
        auto last = first;
        while (last != parents_cache_.end() && last->first.first == removed->repository) ++last;
        parents_cache_.erase(first, last);
      }
    }
  }
  recovery_needed_ = false;
  outcome->unknown_manifests += unknown;
  outcome->applied += static_cast<std::int64_t>(fresh.size()) - unknown;
  return Status::Ok();
}

Status MongoStore::Apply(const Batch& batch, ApplyOutcome* outcome) {
  std::lock_guard lock(writer_mutex_);
  writes_ = 0;
  Client client = pool_->Lease();
  Status held = HoldLease(client);
  if (!held.ok()) return held;
  // A journal left pending by a failed commit is finished first: until then its event ids would
  // count as applied while some of its writes are missing.
  if (recovery_needed_) {
    Status status = Recover(client);
    if (!status.ok()) return status;
  }

  ApplyOutcome result;
  std::vector<const EventEffect*> fresh;
  std::unordered_set<std::string_view> seen;
  for (const EventEffect& effect : batch.effects) {
    if (seen.insert(effect.event_id).second) {
      fresh.push_back(&effect);
    } else {
      ++result.duplicates;
    }
  }
  if (!fresh.empty()) {
    Status status = Commit(client, fresh, &result);
    if (!status.ok()) return status;
  }
  // The simulated crash may come after the last write, before the caller hears of it.
  if (fault_budget_ == 0) return Injected();
  if (outcome != nullptr) *outcome = result;
  return Status::Ok();
}
Status MongoStore::PruneEventIds(UnixMillis cutoff) {
  std::lock_guard lock(writer_mutex_);
  Client client = pool_->Lease();
  Status held = HoldLease(client);
  if (!held.ok()) return held;
  CollectionPtr event_ids = client.Collection(database_, CollectionName("eventids"));
  Bson filter;
  AppendDocument(filter.get(), "applied_at", [&](bson_t* lt) { Append(lt, "$lt", Date{cutoff}); });
  bson_error_t error;
  if (!mongoc_collection_delete_many(event_ids.get(), filter.get(), nullptr, nullptr, &error)) {
    return ToStatus(error, "pruning event ids");
  }
  return Status::Ok();
}
}  // namespace drec

namespace drec {
namespace {

// The counts of each repository's days in [from, to) ("~" is past every day), from the days
// collection: read by the client, as FerretDB 1.x computes one sum per aggregation.
Status SumDaysBetween(mongoc_collection_t* days, const std::string& from, const std::string& to,
                      std::map<std::string, WindowCounters>* sums) {
  Bson filter;
  AppendDocument(filter.get(), "day", [&](bson_t* range) {
    Append(range, "$gte", from);
    Append(range, "$lt", to);
  });
  Bson opts;
  AppendDocument(opts.get(), "projection", [](bson_t* fields) {
    Append(fields, "repository", std::int64_t{1});
    for (const auto& field : kCounterFields) Append(fields, field.name, std::int64_t{1});
  });
  CursorPtr cursor(mongoc_collection_find_with_opts(days, filter.get(), opts.get(), nullptr));
  return mongo::ForEach(cursor.get(), "reading days for the window", [&](const bson_t* doc) {
    WindowCounters& sum = (*sums)[mongo::StringField(doc, "repository")];
    const WindowCounters counts = ReadCounters(doc).counts;
    for (std::size_t i = 0; i < kCounterCount; ++i) sum.at(i) += counts.at(i);
  });
}

bool HasField(const bson_t* doc, const char* key) {
  bson_iter_t iter;
  return bson_iter_init_find(&iter, doc, key) && !BSON_ITER_HOLDS_NULL(&iter);
}

}  // namespace

Result<std::string> MongoStore::StoredWindowFrom(Client& client) {
  CollectionPtr meta = client.Collection(database_, CollectionName("meta"));
  Bson filter;
  Append(filter.get(), "_id", mongo::kWindowDocument);
  CursorPtr cursor(mongoc_collection_find_with_opts(meta.get(), filter.get(), nullptr, nullptr));
  std::string from_day;
  Status status =
      mongo::ForEach(cursor.get(), "reading the rolling window", [&](const bson_t* doc) {
        if (!HasField(doc, "rolling")) from_day = mongo::StringField(doc, "from_day");
      });
  if (!status.ok()) return status;
  return from_day;
}

Status MongoStore::LoadWindow(Client& client) {
  CollectionPtr meta = client.Collection(database_, CollectionName("meta"));
  Bson filter;
  Append(filter.get(), "_id", mongo::kWindowDocument);
  CursorPtr cursor(mongoc_collection_find_with_opts(meta.get(), filter.get(), nullptr, nullptr));
  std::optional<Bson> window;
  Status status = mongo::ForEach(cursor.get(), "reading the rolling window",
                                 [&](const bson_t* doc) { window.emplace(bson_copy(doc)); });
  if (!status.ok()) return status;
  window_from_.reset();
  if (!window)
    return Status::Ok();  // a new or upgraded store: the first trending query computes it
  if (HasField(window->get(), "rolling")) return FinishRoll(client, window->get());
  if (HasField(window->get(), "from_day")) {
    window_from_ = mongo::StringField(window->get(), "from_day");
  }
  return Status::Ok();
}

Status MongoStore::FinishRoll(Client& client, const bson_t* window) {
  bson_iter_t iter;
  bson_t rolling;
  if (!bson_iter_init_find(&iter, window, "rolling") || !BSON_ITER_HOLDS_DOCUMENT(&iter)) {
    return Status::Internal("mongodb: malformed rolling window document");
  }
  std::uint32_t length = 0;
  const std::uint8_t* data = nullptr;
  bson_iter_document(&iter, &length, &data);
  if (!bson_init_static(&rolling, data, length) || !bson_iter_init_find(&iter, &rolling, "id") ||
      !BSON_ITER_HOLDS_OID(&iter)) {
    return Status::Internal("mongodb: malformed rolling window document");
  }
  const bson_oid_t roll = *bson_iter_oid(&iter);
  const std::string to = mongo::StringField(&rolling, "to");
  std::optional<std::string> from;
  if (HasField(&rolling, "from")) from = mongo::StringField(&rolling, "from");
  if (to.empty()) return Status::Internal("mongodb: malformed rolling window document");

  // The days the roll moves across. No batch runs until the roll is finished (every recovery
  // finishes it first), so they read the same each time the roll is carried out.
  // Past any "YYYY-MM-DD": the recomputed window has no end, as the summed one.
  const std::string kNoEnd = "~";
  std::map<std::string, WindowCounters> sums;
  CollectionPtr days = client.Collection(database_, CollectionName("days"));
  Status status = Status::Ok();
  int sign = 1;
  if (!from) {
    status = SumDaysBetween(days.get(), to, kNoEnd, &sums);
  } else if (*from < to) {
    status = SumDaysBetween(days.get(), *from, to, &sums);
    sign = -1;
  } else {
    status = SumDaysBetween(days.get(), to, *from, &sums);
  }
  if (!status.ok()) return status;

  status = lease_->Held(holding_);
  if (!status.ok()) return status;
  CollectionPtr repositories = client.Collection(database_, repository_collection_);
  bson_error_t error;
  if (!from) {
    // Recomputed with $set: repeating it sets the same values.
    if (!Spend()) return Injected();
    Bson all;
    Bson zero;
    AppendDocument(zero.get(), "$set", [](bson_t* set) {
      for (const auto& field : kCounterFields) {
        Append(set, mongo::WindowField(field.counter), std::int64_t{0});
      }
    });
    if (!mongoc_collection_update_many(repositories.get(), all.get(), zero.get(), nullptr, nullptr,
                                       &error)) {
      return ToStatus(error, "clearing the rolling window");
    }
  }
  // Unordered: each repository's write stands alone. Subtracting or adding back is guarded by
  // lastop = {batch: roll, n: 0}, so a repeated roll skips the repositories it did.
  BulkWrite bulk(repositories.get(), /*ordered=*/false, request_limit_, "rolling the window");
  bool crashed = false;
  for (const auto& entry : sums) {
    // Not a structured binding: the lambdas below capture the counts.
    const std::string& repository = entry.first;
    const WindowCounters& counts = entry.second;
    if (counts == WindowCounters{}) continue;
    if ((crashed = !Spend())) break;
    Bson filter;
    Append(filter.get(), mongo::kNameField, repository);
    Bson update;
    if (!from) {
      AppendDocument(update.get(), "$set", [&](bson_t* set) {
        for (const auto& field : kCounterFields) {
          Append(set, mongo::WindowField(field.counter), counts[field.counter]);
        }
      });
    } else {
      AppendDocument(filter.get(), "lastop.batch", [&](bson_t* ne) { Append(ne, "$ne", roll); });
      AppendDocument(update.get(), "$inc", [&](bson_t* inc) {
        for (const auto& field : kCounterFields) {
          if (counts[field.counter] != 0) {
            Append(inc, mongo::WindowField(field.counter), sign * counts[field.counter]);
          }
        }
      });
      AppendDocument(update.get(), "$set", [&](bson_t* set) {
        AppendDocument(set, "lastop", [&](bson_t* lastop) {
          Append(lastop, "batch", roll);
          Append(lastop, "n", std::int64_t{0});
        });
      });
    }
    status = bulk.Update(filter.get(), update.get(), /*upsert=*/false, /*multi=*/false);
    if (!status.ok()) return status;
  }
  status = bulk.Send();
  if (!status.ok()) return status;
  if (crashed) return Injected();

  // Done: the window starts on `to`, and batches add to it from then on.
  status = lease_->Held(holding_);
  if (!status.ok()) return status;
  if (!Spend()) return Injected();
  CollectionPtr meta = client.Collection(database_, CollectionName("meta"));
  Bson key;
  Append(key.get(), "_id", mongo::kWindowDocument);
  Bson done;
  AppendDocument(done.get(), "$set", [&](bson_t* set) { Append(set, "from_day", to); });
  AppendDocument(done.get(), "$unset", [](bson_t* unset) { Append(unset, "rolling", ""); });
  if (!mongoc_collection_update_one(meta.get(), key.get(), done.get(), nullptr, nullptr, &error)) {
    return ToStatus(error, "recording the rolled window");
  }
  window_from_ = to;
  return Status::Ok();
}

Status MongoStore::RollWindow(const std::string& to_day) {
  std::lock_guard lock(writer_mutex_);
  writes_ = 0;
  Client client = pool_->Lease();
  Status status = HoldLease(client);
  if (!status.ok()) return status;
  // A pending journal or roll is finished first; recovery also reads the window as stored.
  if (recovery_needed_) {
    status = Recover(client);
    if (!status.ok()) return status;
  }
  if (window_from_ == to_day) return Status::Ok();  // another query rolled it first
  // From here on an interruption leaves work for the recovery before the next batch.
  recovery_needed_ = true;
  // The last batch's journal stays in its slot until the next start finds it finished; the roll
  // changes repositories' lastop, after which a replay of that journal would apply it again. So
  // it is closed first (every journal this holding wrote is fully applied here).
  if (!Spend()) return Injected();
  CollectionPtr journal = client.Collection(database_, CollectionName("journal"));
  Bson slot_key;
  Append(slot_key.get(), "_id", kJournalSlot);
  Bson closed;
  Append(closed.get(), "_id", kJournalSlot);
  Append(closed.get(), "seq", next_seq_ - 1);
  bson_error_t error;
  if (!mongoc_collection_replace_one(journal.get(), slot_key.get(), closed.get(), nullptr, nullptr,
                                     &error)) {
    return ToStatus(error, "closing the journal");
  }
  // The roll is recorded before any repository changes: a recovery carries it out again.
  bson_oid_t roll;
  bson_oid_init(&roll, nullptr);
  Bson window;
  Append(window.get(), "_id", mongo::kWindowDocument);
  if (window_from_) Append(window.get(), "from_day", *window_from_);
  AppendDocument(window.get(), "rolling", [&](bson_t* rolling) {
    if (window_from_) Append(rolling, "from", *window_from_);
    Append(rolling, "to", to_day);
    Append(rolling, "id", roll);
  });
  if (!Spend()) return Injected();
  CollectionPtr meta = client.Collection(database_, CollectionName("meta"));
  Bson window_key;
  Append(window_key.get(), "_id", mongo::kWindowDocument);
  Bson upsert;
  Append(upsert.get(), "upsert", true);
  if (!mongoc_collection_replace_one(meta.get(), window_key.get(), window.get(), upsert.get(),
                                     nullptr, &error)) {
    return ToStatus(error, "recording the window's roll");
  }
  status = FinishRoll(client, window.get());
  if (!status.ok()) return status;
  recovery_needed_ = false;
  return Status::Ok();
}

Status MongoStore::RollWindowForTesting(const std::string& to_day) { return RollWindow(to_day); }

}  // namespace drec
