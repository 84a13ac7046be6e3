#include "store/registries/merged_reader.h"

#include <algorithm>
#include <compare>
#include <iterator>
#include <map>
#include <optional>

namespace drec {
namespace {

// The value a record is sorted by; only one of the members is used per sort key.
struct SortValue {
  std::int64_t count = 0;
  std::optional<UnixMillis> time;
};

SortValue ValueOf(const RepositoryRecord& r, const SortKey& sort) {
  switch (sort.kind) {
    case SortKey::Kind::kCounter:
      return {r.counters.counts[sort.counter], std::nullopt};
    case SortKey::Kind::kWindowCounter:
      return {r.window ? (*r.window)[sort.counter] : 0, std::nullopt};
    case SortKey::Kind::kTime:
      return {0, r.counters.times[sort.time]};
    case SortKey::Kind::kName:
      break;
  }
  return {};
}

}  // namespace

bool ListedBefore(const RepositoryRecord& a, const RepositoryRecord& b,
                  const RepositoryQuery& query) {
  if (query.sort.kind != SortKey::Kind::kName) {
    const SortValue va = ValueOf(a, query.sort), vb = ValueOf(b, query.sort);
    // Unset times sort lowest, as nullopt compares below every value.
    const std::strong_ordering order =
        query.sort.kind == SortKey::Kind::kTime ? va.time <=> vb.time : va.count <=> vb.count;
    if (order != std::strong_ordering::equal) {
      return query.descending ? order == std::strong_ordering::greater
                              : order == std::strong_ordering::less;
    }
  } else if (a.repositoryname != b.repositoryname) {
    return query.descending ? a.repositoryname > b.repositoryname
                            : a.repositoryname < b.repositoryname;
  }
  if (a.repositoryname != b.repositoryname) return a.repositoryname < b.repositoryname;
  return a.registry < b.registry;
}

Result<RepositoryPage> NamedRegistryReader::ListRepositories(const RepositoryQuery& query) {
  auto page = store_.ListRepositories(query);
  if (page.ok()) {
    for (RepositoryRecord& record : page->items) record.registry = registry_;
  }
  return page;
}

Result<Summary> NamedRegistryReader::Summarize(const std::string& from_day,
                                               const std::string& to_day) {
  return store_.Summarize(from_day, to_day);
}

Result<std::optional<RepositoryRecord>> NamedRegistryReader::GetRepository(
    const std::string& name) {
  auto record = store_.GetRepository(name);
  if (record.ok() && record->has_value()) (*record)->registry = registry_;
  return record;
}

Result<std::vector<TagRecord>> NamedRegistryReader::ListTags(const std::string& repository) {
  return store_.ListTags(repository);
}

Result<std::vector<DigestRecord>> NamedRegistryReader::ListDigests(const std::string& repository) {
  return store_.ListDigests(repository);
}

Result<std::vector<ActorRecord>> NamedRegistryReader::ListActors(const std::string& repository) {
  return store_.ListActors(repository);
}

Result<std::vector<DayRecord>> NamedRegistryReader::ListDays(const std::string& repository,
                                                             const std::string& from_day,
                                                             const std::string& to_day) {
  return store_.ListDays(repository, from_day, to_day);
}

Result<std::vector<ClassRecord>> NamedRegistryReader::ListClasses(const std::string& repository,
                                                                  const ClassQuery& query) {
  return store_.ListClasses(repository, query);
}

Result<RepositoryPage> MergedReader::ListRepositories(const RepositoryQuery& query) {
  // One registry (the usual setup) pages itself: no need to fetch everything before the page.
  if (registries_.size() == 1) return registries_.front()->ListRepositories(query);
  // Each registry's first offset + limit, in the query's order, hold the merged page.
  RepositoryQuery each = query;
  each.offset = 0;
  each.limit = query.offset + query.limit;
  RepositoryPage merged;
  for (StoreReader* registry : registries_) {
    auto page = registry->ListRepositories(each);
    if (!page.ok()) return page.status();
    merged.total += page->total;
    std::move(page->items.begin(), page->items.end(), std::back_inserter(merged.items));
  }
  std::sort(merged.items.begin(), merged.items.end(),
            [&](const RepositoryRecord& a, const RepositoryRecord& b) {
              return ListedBefore(a, b, query);
            });
  const auto size = static_cast<std::int64_t>(merged.items.size());
  const std::int64_t first = std::min(size, query.offset);
  const std::int64_t last = std::min(size, first + query.limit);
  merged.items =
      std::vector<RepositoryRecord>(std::make_move_iterator(merged.items.begin() + first),
                                    std::make_move_iterator(merged.items.begin() + last));
  return merged;
}

Result<Summary> MergedReader::Summarize(const std::string& from_day, const std::string& to_day) {
  Summary total;
  std::map<std::string, CounterValues> days;
  for (StoreReader* registry : registries_) {
    auto summary = registry->Summarize(from_day, to_day);
    if (!summary.ok()) return summary.status();
    total.repositories += summary->repositories;
    total.totals += summary->totals;
    for (const DayRecord& day : summary->days) days[day.day] += day.counters.counts;
  }
  for (auto& [day, counts] : days) total.days.push_back(DayRecord{day, Counters{counts, {}}});
  return total;
}

}  // namespace drec
