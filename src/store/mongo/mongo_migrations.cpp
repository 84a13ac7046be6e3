#include "store/mongo/mongo_migrations.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>

#include "model/fields.h"
#include "util/time.h"

namespace drec::mongo {
namespace {

using CollectionNamer = std::function<std::string(std::string_view)>;

// An update of every document of one collection that matches `filter`.
Status UpdateMany(Client& client, const std::string& database, const std::string& collection,
                  const bson_t* filter, const bson_t* update) {
  CollectionPtr target = client.Collection(database, collection);
  bson_error_t error;
  if (!mongoc_collection_update_many(target.get(), filter, update, nullptr, nullptr, &error)) {
    return ToStatus(error, "migrating " + collection);
  }
  return Status::Ok();
}

// Version 1: attachments. Tags named after a digest (docs/counting.md#attachments) are marked,
// and repositories get the attachment counters, so sorting by them finds every document.
Status MarkAttachments(Client& client, const std::string& database, const CollectionNamer& name) {
  Bson tags;
  AppendDocument(tags.get(), "tag", [](bson_t* regex) {
    Append(regex, "$regex", "^(sha256-[0-9a-f]{64}|sha512-[0-9a-f]{128})(\\.sig|\\.att|\\.sbom)?$");
  });
  Bson mark;
  AppendDocument(mark.get(), "$set", [](bson_t* set) { Append(set, "attachment", true); });
  Status status = UpdateMany(client, database, name("tags"), tags.get(), mark.get());
  if (!status.ok()) return status;
  for (Counter counter : {Counter::kAttachmentPushes, Counter::kAttachmentPulls}) {
    Bson missing;
    AppendDocument(missing.get(), NameOf(counter),
                   [](bson_t* exists) { Append(exists, "$exists", false); });
    Bson zero;
    AppendDocument(zero.get(), "$set",
                   [&](bson_t* set) { Append(set, NameOf(counter), std::int64_t{0}); });
    status = UpdateMany(client, database, name("repositories"), missing.get(), zero.get());
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

// Reads every document of `collection` that `filter` matches, `projection` fields only.
template <typename ReadFn>
Status ReadAll(Client& client, const std::string& database, const std::string& collection,
               const bson_t* filter, std::initializer_list<std::string_view> projection,
               ReadFn read) {
  CollectionPtr source = client.Collection(database, collection);
  Bson opts;
  AppendDocument(opts.get(), "projection", [&](bson_t* fields) {
    for (std::string_view field : projection) Append(fields, field, std::int64_t{1});
  });
  CursorPtr cursor(mongoc_collection_find_with_opts(source.get(), filter, opts.get(), nullptr));
  return ForEach(cursor.get(), "migrating " + collection, read);
}

// Version 2: the time from which drec has seen a repository's traffic (the retention planner's
// observation window). Repositories recorded before start at the earliest time known of them:
// first pushed, first pulled, or an actor's first seen. Computed here rather than by the server,
// since FerretDB has no pipeline updates; $min makes the writes safe to repeat. A repository
// with no time at all keeps no field (unknown).
Status StartObservation(Client& client, const std::string& database, const CollectionNamer& name) {
  std::map<std::string, std::optional<UnixMillis>> earliest;
  Bson all;
  const std::string first_pushed(NameOf(TimeField::kFirstPushed));
  const std::string first_pulled(NameOf(TimeField::kFirstPulled));
  Status status = ReadAll(client, database, name("repositories"), all.get(),
                          {"repositoryname", first_pushed, first_pulled}, [&](const bson_t* doc) {
                            auto& t = earliest[StringField(doc, "repositoryname")];
                            t = Earliest(t, DateField(doc, first_pushed));
                            t = Earliest(t, DateField(doc, first_pulled));
                          });
  if (!status.ok()) return status;
  status = ReadAll(client, database, name("actors"), all.get(), {"repository", "firstseen"},
                   [&](const bson_t* doc) {
                     // Actors of a repository that has no document are no repository to start.
                     const auto found = earliest.find(StringField(doc, "repository"));
                     if (found == earliest.end()) return;
                     found->second = Earliest(found->second, DateField(doc, "firstseen"));
                   });
  if (!status.ok()) return status;
  // Bounded bulks: one write per repository, without one round trip each.
  constexpr std::size_t kChunk = 1000;
  CollectionPtr repositories = client.Collection(database, name("repositories"));
  auto next = earliest.begin();
  while (next != earliest.end()) {
    Bson bulk_opts;
    Append(bulk_opts.get(), "ordered", false);
    BulkPtr bulk(
        mongoc_collection_create_bulk_operation_with_opts(repositories.get(), bulk_opts.get()));
    std::size_t queued = 0;
    bson_error_t error;
    for (; next != earliest.end() && queued < kChunk; ++next) {
      if (!next->second) continue;
      Bson filter;
      Append(filter.get(), "repositoryname", next->first);
      Bson update;
      AppendDocument(update.get(), "$min",
                     [&](bson_t* min) { Append(min, "observedsince", Date{*next->second}); });
      if (!mongoc_bulk_operation_update_one_with_opts(bulk.get(), filter.get(), update.get(),
                                                      nullptr, &error)) {
        return ToStatus(error, "migrating repositories");
      }
      ++queued;
    }
    if (queued == 0) break;
    bson_t reply;
    const bool ok = mongoc_bulk_operation_execute(bulk.get(), &reply, &error) != 0;
    bson_destroy(&reply);
    if (!ok) return ToStatus(error, "migrating repositories");
  }
  return Status::Ok();
}

// Version 3: the rolling window's window_* counters (docs/mongodb.md#the-rolling-window). The
// window is left not valid (no from_day), so the first trending query computes every
// repository's window from its days; a drec of version 2 refuses the database from then on, and
// cannot write batches that leave the window behind.
Status ResetWindow(Client& client, const std::string& database, const CollectionNamer& name) {
  CollectionPtr meta = client.Collection(database, name("meta"));
  Bson filter;
  Append(filter.get(), "_id", "window");
  bson_error_t error;
  if (!mongoc_collection_delete_one(meta.get(), filter.get(), nullptr, nullptr, &error)) {
    return ToStatus(error, "migrating the rolling window");
  }
  return Status::Ok();
}

using Migration = Status (*)(Client&, const std::string&, const CollectionNamer&);
// Entry i takes the database from version i to i + 1. Never change one once released.
constexpr std::array<Migration, 3> kMigrations = {MarkAttachments, StartObservation, ResetWindow};

}  // namespace

Status Migrate(Client& client, const std::string& database, const CollectionNamer& name) {
  CollectionPtr meta = client.Collection(database, name("meta"));
  Bson schema;
  Append(schema.get(), "_id", "schema");
  std::int64_t version = 0;
  CursorPtr cursor(mongoc_collection_find_with_opts(meta.get(), schema.get(), nullptr, nullptr));
  Status status = ForEach(cursor.get(), "reading the schema version",
                          [&](const bson_t* doc) { version = Int64Field(doc, "version"); });
  if (!status.ok()) return status;
  if (version > static_cast<std::int64_t>(kMigrations.size())) {
    return Status::Internal(
        fmt::format("mongodb: database schema version {} is newer than this drec supports ({})",
                    version, kMigrations.size()));
  }
  for (auto next = static_cast<std::size_t>(version); next < kMigrations.size(); ++next) {
    spdlog::info("mongodb: migrating the data model to version {}", next + 1);
    status = kMigrations[next](client, database, name);
    if (!status.ok()) return status;
    Bson record;
    AppendDocument(record.get(), "$set", [&](bson_t* set) {
      Append(set, "version", static_cast<std::int64_t>(next + 1));
    });
    bson_error_t error;
    Bson opts;
    Append(opts.get(), "upsert", true);
    if (!mongoc_collection_update_one(meta.get(), schema.get(), record.get(), opts.get(), nullptr,
                                      &error)) {
      return ToStatus(error, "recording the schema version");
    }
  }
  return Status::Ok();
}

}  // namespace drec::mongo
