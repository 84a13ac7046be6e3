#include "store/mongo/mongo_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <map>
#include <unordered_set>
#include <utility>

#include "store/mongo/mongo_driver.h"
#include "store/mongo/write_plan.h"

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
using mongo::ToStatus;

// Half MongoDB's 16 MiB document limit leaves room for the command around the journal; a larger
// batch is split into several journals, applied one after the other.
constexpr std::uint32_t kMaxJournalBytes = 8u << 20;
// Server error codes the index set-up reacts to.
constexpr std::uint32_t kIndexOptionsConflict = 85;
constexpr std::uint32_t kNotImplemented = 238;
// Statements per write request on FerretDB (see MongoStore::DetectServer).
constexpr std::size_t kFerretDbRequestLimit = 50;

// An index, in MongoDB's default naming so that an index another tool made for the same keys is
// recognised instead of duplicated.
struct Index {
  std::string_view role;
  std::vector<std::string> keys;  // "-field" sorts descending
  bool unique;
};

constexpr std::string_view kNameField = "repositoryname";

std::vector<Index> Indexes() {
  std::vector<Index> indexes = {{"repositories", {std::string(kNameField)}, true}};
  // The list's sorts, ties by name ascending: descending for the counters (top lists), both
  // ways for the last times (recently pushed or pulled; the cleanup's oldest first).
  for (const auto& counter : kCounterFields) {
    indexes.push_back({"repositories", {"-" + std::string(counter.name), std::string(kNameField)},
                       false});
  }
  for (const auto& time : kTimeFields) {
    if (time.fold != Fold::kLatest) continue;
    for (const char* direction : {"-", ""}) {
      indexes.push_back(
          {"repositories", {direction + std::string(time.name), std::string(kNameField)}, false});
    }
  }
  const std::vector<Index> companions = {
      {"tags", {"repository", "tag"}, true},
      {"tags", {"repository", "digest"}, false},
      {"digests", {"repository", "digest"}, true},
      {"digestparents", {"repository", "child", "parent"}, true},
      {"actors", {"repository", "actor"}, true},
      {"actors", {"actor"}, false},  // the repositories of an actor
      {"days", {"repository", "day"}, true},
      {"days", {"day", "repository"}, false},  // windows: every repository's recent days
      {"totaldays", {"day"}, true},
  };
  indexes.insert(indexes.end(), companions.begin(), companions.end());
  return indexes;
}

Status Injected() { return Status::Unavailable("mongodb: injected fault"); }

Bson IndexSpec(const std::vector<std::string>& keys, bool unique,
               std::int64_t expire_after_seconds) {
  Bson spec;
  std::string name;
  AppendDocument(spec.get(), "key", [&](bson_t* key) {
    for (std::string_view field : keys) {
      // "-field" is descending; the name is MongoDB's default, so equal indexes are recognised.
      const bool descending = field.starts_with('-');
      if (descending) field.remove_prefix(1);
      Append(key, field, std::int64_t{descending ? -1 : 1});
      name += (name.empty() ? "" : "_") + std::string(field) + (descending ? "_-1" : "_1");
    }
  });
  Append(spec.get(), "name", name);
  if (unique) Append(spec.get(), "unique", true);
  if (expire_after_seconds > 0) Append(spec.get(), "expireAfterSeconds", expire_after_seconds);
  return spec;
}

// Runs createIndexes (or any command) on the database; idempotent when the indexes exist.
Status RunCommand(Client& client, const std::string& database, const bson_t* command,
                  std::string_view context, bson_error_t* error) {
  bson_t reply;
  const bool ok =
      mongoc_client_command_simple(client.get(), database.c_str(), command, nullptr, &reply, error);
  bson_destroy(&reply);
  return ok ? Status::Ok() : ToStatus(*error, context);
}

Status CreateIndex(Client& client, const std::string& database, const std::string& collection,
                   const bson_t* spec, bson_error_t* error) {
  Bson command;
  Append(command.get(), "createIndexes", collection);
  bson_t indexes;
  bson_append_array_begin(command.get(), "indexes", 7, &indexes);
  Append(&indexes, "0", spec);
  bson_append_array_end(command.get(), &indexes);
  return RunCommand(client, database, command.get(), "creating index on " + collection, error);
}

// Sends the writes added to it in as few round trips as the server takes: one, or one per
// `limit` writes when the server needs smaller requests.
class BulkWrite {
 public:
  BulkWrite(mongoc_collection_t* collection, bool ordered, std::size_t limit, std::string context)
      : collection_(collection), ordered_(ordered), limit_(limit), context_(std::move(context)) {}

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
  BulkPtr bulk_;
  std::size_t count_ = 0;
};

// One write of a journal, pointing into the journal's buffer.
struct JournalWrite {
  std::string_view coll;
  bson_t filter;
  bson_t update;
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

Counters ReadCounters(const bson_t* doc) {
  Counters c;
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    c.counts.at(i) = mongo::Int64Field(doc, kCounterFields[i].name);
  }
  for (std::size_t i = 0; i < kTimeFieldCount; ++i) {
    c.times.at(i) = mongo::DateField(doc, kTimeFields[i].name);
  }
  return c;
}

RepositoryRecord ReadRepository(const bson_t* doc) {
  RepositoryRecord record;
  record.repositoryname = mongo::StringField(doc, kNameField);
  record.counters = ReadCounters(doc);
  record.actors = mongo::StringsField(doc, "actors");
  record.numstars = mongo::Int64Field(doc, "numstars");
  return record;
}

// A regular expression matching exactly the strings that start with `literal`. Punctuation is
// escaped with a backslash, which both PCRE (MongoDB) and RE2 (FerretDB) read as the character
// itself and MongoDB still turns into an index range; control characters, which cannot appear
// raw in a BSON regex, as \xHH.
std::string PrefixPattern(std::string_view literal) {
  std::string pattern = "^";
  for (const char ch : literal) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      pattern += hex;
    } else if (c < 0x80 && !std::isalnum(c)) {
      pattern += '\\';
      pattern += ch;
    } else {
      pattern += ch;
    }
  }
  return pattern;
}

// Runs a find and converts every document with `read`.
template <typename Record, typename ReadFn>
Result<std::vector<Record>> Collect(mongoc_collection_t* collection, const bson_t* filter,
                                    const bson_t* opts, ReadFn read) {
  CursorPtr cursor(mongoc_collection_find_with_opts(collection, filter, opts, nullptr));
  std::vector<Record> records;
  Status status = mongo::ForEach(cursor.get(), "query",
                                 [&](const bson_t* doc) { records.push_back(read(doc)); });
  if (!status.ok()) return status;
  return records;
}

// Sums `field` over the documents matching `match`, per value of `group` (a "$field", or
// nullptr for one sum of everything), and hands each (group value, sum) to `take`. One sum per
// request: FerretDB 1.x computes only the first accumulator of a $group stage.
template <typename TakeFn>
Status SumBy(mongoc_collection_t* collection, const bson_t* match, const char* group,
             std::string_view field, TakeFn take) {
  Bson pipeline;
  bson_t stages;
  bson_append_array_begin(pipeline.get(), "pipeline", 8, &stages);
  Append(&stages, "0", match);
  AppendDocument(&stages, "1", [&](bson_t* stage) {
    AppendDocument(stage, "$group", [&](bson_t* by) {
      if (group != nullptr) {
        Append(by, "_id", group);
      } else {
        bson_append_null(by, "_id", 3);
      }
      AppendDocument(by, "sum",
                     [&](bson_t* sum) { Append(sum, "$sum", "$" + std::string(field)); });
    });
  });
  bson_append_array_end(pipeline.get(), &stages);
  CursorPtr cursor(
      mongoc_collection_aggregate(collection, MONGOC_QUERY_NONE, pipeline.get(), nullptr, nullptr));
  return mongo::ForEach(cursor.get(), "summing " + std::string(field), [&](const bson_t* doc) {
    take(mongo::StringField(doc, "_id"), mongo::Int64Field(doc, "sum"));
  });
}

// Sums each repository's days from `from_day` on (of the `only` repositories, when given) into
// `windows`.
Status SumDays(mongoc_collection_t* days, const std::string& from_day,
               const std::vector<RepositoryRecord>* only,
               std::map<std::string, WindowCounters>* windows) {
  Bson match;
  AppendDocument(match.get(), "$match", [&](bson_t* filter) {
    AppendDocument(filter, "day", [&](bson_t* c) { Append(c, "$gte", from_day); });
    if (only != nullptr) {
      std::vector<std::string> names;
      for (const RepositoryRecord& r : *only) names.push_back(r.repositoryname);
      AppendDocument(filter, "repository", [&](bson_t* c) { Append(c, "$in", names); });
    }
  });
  for (const auto& field : kCounterFields) {
    Status status = SumBy(days, match.get(), "$repository", field.name,
                          [&](const std::string& repository, std::int64_t sum) {
                            (*windows)[repository][field.counter] = sum;
                          });
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

Bson SortedBy(const char* field) {
  Bson opts;
  AppendDocument(opts.get(), "sort", [&](bson_t* sort) { Append(sort, field, std::int64_t{1}); });
  return opts;
}

Bson OfRepository(const std::string& repository) {
  Bson filter;
  Append(filter.get(), "repository", repository);
  return filter;
}

}  // namespace

MongoStore::MongoStore(std::unique_ptr<mongo::ClientPool> pool, std::string database,
                       std::string repository_collection)
    : pool_(std::move(pool)),
      database_(std::move(database)),
      repository_collection_(std::move(repository_collection)) {}

MongoStore::~MongoStore() = default;

Result<std::unique_ptr<MongoStore>> MongoStore::Open(const std::string& uri,
                                                     const std::string& database,
                                                     const std::string& repository_collection,
                                                     std::int64_t retention_days) {
  if (uri.empty()) return Status::InvalidArgument("mongodb: no uri given");
  if (database.empty()) return Status::InvalidArgument("mongodb: no database given");
  if (repository_collection.empty()) {
    return Status::InvalidArgument("mongodb: no collection given");
  }
  auto pool = mongo::ClientPool::Create(uri);
  if (!pool.ok()) return pool.status();
  std::unique_ptr<MongoStore> store(
      new MongoStore(std::move(*pool), database, repository_collection));
  Client client = store->pool_->Lease();
  Status status = store->DetectServer(client);
  if (!status.ok()) return status;
  status = store->CreateIndexes(client, retention_days);
  if (!status.ok()) return status;
  status = store->Recover(client);
  if (!status.ok()) return status;
  return store;
}

std::string MongoStore::CollectionName(std::string_view role) const {
  if (role == "repositories") return repository_collection_;
  return repository_collection_ + "." + std::string(role);
}

Status MongoStore::DetectServer(Client& client) {
  Bson command;
  Append(command.get(), "buildInfo", std::int64_t{1});
  bson_t reply;
  bson_error_t error;
  if (!mongoc_client_command_simple(client.get(), "admin", command.get(), nullptr, &reply,
                                    &error)) {
    bson_destroy(&reply);
    return ToStatus(error, "reading the server's build info");
  }
  const std::string ferretdb = mongo::StringField(&reply, "ferretdbVersion");
  bson_destroy(&reply);
  if (!ferretdb.empty()) {
    // FerretDB 1.x holds one SQLite connection (of 100) per update statement that matched a
    // document until the whole request is done, and hangs when they run out: it gets requests
    // of at most kFerretDbRequestLimit statements.
    request_limit_ = kFerretDbRequestLimit;
    spdlog::debug("mongodb: FerretDB {}: at most {} writes per request", ferretdb,
                  kFerretDbRequestLimit);
  }
  return Status::Ok();
}

Status MongoStore::CreateIndexes(Client& client, std::int64_t retention_days) {
  bson_error_t error;
  for (const Index& index : Indexes()) {
    Bson spec = IndexSpec(index.keys, index.unique, 0);
    Status status = CreateIndex(client, database_, CollectionName(index.role), spec.get(), &error);
    if (!status.ok()) return status;
  }
  // Event ids expire through a TTL index where the server has them; PruneEventIds deletes them
  // in any case, so the TTL index only spares it work and nothing depends on it.
  const std::string event_ids = CollectionName("eventids");
  if (retention_days > 0) {
    Bson spec = IndexSpec({"applied_at"}, false, retention_days * 86'400);
    Status status = CreateIndex(client, database_, event_ids, spec.get(), &error);
    if (status.ok()) return status;
    if (status.code() == Status::Code::kUnavailable) return status;
    if (error.code == kIndexOptionsConflict) {
      // The index exists with another retention, or without one: change it in place.
      Bson command;
      Append(command.get(), "collMod", event_ids);
      AppendDocument(command.get(), "index", [&](bson_t* index) {
        Append(index, "name", "applied_at_1");
        Append(index, "expireAfterSeconds", retention_days * 86'400);
      });
      status = RunCommand(client, database_, command.get(), "changing the event id TTL", &error);
      if (status.ok() || status.code() == Status::Code::kUnavailable) return status;
    }
    spdlog::info("mongodb: no TTL index for event ids ({}); drec prunes them periodically",
                 error.code == kNotImplemented ? "not supported by the server" : status.message());
  }
  Bson spec = IndexSpec({"applied_at"}, false, 0);
  Status status = CreateIndex(client, database_, event_ids, spec.get(), &error);
  // An index on applied_at with other options (a TTL index made earlier) serves as well.
  if (!status.ok() && error.code == kIndexOptionsConflict) return Status::Ok();
  return status;
}

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
  for (const Bson& entry : pending) {
    status = Execute(client, entry.get());
    if (!status.ok()) return status;
  }
  if (!pending.empty()) {
    spdlog::info("mongodb: finished {} batch(es) an interrupted commit had left pending",
                 pending.size());
  }
  recovery_needed_ = false;
  return Status::Ok();
}

Status MongoStore::Execute(Client& client, const bson_t* journal) {
  bson_iter_t iter;
  if (!bson_iter_init_find(&iter, journal, "_id") || !BSON_ITER_HOLDS_OID(&iter)) {
    return Status::Internal("mongodb: journal entry without an ObjectId _id");
  }
  const bson_oid_t batch = *bson_iter_oid(&iter);
  const UnixMillis created_at = mongo::DateField(journal, "created_at").value_or(NowMillis());

  // The event ids first; upserts, so that finishing a half-written set is harmless.
  CollectionPtr event_ids = client.Collection(database_, CollectionName("eventids"));
  BulkWrite ids(event_ids.get(), /*ordered=*/false, request_limit_, "recording event ids");
  bool crashed = false;
  for (const std::string& id : mongo::StringsField(journal, "events")) {
    if ((crashed = !Spend())) break;
    Bson filter;
    Append(filter.get(), "_id", id);
    Bson update;
    AppendDocument(update.get(), "$setOnInsert", [&](bson_t* set) {
      Append(set, "batch", batch);
      Append(set, "applied_at", Date{created_at});
    });
    Status status = ids.Update(filter.get(), update.get(), /*upsert=*/true, /*multi=*/false);
    if (!status.ok()) return status;
  }
  Status status = ids.Send();
  if (!status.ok()) return status;
  if (crashed) return Injected();

  // Then the writes, one ordered round trip per collection: writes to different collections
  // never read each other's documents, so only the order within a collection matters.
  bson_iter_t writes;
  if (!bson_iter_init_find(&iter, journal, "writes") || !BSON_ITER_HOLDS_ARRAY(&iter) ||
      !bson_iter_recurse(&iter, &writes)) {
    return Status::Internal("mongodb: journal entry without writes");
  }
  for (std::string_view target : mongo::kWriteTargets) {
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

  // Done: the batch will not be replayed.
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
  std::map<std::string, std::vector<std::string>> pulled;
  for (auto& [repository, digest] : mongo::DigestsPulledByDigest(effects)) {
    pulled[repository].push_back(digest);
  }
  if (!pulled.empty()) {
    Bson filter;
    bson_t any;
    bson_append_array_begin(filter.get(), "$or", 3, &any);
    std::uint32_t i = 0;
    for (const auto& [repository, digests] : pulled) {
      AppendDocument(&any, std::to_string(i++), [&](bson_t* clause) {
        Append(clause, "repository", repository);
        AppendDocument(clause, "child", [&](bson_t* in) { Append(in, "$in", digests); });
      });
    }
    bson_append_array_end(filter.get(), &any);
    CollectionPtr links = client.Collection(database_, CollectionName("digestparents"));
    CursorPtr cursor(mongoc_collection_find_with_opts(links.get(), filter.get(), nullptr, nullptr));
    Status status = mongo::ForEach(cursor.get(), "reading index links", [&](const bson_t* doc) {
      stored->parents[{mongo::StringField(doc, "repository"), mongo::StringField(doc, "child")}]
          .insert(mongo::StringField(doc, "parent"));
    });
    if (!status.ok()) return status;
  }
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

Status MongoStore::Commit(Client& client, std::span<const EventEffect* const> effects) {
  mongo::StoredState stored;
  Status status = ReadStoredState(client, effects, &stored);
  if (!status.ok()) return status;

  bson_oid_t batch;
  bson_oid_init(&batch, nullptr);
  Bson journal = mongo::BuildJournal(batch, NowMillis(), effects, std::move(stored));
  if (journal->len > kMaxJournalBytes) {
    if (effects.size() == 1) {
      return Status::Internal("mongodb: the writes of event " + effects[0]->event_id +
                              " exceed the journal size limit");
    }
    const std::size_t half = effects.size() / 2;
    status = Commit(client, effects.first(half));
    if (!status.ok()) return status;
    return Commit(client, effects.subspan(half));
  }

  recovery_needed_ = true;
  if (!Spend()) return Injected();
  CollectionPtr journals = client.Collection(database_, CollectionName("journal"));
  bson_error_t error;
  if (!mongoc_collection_insert_one(journals.get(), journal.get(), nullptr, nullptr, &error)) {
    return ToStatus(error, "writing the journal");
  }
  status = Execute(client, journal.get());
  if (!status.ok()) return status;
  recovery_needed_ = false;
  return Status::Ok();
}

Status MongoStore::Apply(const Batch& batch, ApplyOutcome* outcome) {
  std::lock_guard lock(writer_mutex_);
  writes_ = 0;
  Client client = pool_->Lease();
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
    std::vector<std::string> ids;
    for (const EventEffect* effect : fresh) ids.push_back(effect->event_id);
    Bson filter;
    AppendDocument(filter.get(), "_id", [&](bson_t* in) { Append(in, "$in", ids); });
    Bson opts;
    AppendDocument(opts.get(), "projection",
                   [](bson_t* projection) { Append(projection, "_id", std::int64_t{1}); });
    CollectionPtr event_ids = client.Collection(database_, CollectionName("eventids"));
    CursorPtr cursor(
        mongoc_collection_find_with_opts(event_ids.get(), filter.get(), opts.get(), nullptr));
    std::unordered_set<std::string> known;
    Status status = mongo::ForEach(cursor.get(), "reading event ids", [&](const bson_t* doc) {
      known.insert(mongo::StringField(doc, "_id"));
    });
    if (!status.ok()) return status;
    std::erase_if(fresh, [&](const EventEffect* effect) {
      const bool duplicate = known.contains(effect->event_id);
      if (duplicate) ++result.duplicates;
      return duplicate;
    });
  }
  if (!fresh.empty()) {
    Status status = Commit(client, fresh);
    if (!status.ok()) return status;
  }
  // The simulated crash may come after the last write, before the caller hears of it.
  if (fault_budget_ == 0) return Injected();
  result.applied = static_cast<std::int64_t>(fresh.size());
  if (outcome != nullptr) *outcome = result;
  return Status::Ok();
}

Status MongoStore::Ping() {
  Client client = pool_->Lease();
  Bson command;
  Append(command.get(), "ping", std::int64_t{1});
  bson_error_t error;
  return RunCommand(client, "admin", command.get(), "ping", &error);
}

Status MongoStore::PruneEventIds(UnixMillis cutoff) {
  std::lock_guard lock(writer_mutex_);
  Client client = pool_->Lease();
  CollectionPtr event_ids = client.Collection(database_, CollectionName("eventids"));
  Bson filter;
  AppendDocument(filter.get(), "applied_at", [&](bson_t* lt) { Append(lt, "$lt", Date{cutoff}); });
  bson_error_t error;
  if (!mongoc_collection_delete_many(event_ids.get(), filter.get(), nullptr, nullptr, &error)) {
    return ToStatus(error, "pruning event ids");
  }
  return Status::Ok();
}

Result<RepositoryPage> MongoStore::ListRepositories(const RepositoryQuery& query) {
  const bool windowed = query.window_from_day.has_value();
  const bool window_sort = query.sort.kind == SortKey::Kind::kWindowCounter;
  // The field of the repository document to sort by, unless the order is a window's.
  std::string_view sort_field = kNameField;
  if (query.sort.kind == SortKey::Kind::kCounter) sort_field = NameOf(query.sort.counter);
  if (query.sort.kind == SortKey::Kind::kTime) sort_field = NameOf(query.sort.time);

  Client client = pool_->Lease();
  CollectionPtr repositories = client.Collection(database_, repository_collection_);
  CollectionPtr days = client.Collection(database_, CollectionName("days"));
  Bson filter;
  std::vector<std::string> of_actor;
  if (!query.actor.empty()) {
    CollectionPtr actors = client.Collection(database_, CollectionName("actors"));
    Bson by_actor;
    Append(by_actor.get(), "actor", query.actor);
    auto names = Collect<std::string>(actors.get(), by_actor.get(), nullptr, [](const bson_t* doc) {
      return mongo::StringField(doc, "repository");
    });
    if (!names.ok()) return names.status();
    of_actor = std::move(*names);
  }
  if (!query.name_prefix.empty() || !query.actor.empty()) {
    AppendDocument(filter.get(), "repositoryname", [&](bson_t* name) {
      if (!query.name_prefix.empty()) Append(name, "$regex", PrefixPattern(query.name_prefix));
      if (!query.actor.empty()) Append(name, "$in", of_actor);
    });
  }
  if (query.pulled_before) {
    // Never pulled counts as pulled before any time: the cleanup candidates.
    AppendDocument(filter.get(), NameOf(TimeField::kLastPulled), [&](bson_t* c) {
      AppendDocument(c, "$not", [&](bson_t* n) { Append(n, "$gte", Date{*query.pulled_before}); });
    });
  }
  if (query.pushed_after) {
    AppendDocument(filter.get(), NameOf(TimeField::kLastPushed),
                   [&](bson_t* c) { Append(c, "$gt", Date{*query.pushed_after}); });
  }

  bson_error_t error;
  RepositoryPage page;
  page.total = mongoc_collection_count_documents(repositories.get(), filter.get(), nullptr, nullptr,
                                                 nullptr, &error);
  if (page.total < 0) return ToStatus(error, "counting repositories");
  // limit 0 means "no limit" to MongoDB, and "only the total" here.
  if (query.limit == 0) return page;

  Bson opts;
  if (!window_sort) {
    AppendDocument(opts.get(), "sort", [&](bson_t* sort) {
      Append(sort, sort_field, std::int64_t{query.descending ? -1 : 1});
      // Ties sort by name, ascending whatever the direction, so pages are stable. Unset times
      // sort first ascending and last descending, as NULLs do in SQLite.
      if (sort_field != kNameField) Append(sort, kNameField, std::int64_t{1});
    });
    Append(opts.get(), "skip", query.offset);
    Append(opts.get(), "limit", query.limit);
  }
  auto items =
      Collect<RepositoryRecord>(repositories.get(), filter.get(), opts.get(), ReadRepository);
  if (!items.ok()) return items.status();
  page.items = std::move(*items);
  if (!windowed) return page;

  // Window counts: the days since the window's first day, summed per repository by the server;
  // for the page only, unless the page is chosen by them.
  std::map<std::string, WindowCounters> windows;
  Status status = SumDays(days.get(), *query.window_from_day,
                          window_sort ? nullptr : &page.items, &windows);
  if (!status.ok()) return status;
  for (RepositoryRecord& item : page.items) item.window = windows[item.repositoryname];
  if (window_sort) {
    const auto value = [&](RepositoryRecord& r) { return (*r.window)[query.sort.counter]; };
    std::sort(page.items.begin(), page.items.end(), [&](auto& a, auto& b) {
      if (value(a) != value(b)) return query.descending ? value(a) > value(b) : value(a) < value(b);
      return a.repositoryname < b.repositoryname;
    });
    const auto first = std::min<std::size_t>(page.items.size(), query.offset);
    const auto last = std::min<std::size_t>(page.items.size() - first, query.limit) + first;
    page.items = std::vector<RepositoryRecord>(std::make_move_iterator(page.items.begin() + first),
                                               std::make_move_iterator(page.items.begin() + last));
  }
  return page;
}

Result<Summary> MongoStore::Summarize(const std::string& from_day, const std::string& to_day) {
  Client client = pool_->Lease();
  CollectionPtr repositories = client.Collection(database_, repository_collection_);
  // Counts and sums by the server, ...
  Summary summary;
  Bson all;
  bson_error_t error;
  summary.repositories = mongoc_collection_count_documents(repositories.get(), all.get(), nullptr,
                                                           nullptr, nullptr, &error);
  if (summary.repositories < 0) return ToStatus(error, "counting repositories");
  Bson match;
  AppendDocument(match.get(), "$match", [](bson_t*) {});
  for (const auto& counter : kCounterFields) {
    Status status = SumBy(
        repositories.get(), match.get(), nullptr, counter.name,
        [&](const std::string&, std::int64_t sum) { summary.totals.counts[counter.counter] = sum; });
    if (!status.ok()) return status;
  }
  // ... and the extremes of the times as the first document of an indexable sort, since not
  // every server has $min and $max accumulators.
  for (const auto& time : kTimeFields) {
    Bson filter;
    AppendDocument(filter.get(), time.name, [](bson_t* c) { Append(c, "$exists", true); });
    Bson opts;
    const bool latest = time.fold == Fold::kLatest;
    AppendDocument(opts.get(), "sort",
                   [&](bson_t* sort) { Append(sort, time.name, std::int64_t{latest ? -1 : 1}); });
    Append(opts.get(), "limit", std::int64_t{1});
    auto found = Collect<std::optional<UnixMillis>>(
        repositories.get(), filter.get(), opts.get(),
        [&](const bson_t* doc) { return mongo::DateField(doc, time.name); });
    if (!found.ok()) return found.status();
    if (!found->empty()) summary.totals.times[time.field] = found->front();
  }

  CollectionPtr totals = client.Collection(database_, CollectionName("totaldays"));
  Bson range;
  AppendDocument(range.get(), "day", [&](bson_t* c) {
    Append(c, "$gte", from_day);
    Append(c, "$lte", to_day);
  });
  auto days =
      Collect<DayRecord>(totals.get(), range.get(), SortedBy("day").get(), [](const bson_t* doc) {
        return DayRecord{mongo::StringField(doc, "day"), ReadCounters(doc)};
      });
  if (!days.ok()) return days.status();
  summary.days = std::move(*days);
  return summary;
}

Result<std::optional<RepositoryRecord>> MongoStore::GetRepository(const std::string& name) {
  Client client = pool_->Lease();
  CollectionPtr repositories = client.Collection(database_, repository_collection_);
  Bson filter;
  Append(filter.get(), "repositoryname", name);
  Bson opts;
  Append(opts.get(), "limit", std::int64_t{1});
  auto found =
      Collect<RepositoryRecord>(repositories.get(), filter.get(), opts.get(), ReadRepository);
  if (!found.ok()) return found.status();
  if (found->empty()) return std::optional<RepositoryRecord>();
  RepositoryRecord record = std::move(found->front());

  CollectionPtr tags = client.Collection(database_, CollectionName("tags"));
  Bson live = OfRepository(name);
  Append(live.get(), "deleted", false);
  Bson sorted = SortedBy("tag");
  auto names = Collect<std::string>(tags.get(), live.get(), sorted.get(), [](const bson_t* doc) {
    return mongo::StringField(doc, "tag");
  });
  if (!names.ok()) return names.status();
  record.tags = std::move(*names);
  return std::optional<RepositoryRecord>(std::move(record));
}

Result<std::vector<TagRecord>> MongoStore::ListTags(const std::string& repository) {
  Client client = pool_->Lease();
  CollectionPtr tags = client.Collection(database_, CollectionName("tags"));
  return Collect<TagRecord>(
      tags.get(), OfRepository(repository).get(), SortedBy("tag").get(), [](const bson_t* doc) {
        return TagRecord{mongo::StringField(doc, "tag"), mongo::StringField(doc, "digest"),
                         mongo::BoolField(doc, "deleted"), ReadCounters(doc)};
      });
}

Result<std::vector<DigestRecord>> MongoStore::ListDigests(const std::string& repository) {
  Client client = pool_->Lease();
  CollectionPtr digests = client.Collection(database_, CollectionName("digests"));
  return Collect<DigestRecord>(
      digests.get(), OfRepository(repository).get(), SortedBy("digest").get(),
      [](const bson_t* doc) {
        return DigestRecord{mongo::StringField(doc, "digest"),
                            mongo::StringField(doc, "media_type"), mongo::Int64Field(doc, "size"),
                            mongo::BoolField(doc, "deleted"), ReadCounters(doc)};
      });
}

Result<std::vector<ActorRecord>> MongoStore::ListActors(const std::string& repository) {
  Client client = pool_->Lease();
  CollectionPtr actors = client.Collection(database_, CollectionName("actors"));
  return Collect<ActorRecord>(
      actors.get(), OfRepository(repository).get(), SortedBy("actor").get(), [](const bson_t* doc) {
        return ActorRecord{mongo::StringField(doc, "actor"), ReadCounters(doc),
                           mongo::DateField(doc, "firstseen"), mongo::DateField(doc, "lastseen")};
      });
}

Result<std::vector<DayRecord>> MongoStore::ListDays(const std::string& repository,
                                                    const std::string& from_day,
                                                    const std::string& to_day) {
  Client client = pool_->Lease();
  CollectionPtr days = client.Collection(database_, CollectionName("days"));
  Bson filter = OfRepository(repository);
  AppendDocument(filter.get(), "day", [&](bson_t* range) {
    Append(range, "$gte", from_day);
    Append(range, "$lte", to_day);
  });
  return Collect<DayRecord>(days.get(), filter.get(), SortedBy("day").get(), [](const bson_t* doc) {
    return DayRecord{mongo::StringField(doc, "day"), ReadCounters(doc)};
  });
}

void MongoStore::SetFaultPointForTesting(std::int64_t writes) {
  std::lock_guard lock(writer_mutex_);
  fault_budget_ = writes;
}

std::int64_t MongoStore::last_apply_writes_for_testing() const { return writes_; }

}  // namespace drec
