#include "api/query_api.h"

#include <fmt/format.h>

#include <optional>

#include "api/csv.h"
#include "api/json_views.h"
#include "api/query_params.h"
#include "api/responses.h"
#include "util/time.h"

namespace drec {
namespace {

UnixMillis Today() { return StartOfUtcDay(NowMillis()); }

// One CSV column per counter and time, named as in the JSON; window counters prefixed.
std::string Csv(const RepositoryPage& page, bool windowed) {
  std::string out = "repositoryname";
  for (const auto& field : kCounterFields)
    fmt::format_to(std::back_inserter(out), ",{}", field.name);
  for (const auto& field : kTimeFields) fmt::format_to(std::back_inserter(out), ",{}", field.name);
  if (windowed) {
    for (const auto& field : kCounterFields) {
      fmt::format_to(std::back_inserter(out), ",window_{}", field.name);
    }
  }
  out += ",registry\r\n";
  for (const auto& r : page.items) {
    out += CsvCell(r.repositoryname);
    for (const auto& field : kCounterFields) {
      fmt::format_to(std::back_inserter(out), ",{}", r.counters.counts[field.counter]);
    }
    for (const auto& field : kTimeFields) {
      const auto& t = r.counters.times[field.field];
      out += ',';
      if (t) out += FormatRfc3339(*t);
    }
    if (windowed && r.window) {
      for (const auto& field : kCounterFields) {
        fmt::format_to(std::back_inserter(out), ",{}", (*r.window)[field.counter]);
      }
    }
    fmt::format_to(std::back_inserter(out), ",{}\r\n", CsvCell(r.registry));
  }
  return out;
}

// One entry per day of the range, zero where `days` (ascending) has none.
boost::json::array ZeroFilled(const DayRange& range, const std::vector<DayRecord>& days) {
  boost::json::array items;
  size_t next = 0;
  for (UnixMillis t = range.from; t <= range.to; t += kDayMillis) {
    const std::string day = UtcDay(t);
    if (next < days.size() && days[next].day == day) {
      items.push_back(DayJson(days[next++]));
    } else {
      items.push_back(DayJson(DayRecord{day, {}}));
    }
  }
  return items;
}

// The repository of a sub-resource must exist: 404 otherwise, or the store's failure.
std::optional<HttpResponse> UnknownRepository(StoreReader& store, const std::string& name) {
  auto repository = store.GetRepository(name);
  if (!repository.ok()) return StoreFailure(repository.status());
  if (!*repository) return ErrorResponse(404, "unknown repository \"" + name + "\"");
  return std::nullopt;
}

std::optional<HttpResponse> TakesNoParameters(const RouteRequest& request) {
  if (request.params.empty()) return std::nullopt;
  return ErrorResponse(400, "this resource takes no parameters");
}

template <typename Record, typename Render>
HttpResponse ListOf(const Result<std::vector<Record>>& records, const std::string& repository,
                    std::string_view field, Render render) {
  if (!records.ok()) return StoreFailure(records.status());
  boost::json::array items;
  for (const auto& record : *records) items.push_back(render(record));
  return JsonResponse(200,
                      boost::json::object{{"repository", repository}, {field, std::move(items)}});
}

// A sub-resource listing every record of one kind, for a repository that must exist.
template <typename Record, typename Render>
HttpResponse SubResource(StoreReader& store, const RouteRequest& request, std::string_view field,
                         Result<std::vector<Record>> (StoreReader::*list)(const std::string&),
                         Render render) {
  if (auto error = UnknownRepository(store, request.name)) return std::move(*error);
  if (auto error = TakesNoParameters(request)) return std::move(*error);
  return ListOf((store.*list)(request.name), request.name, field, render);
}

}  // namespace

HttpResponse ListRepositoriesRoute(StoreReader& store, const RouteRequest& request) {
  auto params = ParseRepositoryListParams(request.params, Today());
  if (!params.ok()) return ErrorResponse(400, params.status().message());
  const RepositoryQuery& query = params->query;
  auto page = store.ListRepositories(query);
  if (!page.ok()) return StoreFailure(page.status());
  if (params->csv) {
    return MakeResponse(200, Csv(*page, params->window_days.has_value()),
                        "text/csv; charset=utf-8");
  }
  boost::json::array items;
  for (const auto& record : page->items) {
    auto item = RepositoryJson(record);
    item.erase("tags");  // live tags are a per-repository question: GET {name} or {name}/-/tags
    if (record.window) {
      auto window = CountValuesJson(*record.window);
      window["days"] = *params->window_days;
      window["from"] = *query.window_from_day;
      item["window"] = std::move(window);
    }
    items.push_back(std::move(item));
  }
  return JsonResponse(200, boost::json::object{{"repositories", std::move(items)},
                                               {"total", page->total},
                                               {"offset", query.offset},
                                               {"limit", query.limit}});
}

HttpResponse RegistriesRoute(const RegistrySet& registries, const RouteRequest& request) {
  if (auto error = TakesNoParameters(request)) return std::move(*error);
  const std::string today = UtcDay(Today());
  boost::json::array items;
  for (const std::string& name : registries.names()) {
    auto summary = registries.Reader(name)->Summarize(today, today);
    if (!summary.ok()) return StoreFailure(summary.status());
    auto item = CountersJson(summary->totals);
    item["registry"] = name;
    item["repositories"] = summary->repositories;
    items.push_back(std::move(item));
  }
  return JsonResponse(200, boost::json::object{{"registries", std::move(items)}});
}

HttpResponse SummaryRoute(StoreReader& store, const RouteRequest& request) {
  auto range = ParseDayRange(request.params, Today());
  if (!range.ok()) return ErrorResponse(400, range.status().message());
  auto summary = store.Summarize(UtcDay(range->from), UtcDay(range->to));
  if (!summary.ok()) return StoreFailure(summary.status());
  auto totals = CountersJson(summary->totals);
  totals["repositories"] = summary->repositories;
  return JsonResponse(200, boost::json::object{{"from", UtcDay(range->from)},
                                               {"to", UtcDay(range->to)},
                                               {"totals", std::move(totals)},
                                               {"days", ZeroFilled(*range, summary->days)}});
}

HttpResponse RepositoryRoute(StoreReader& store, const RouteRequest& request) {
  auto repository = store.GetRepository(request.name);
  if (!repository.ok()) return StoreFailure(repository.status());
  if (!*repository) return ErrorResponse(404, "unknown repository \"" + request.name + "\"");
  if (auto error = TakesNoParameters(request)) return std::move(*error);
  return JsonResponse(200, RepositoryJson(**repository));
}

HttpResponse TagsRoute(StoreReader& store, const RouteRequest& request) {
  if (auto error = UnknownRepository(store, request.name)) return std::move(*error);
  auto filter = ParseTagListParams(request.params);
  if (!filter.ok()) return ErrorResponse(400, filter.status().message());
  auto tags = store.ListTags(request.name);
  if (tags.ok() && *filter != AttachmentFilter::kInclude) {
    std::erase_if(*tags, [&](const TagRecord& tag) {
      return tag.attachment != (*filter == AttachmentFilter::kOnly);
    });
  }
  return ListOf(tags, request.name, "tags", TagJson);
}

HttpResponse DigestsRoute(StoreReader& store, const RouteRequest& request) {
  return SubResource(store, request, "digests", &StoreReader::ListDigests, DigestJson);
}

HttpResponse ActorsRoute(StoreReader& store, const RouteRequest& request) {
  return SubResource(store, request, "actors", &StoreReader::ListActors, ActorJson);
}

// The days of one traffic class, from the class records of the range (ordered by class, day).
std::vector<DayRecord> DaysOfClass(const std::vector<ClassRecord>& classes, std::string_view cls) {
  std::vector<DayRecord> days;
  for (const ClassRecord& record : classes) {
    if (record.cls == cls) days.push_back(DayRecord{record.day, record.counters});
  }
  return days;
}

HttpResponse DailyRoute(StoreReader& store, const RouteRequest& request) {
  if (auto error = UnknownRepository(store, request.name)) return std::move(*error);
  auto range = ParseDayRange(request.params, Today(), {"class"});
  if (!range.ok()) return ErrorResponse(400, range.status().message());
  const std::string from = UtcDay(range->from), to = UtcDay(range->to);
  boost::json::object answer{{"repository", request.name}};
  if (auto cls = request.params.find("class"); cls != request.params.end()) {
    // Per class: the class records of each day of the range.
    auto classes = store.ListClasses(request.name, ClassQuery{"", from, to});
    if (!classes.ok()) return StoreFailure(classes.status());
    answer["class"] = (*cls).value;
    answer["days"] = ZeroFilled(*range, DaysOfClass(*classes, (*cls).value));
    return JsonResponse(200, std::move(answer));
  }
  auto days = store.ListDays(request.name, from, to);
  if (!days.ok()) return StoreFailure(days.status());
  answer["days"] = ZeroFilled(*range, *days);
  return JsonResponse(200, std::move(answer));
}

HttpResponse ClassesRoute(StoreReader& store, const RouteRequest& request) {
  if (auto error = UnknownRepository(store, request.name)) return std::move(*error);
  auto params = ParseClassParams(request.params, Today());
  if (!params.ok()) return ErrorResponse(400, params.status().message());
  return ListOf(store.ListClasses(request.name, params->query), request.name, "classes", ClassJson);
}

}  // namespace drec
