// The MongoDB store's read side: the queries of the API.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <utility>

#include "store/mongo/mongo_documents.h"
#include "store/mongo/mongo_driver.h"
#include "store/mongo/mongo_store.h"
#include "store/mongo/write_plan.h"

namespace drec {
namespace {

using mongo::Append;
using mongo::AppendDocument;
using mongo::Bson;
using mongo::Client;
using mongo::Collect;
using mongo::CollectionPtr;
using mongo::CursorPtr;
using mongo::Date;
using mongo::kNameField;
using mongo::ReadCounters;
using mongo::ReadRepository;
using mongo::SortedBy;
using mongo::ToStatus;

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
                     [&](bson_t* sum) { Append(sum, "$sum", fmt::format("${}", field)); });
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

Bson OfRepository(const std::string& repository) {
  Bson filter;
  Append(filter.get(), "repository", repository);
  return filter;
}
}  // namespace

Result<RepositoryPage> MongoStore::ListRepositories(const RepositoryQuery& query) {
  // The rolling window (store.h) is read from the repositories' window_* fields once it starts
  // on the asked day; any other window sums the days.
  const std::string rolling_from = RollingWindowFrom(clock_());
  bool rolled = query.window_from_day == rolling_from;
  Client client = pool_->Lease();
  if (rolled) {
    auto stored = StoredWindowFrom(client);
    if (!stored.ok()) return stored.status();
    if (*stored != rolling_from) {
      // A day went by (or the window is not valid yet): roll it. Should that fail (the lease
      // lost, the server gone), the days are summed instead.
      Status status = RollWindow(rolling_from);
      if (!status.ok()) {
        spdlog::warn("mongodb: the rolling window was not rolled to {} ({}); summing days",
                     rolling_from, status.message());
        rolled = false;
      } else {
        stored = StoredWindowFrom(client);
        if (!stored.ok()) return stored.status();
        rolled = *stored == rolling_from;
      }
    }
  }
  if (!rolled) return ListRepositoriesIn(client, query, /*rolled=*/false);
  auto page = ListRepositoriesIn(client, query, /*rolled=*/true);
  if (!page.ok()) return page;
  // No snapshot: should a roll have started while the page was read (the next day's first
  // trending query), the days are summed instead.
  auto after = StoredWindowFrom(client);
  if (!after.ok()) return after.status();
  if (*after != rolling_from) return ListRepositoriesIn(client, query, /*rolled=*/false);
  return page;
}

Result<RepositoryPage> MongoStore::ListRepositoriesIn(Client& client, const RepositoryQuery& query,
                                                      bool rolled) {
  const bool windowed = query.window_from_day.has_value();
  // Sorted by the server unless the order is a summed window's.
  const bool window_sort = query.sort.kind == SortKey::Kind::kWindowCounter && !rolled;
  std::string sort_field(kNameField);
  if (query.sort.kind == SortKey::Kind::kCounter) sort_field = NameOf(query.sort.counter);
  if (query.sort.kind == SortKey::Kind::kTime) sort_field = NameOf(query.sort.time);
  if (query.sort.kind == SortKey::Kind::kWindowCounter) {
    sort_field = mongo::WindowField(query.sort.counter);
  }

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
  auto items = Collect<RepositoryRecord>(
      repositories.get(), filter.get(), opts.get(), [rolled](const bson_t* doc) {
        RepositoryRecord record = ReadRepository(doc);
        if (rolled) {
          WindowCounters window{};
          for (const auto& field : kCounterFields) {
            window[field.counter] = mongo::Int64Field(doc, mongo::WindowField(field.counter));
          }
          record.window = window;
        }
        return record;
      });
  if (!items.ok()) return items.status();
  page.items = std::move(*items);
  if (!windowed || rolled) return page;

  // Window counts: the days since the window's first day, summed per repository by the server;
  // for the page only, unless the page is chosen by them.
  std::map<std::string, WindowCounters> windows;
  Status status =
      SumDays(days.get(), *query.window_from_day, window_sort ? nullptr : &page.items, &windows);
  if (!status.ok()) return status;
  for (RepositoryRecord& item : page.items) item.window = windows[item.repositoryname];
  if (window_sort) {
    const auto value = [&](RepositoryRecord& r) { return (*r.window)[query.sort.counter]; };
    std::sort(page.items.begin(), page.items.end(), [&](auto& a, auto& b) {
      if (value(a) != value(b)) return query.descending ? value(a) > value(b) : value(a) < value(b);
      return a.repositoryname < b.repositoryname;
    });
    const auto size = static_cast<std::int64_t>(page.items.size());
    const std::ptrdiff_t first = std::min(size, query.offset);
    const std::ptrdiff_t last = std::min(size - first, query.limit) + first;
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
    Status status = SumBy(repositories.get(), match.get(), nullptr, counter.name,
                          [&](const std::string&, std::int64_t sum) {
                            summary.totals.counts[counter.counter] = sum;
                          });
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
  // Tags written before attachments were told apart have no field: they are image tags.
  AppendDocument(live.get(), "attachment", [](bson_t* ne) { Append(ne, "$ne", true); });
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
                         mongo::BoolField(doc, "deleted"), mongo::BoolField(doc, "attachment"),
                         ReadCounters(doc)};
      });
}

Result<std::vector<DigestRecord>> MongoStore::ListDigests(const std::string& repository) {
  Client client = pool_->Lease();
  CollectionPtr digests = client.Collection(database_, CollectionName("digests"));
  auto records = Collect<DigestRecord>(digests.get(), OfRepository(repository).get(),
                                       SortedBy("digest").get(), [](const bson_t* doc) {
                                         return DigestRecord{mongo::StringField(doc, "digest"),
                                                             mongo::StringField(doc, "media_type"),
                                                             mongo::Int64Field(doc, "size"),
                                                             mongo::BoolField(doc, "deleted"),
                                                             ReadCounters(doc),
                                                             {}};
                                       });
  if (!records.ok()) return records.status();
  CollectionPtr links = client.Collection(database_, CollectionName("digestparents"));
  std::map<std::string, std::vector<std::string>> parents;
  CursorPtr cursor(mongoc_collection_find_with_opts(links.get(), OfRepository(repository).get(),
                                                    nullptr, nullptr));
  Status status = mongo::ForEach(cursor.get(), "reading index parents", [&](const bson_t* doc) {
    parents[mongo::StringField(doc, "child")].push_back(mongo::StringField(doc, "parent"));
  });
  if (!status.ok()) return status;
  for (DigestRecord& record : *records) {
    const auto found = parents.find(record.digest);
    if (found == parents.end()) continue;
    // Sorted here, bytewise as in the other stores, whatever the server's collation.
    record.parents = std::move(found->second);
    std::sort(record.parents.begin(), record.parents.end());
  }
  return records;
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

Result<std::vector<ClassRecord>> MongoStore::ListClasses(const std::string& repository,
                                                         const ClassQuery& query) {
  Client client = pool_->Lease();
  CollectionPtr classes = client.Collection(database_, CollectionName("classes"));
  const bool per_day = query.from_day && query.to_day;
  Bson filter = OfRepository(repository);
  Append(filter.get(), "tag", per_day ? std::string() : query.tag);
  if (per_day) {
    AppendDocument(filter.get(), "day", [&](bson_t* range) {
      Append(range, "$gte", *query.from_day);
      Append(range, "$lte", *query.to_day);
    });
  } else {
    Append(filter.get(), "day", "");
  }
  Bson opts;
  AppendDocument(opts.get(), "sort", [](bson_t* sort) {
    Append(sort, "class", std::int64_t{1});
    Append(sort, "day", std::int64_t{1});
  });
  return Collect<ClassRecord>(classes.get(), filter.get(), opts.get(), [](const bson_t* doc) {
    return ClassRecord{mongo::StringField(doc, "class"), mongo::StringField(doc, "tag"),
                       mongo::StringField(doc, "day"), ReadCounters(doc)};
  });
}

}  // namespace drec
