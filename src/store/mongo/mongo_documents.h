// The MongoDB store's documents read back as records, shared by its write side (which reads
// stored days before a removal) and its queries (docs/data-model.md#mongodb).
#pragma once

#include <bson/bson.h>
#include <mongoc/mongoc.h>

#include <string_view>
#include <vector>

#include "store/mongo/mongo_driver.h"
#include "store/records.h"
#include "util/status.h"

namespace drec::mongo {

// The repository document's key field.
inline constexpr std::string_view kNameField = "repositoryname";

// The counters and times of any record document, each field named as in model/fields.h; a
// missing counter reads 0, a missing time unset.
Counters ReadCounters(const bson_t* doc);

// A repository document (without its live tags, which live in the tags collection).
RepositoryRecord ReadRepository(const bson_t* doc);

// Find options that sort by `field`, ascending.
Bson SortedBy(std::string_view field);

// Runs a find and converts every document with `read`.
template <typename Record, typename ReadFn>
Result<std::vector<Record>> Collect(mongoc_collection_t* collection, const bson_t* filter,
                                    const bson_t* opts, ReadFn read) {
  CursorPtr cursor(mongoc_collection_find_with_opts(collection, filter, opts, nullptr));
  std::vector<Record> records;
  Status status =
      ForEach(cursor.get(), "query", [&](const bson_t* doc) { records.push_back(read(doc)); });
  if (!status.ok()) return status;
  return records;
}

}  // namespace drec::mongo
