// Which store each registry's statistics live in, and opening it: shared by drec's server (one
// Store per registry), drec migrate (a source and a target per registry) and drec backup.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/settings.h"
#include "store/store.h"
#include "store/transfer/record_tables.h"
#include "util/status.h"

namespace drec {

// The registries a drec with `settings` serves: "default" first, then `registries`.
std::vector<std::string> RegistryNames(const Settings& settings);

// Where a registry's statistics live: the configured file, schema or collection for the default
// registry, as before registries were told apart; beside it, named after it, for the others.
std::string SqlitePathOf(const Settings& settings, std::string_view registry);
std::string MongoCollectionOf(const Settings& settings, std::string_view registry);
std::string PostgresSchemaOf(const Settings& settings, std::string_view registry);

// What the log says the store is: never a URI, which may hold a password.
std::string StoreDescription(const Settings& settings);

// The store of one registry. Unavailable when its server does not answer (start-up waits);
// InvalidArgument, naming the setting, when it is misconfigured.
Result<std::unique_ptr<Store>> OpenStore(const Settings& settings, std::string_view registry);

// One store per registry served, the default one's first.
Result<std::map<std::string, std::unique_ptr<Store>, std::less<>>> OpenStores(
    const Settings& settings);

// A registry's store as the source of drec migrate (it must exist), or as its target.
Result<std::unique_ptr<transfer::RecordSource>> OpenRecordSource(const Settings& settings,
                                                                 std::string_view registry);
Result<std::unique_ptr<transfer::RecordSink>> OpenRecordSink(const Settings& settings,
                                                             std::string_view registry);

}  // namespace drec
