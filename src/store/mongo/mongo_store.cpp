// The MongoDB store's lifecycle: connecting, learning which server it is, creating indexes,
// and the readiness probe. The write side (journal, exactly once) is in mongo_writer.cpp, the
// queries in mongo_queries.cpp.
#include "store/mongo/mongo_store.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <string>
#include <utility>
#include <vector>

#include "store/mongo/mongo_documents.h"
#include "store/mongo/mongo_driver.h"
#include "store/mongo/mongo_migrations.h"
#include "store/mongo/write_plan.h"
#include "store/mongo/writer_lease.h"

namespace drec {
namespace {

// Server error codes the index set-up reacts to.
constexpr std::uint32_t kIndexOptionsConflict = 85;
constexpr std::uint32_t kNotImplemented = 238;
// Statements per write request on FerretDB (see MongoStore::DetectServer).
constexpr std::size_t kFerretDbRequestLimit = 50;

using mongo::Append;
using mongo::AppendDocument;
using mongo::Bson;
using mongo::Client;

// An index, in MongoDB's default naming so that an index another tool made for the same keys is
// recognised instead of duplicated.
struct Index {
  std::string_view role;
  std::vector<std::string> keys;  // "-field" sorts descending
  bool unique;
};

std::vector<Index> Indexes() {
  std::vector<Index> indexes = {{"repositories", {std::string(mongo::kNameField)}, true}};
  // The list's sorts, ties by name ascending: descending for the counters (top lists), both
  // ways for the last times (recently pushed or pulled; the cleanup's oldest first).
  for (const auto& counter : kCounterFields) {
    indexes.push_back({"repositories",
                       {fmt::format("-{}", counter.name), std::string(mongo::kNameField)},
                       false});
  }
  // Trending: the rolling window's pulls (docs/mongodb.md#the-rolling-window).
  indexes.push_back(
      {"repositories",
       {fmt::format("-{}", mongo::WindowField(Counter::kPulls)), std::string(mongo::kNameField)},
       false});
  for (const auto& time : kTimeFields) {
    if (time.fold != Fold::kLatest) continue;
    for (const char* direction : {"-", ""}) {
      indexes.push_back(
          {"repositories",
           {fmt::format("{}{}", direction, time.name), std::string(mongo::kNameField)},
           false});
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
      {"classes", {"repository", "class", "tag", "day"}, true},
      // Recovery deletes the claims of a journal never written: those above its number.
      {"eventids", {"seq"}, false},
  };
  indexes.insert(indexes.end(), companions.begin(), companions.end());
  return indexes;
}

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
      fmt::format_to(std::back_inserter(name), "{}{}{}", name.empty() ? "" : "_", field,
                     descending ? "_-1" : "_1");
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
  return ok ? Status::Ok() : mongo::ToStatus(*error, context);
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
}  // namespace

MongoStore::MongoStore(std::unique_ptr<mongo::ClientPool> pool, std::string database,
                       std::string repository_collection)
    : pool_(std::move(pool)),
      database_(std::move(database)),
      repository_collection_(std::move(repository_collection)) {}

MongoStore::~MongoStore() = default;

Result<std::unique_ptr<MongoStore>> MongoStore::Open(
    const std::string& uri, const std::string& database, const std::string& repository_collection,
    std::int64_t retention_days, std::chrono::milliseconds lease_duration, StoreClock clock) {
  if (uri.empty()) return Status::InvalidArgument("mongodb: no uri given");
  if (database.empty()) return Status::InvalidArgument("mongodb: no database given");
  if (repository_collection.empty()) {
    return Status::InvalidArgument("mongodb: no collection given");
  }
  auto pool = mongo::ClientPool::Create(uri, repository_collection);
  if (!pool.ok()) return pool.status();
  std::unique_ptr<MongoStore> store(
      new MongoStore(std::move(*pool), database, repository_collection));
  store->clock_ = clock ? std::move(clock) : StoreClock(NowMillis);
  Client client = store->pool_->Lease();
  Status status = store->DetectServer(client);
  if (!status.ok()) return status;
  // Before anything writes: migrations and recovery too assume a single writer.
  auto lease = mongo::WriterLease::Acquire(*store->pool_, {database, store->CollectionName("meta"),
                                                           repository_collection, lease_duration});
  if (!lease.ok()) return lease.status();
  store->lease_ = std::move(*lease);
  status = store->HoldLease(client);
  if (!status.ok()) return status;
  status = store->CreateIndexes(client, retention_days);
  if (!status.ok()) return status;
  status = mongo::Migrate(client, database,
                          [&store](std::string_view role) { return store->CollectionName(role); });
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
    return mongo::ToStatus(error, "reading the server's build info");
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
Status MongoStore::Ping() {
  Client client = pool_->Lease();
  Bson command;
  Append(command.get(), "ping", std::int64_t{1});
  bson_error_t error;
  Status status = RunCommand(client, "admin", command.get(), "ping", &error);
  if (!status.ok()) return status;
  // Not ready while another drec writes: a load balancer then sends the events elsewhere.
  std::uint64_t holding = 0;
  return lease_->Hold(client, &holding);
}

Status MongoStore::HoldLease(Client& client) {
  std::uint64_t holding = 0;
  Status status = lease_->Hold(client, &holding);
  if (!status.ok()) return status;
  if (holding != holding_) recovery_needed_ = true;
  holding_ = holding;
  return Status::Ok();
}

void MongoStore::StopRenewingLeaseForTesting() { lease_->StopRenewingForTesting(); }

void MongoStore::SetFaultPointForTesting(std::int64_t writes) {
  std::lock_guard lock(writer_mutex_);
  fault_budget_ = writes;
}

std::int64_t MongoStore::last_apply_writes_for_testing() const { return writes_; }

}  // namespace drec
