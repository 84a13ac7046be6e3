// Brings documents written by earlier drec releases up to this release's data model, once per
// database: the version reached is kept in the `<collection>.meta` document {_id: "schema"},
// so a restart does not scan the collections again. Indexes are not migrations: the store
// creates them idempotently at every start.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "store/mongo/mongo_driver.h"
#include "util/status.h"

namespace drec::mongo {

// Runs every migration the database has not had, in order, recording each one when it is done;
// each is idempotent, so one interrupted before its record runs again harmlessly.
// `collection_name` maps a role ("tags", "meta") to the collection's name.
[[nodiscard]] Status Migrate(Client& client, const std::string& database,
                             const std::function<std::string(std::string_view)>& collection_name);

}  // namespace drec::mongo
