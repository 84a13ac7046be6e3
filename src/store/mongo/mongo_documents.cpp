#include "store/mongo/mongo_documents.h"

namespace drec::mongo {

Counters ReadCounters(const bson_t* doc) {
  Counters c;
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    c.counts.at(i) = Int64Field(doc, kCounterFields[i].name);
  }
  for (std::size_t i = 0; i < kTimeFieldCount; ++i) {
    c.times.at(i) = DateField(doc, kTimeFields[i].name);
  }
  return c;
}

RepositoryRecord ReadRepository(const bson_t* doc) {
  RepositoryRecord record;
  record.repositoryname = StringField(doc, kNameField);
  record.counters = ReadCounters(doc);
  record.actors = StringsField(doc, "actors");
  record.numstars = Int64Field(doc, "numstars");
  record.observedsince = DateField(doc, "observedsince");
  return record;
}

Bson SortedBy(std::string_view field) {
  Bson opts;
  AppendDocument(opts.get(), "sort", [&](bson_t* sort) { Append(sort, field, std::int64_t{1}); });
  return opts;
}

}  // namespace drec::mongo
