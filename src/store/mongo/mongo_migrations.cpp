#include "store/mongo/mongo_migrations.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>
#include <cstdint>

#include "model/fields.h"

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

using Migration = Status (*)(Client&, const std::string&, const CollectionNamer&);
// Entry i takes the database from version i to i + 1. Never change one once released.
constexpr std::array<Migration, 1> kMigrations = {MarkAttachments};

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
