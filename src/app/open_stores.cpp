#include "app/open_stores.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "model/registry.h"
#include "store/mongo/mongo_store.h"
#include "store/mongo/mongo_transfer.h"
#include "store/postgresql/pg_store.h"
#include "store/postgresql/pg_transfer.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_transfer.h"

namespace drec {
namespace {

// A store's failure as start-up reports it: the setting's group first; unreachable stays
// Unavailable (worth waiting for), anything else is the configuration's fault.
Status Named(std::string_view setting, const Status& status) {
  const std::string why = std::string(setting) + ": " + status.message();
  return status.code() == Status::Code::kUnavailable ? Status::Unavailable(why)
                                                     : Status::InvalidArgument(why);
}

}  // namespace

std::vector<std::string> RegistryNames(const Settings& settings) {
  std::vector<std::string> names = {std::string(kDefaultRegistry)};
  for (const std::string& name : settings.registries) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

std::string SqlitePathOf(const Settings& settings, std::string_view registry) {
  if (registry == kDefaultRegistry) return settings.sqlite_path;
  const std::filesystem::path path(settings.sqlite_path);
  return (path.parent_path() /
          fmt::format("{}@{}{}", path.stem().string(), registry, path.extension().string()))
      .string();
}

std::string MongoCollectionOf(const Settings& settings, std::string_view registry) {
  if (registry == kDefaultRegistry) return settings.mongodb_collection;
  return fmt::format("{}@{}", settings.mongodb_collection, registry);
}

std::string PostgresSchemaOf(const Settings& settings, std::string_view registry) {
  if (registry == kDefaultRegistry) return settings.postgresql_schema;
  return fmt::format("{}@{}", settings.postgresql_schema, registry);
}

std::string StoreDescription(const Settings& settings) {
  switch (settings.backend) {
    case Backend::kSqlite:
      return settings.sqlite_path;
    case Backend::kMongodb:
      return fmt::format("mongodb, database {}", settings.mongodb_database);
    case Backend::kPostgresql:
      return fmt::format("postgresql, schema {}", settings.postgresql_schema);
  }
  return "unknown";
}

Result<std::unique_ptr<Store>> OpenStore(const Settings& settings, std::string_view registry) {
  switch (settings.backend) {
    case Backend::kSqlite: {
      auto store = SqliteStore::Open(SqlitePathOf(settings, registry));
      if (!store.ok()) {
        return Status::InvalidArgument("storage.sqlite.path: " + store.status().message());
      }
      return std::unique_ptr<Store>(std::move(store).value());
    }
    case Backend::kMongodb: {
      auto store = MongoStore::Open(settings.mongodb_uri, settings.mongodb_database,
                                    MongoCollectionOf(settings, registry), settings.retention_days);
      if (!store.ok()) return Named("storage.mongodb", store.status());
      return std::unique_ptr<Store>(std::move(store).value());
    }
    case Backend::kPostgresql: {
      auto store =
          PostgresStore::Open(settings.postgresql_uri, PostgresSchemaOf(settings, registry));
      if (!store.ok()) return Named("storage.postgresql", store.status());
      return std::unique_ptr<Store>(std::move(store).value());
    }
  }
  return Status::InvalidArgument("storage.backend: unknown backend");
}

Result<std::map<std::string, std::unique_ptr<Store>, std::less<>>> OpenStores(
    const Settings& settings) {
  std::map<std::string, std::unique_ptr<Store>, std::less<>> stores;
  for (const std::string& name : RegistryNames(settings)) {
    auto store = OpenStore(settings, name);
    if (!store.ok()) return store.status();
    stores.emplace(name, std::move(store).value());
  }
  return stores;
}

Result<std::unique_ptr<transfer::RecordSource>> OpenRecordSource(const Settings& settings,
                                                                 std::string_view registry) {
  switch (settings.backend) {
    case Backend::kSqlite: {
      auto source = SqliteTransfer::OpenSource(SqlitePathOf(settings, registry));
      if (!source.ok()) return Named("storage.sqlite", source.status());
      return std::unique_ptr<transfer::RecordSource>(std::move(source).value());
    }
    case Backend::kMongodb: {
      auto source =
          MongoTransfer::OpenSource(settings.mongodb_uri, settings.mongodb_database,
                                    MongoCollectionOf(settings, registry), settings.retention_days);
      if (!source.ok()) return Named("storage.mongodb", source.status());
      return std::unique_ptr<transfer::RecordSource>(std::move(source).value());
    }
    case Backend::kPostgresql: {
      auto source = PostgresTransfer::OpenSource(settings.postgresql_uri,
                                                 PostgresSchemaOf(settings, registry));
      if (!source.ok()) return Named("storage.postgresql", source.status());
      return std::unique_ptr<transfer::RecordSource>(std::move(source).value());
    }
  }
  return Status::InvalidArgument("storage.backend: unknown backend");
}

Result<std::unique_ptr<transfer::RecordSink>> OpenRecordSink(const Settings& settings,
                                                             std::string_view registry) {
  switch (settings.backend) {
    case Backend::kSqlite: {
      auto sink = SqliteTransfer::OpenSink(SqlitePathOf(settings, registry));
      if (!sink.ok()) return Named("storage.sqlite", sink.status());
      return std::unique_ptr<transfer::RecordSink>(std::move(sink).value());
    }
    case Backend::kMongodb: {
      auto sink =
          MongoTransfer::OpenSink(settings.mongodb_uri, settings.mongodb_database,
                                  MongoCollectionOf(settings, registry), settings.retention_days);
      if (!sink.ok()) return Named("storage.mongodb", sink.status());
      return std::unique_ptr<transfer::RecordSink>(std::move(sink).value());
    }
    case Backend::kPostgresql: {
      auto sink =
          PostgresTransfer::OpenSink(settings.postgresql_uri, PostgresSchemaOf(settings, registry));
      if (!sink.ok()) return Named("storage.postgresql", sink.status());
      return std::unique_ptr<transfer::RecordSink>(std::move(sink).value());
    }
  }
  return Status::InvalidArgument("storage.backend: unknown backend");
}

}  // namespace drec
