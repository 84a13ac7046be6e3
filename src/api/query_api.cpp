#include "api/query_api.h"

#include <fmt/format.h>

#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <variant>

#include "api/json_views.h"
#include "api/openapi.h"
#include "api/router.h"
#include "util/time.h"

namespace drec {
namespace {

constexpr std::string_view kRepositories = "/api/v1/repositories";
constexpr std::int64_t kMaxLimit = 1000;
constexpr std::int64_t kMaxDays = 3660;

HttpResponse Json(unsigned status, const boost::json::value& body) {
  return MakeResponse(status, boost::json::serialize(body));
}

HttpResponse Error(unsigned status, std::string_view message) {
  return MakeResponse(status, ErrorJson(message));
}

HttpResponse StoreError(const Status& status) {
  return Error(status.code() == Status::Code::kInvalidArgument ? 400 : 503, status.message());
}

std::optional<std::int64_t> ParseInt(std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// "30d" -> 30; the window and age parameters count whole days.
std::optional<std::int64_t> ParseDays(std::string_view text) {
  if (text.size() < 2 || text.back() != 'd') return std::nullopt;
  auto n = ParseInt(text.substr(0, text.size() - 1));
  if (!n || *n < 1) return std::nullopt;
  return n;
}

// A time parameter: RFC 3339, or a day (its UTC midnight).
std::optional<UnixMillis> ParseTime(std::string_view text) {
  if (auto day = ParseDay(text)) return day;
  return ParseRfc3339(text);
}

UnixMillis Today() { return StartOfUtcDay(NowMillis()); }

std::string CsvField(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string Csv(const RepositoryPage& page, bool windowed) {
  std::string out =
      "repositoryname,numpulls,numpushs,numchecks,numindexpulls,numdeletes,firstpushed,"
      "lastpushed,firstpulled,lastpulled";
  if (windowed) {
    out +=
        ",window_numpulls,window_numpushs,window_numchecks,window_numindexpulls,window_numdeletes";
  }
  out += "\r\n";
  auto time = [](const std::optional<UnixMillis>& t) { return t ? FormatRfc3339(*t) : ""; };
  for (const auto& r : page.items) {
    const Counters& c = r.counters;
    fmt::format_to(std::back_inserter(out), "{},{},{},{},{},{},{},{},{},{}",
                   CsvField(r.repositoryname), c.numpulls, c.numpushs, c.numchecks, c.numindexpulls,
                   c.numdeletes, time(c.firstpushed), time(c.lastpushed), time(c.firstpulled),
                   time(c.lastpulled));
    if (windowed && r.window) {
      fmt::format_to(std::back_inserter(out), ",{},{},{},{},{}", r.window->numpulls,
                     r.window->numpushs, r.window->numchecks, r.window->numindexpulls,
                     r.window->numdeletes);
    }
    out += "\r\n";
  }
  return out;
}

HttpResponse ListRepositories(Store& store, const boost::urls::params_view& params) {
  RepositoryQuery query;
  bool csv = false;
  std::optional<std::int64_t> window_days;
  for (const auto& param : params) {
    const std::string& key = param.key;
    const std::string& value = param.value;
    if (key == "sort") {
      query.descending = value.starts_with('-');
      query.sort_field = query.descending ? value.substr(1) : value;
    } else if (key == "prefix") {
      query.name_prefix = value;
    } else if (key == "actor") {
      query.actor = value;
    } else if (key == "offset" || key == "limit") {
      auto n = ParseInt(value);
      if (!n || *n < 0 || (key == "limit" && (*n < 1 || *n > kMaxLimit))) {
        return Error(400, key == "limit"
                              ? fmt::format("limit must be an integer from 1 to {}", kMaxLimit)
                              : std::string("offset must be an integer >= 0"));
      }
      (key == "offset" ? query.offset : query.limit) = *n;
    } else if (key == "window" || key == "not_pulled_since") {
      auto days = ParseDays(value);
      if (!days) {
        return Error(400,
                     fmt::format("{} must be a number of days like 30d, not \"{}\"", key, value));
      }
      if (*days > kMaxDays) {
        return Error(400, fmt::format("{} is too large: at most {}d", key, kMaxDays));
      }
      if (key == "window") {
        window_days = days;
      } else {
        query.pulled_before = Today() - (*days - 1) * kDayMillis;
      }
    } else if (key == "pulled_before" || key == "pushed_after") {
      auto t = ParseTime(value);
      if (!t) {
        return Error(
            400, fmt::format("{} must be a date (YYYY-MM-DD) or an RFC 3339 time, not \"{}\"", key,
                             value));
      }
      (key == "pulled_before" ? query.pulled_before : query.pushed_after) = t;
    } else if (key == "format") {
      if (value != "json" && value != "csv") return Error(400, "format must be json or csv");
      csv = value == "csv";
    } else {
      return Error(400, "unknown parameter \"" + key + "\"");
    }
  }
  // A window of N days is today and the N - 1 days before it.
  if (window_days) query.window_from_day = UtcDay(Today() - (*window_days - 1) * kDayMillis);
  auto page = store.ListRepositories(query);
  if (!page.ok()) return StoreError(page.status());
  if (csv) return MakeResponse(200, Csv(*page, window_days.has_value()), "text/csv; charset=utf-8");
  boost::json::array items;
  for (const auto& record : page->items) {
    auto item = RepositoryJson(record);
    item.erase("tags");  // live tags are a per-repository question: GET {name} or {name}/-/tags
    if (record.window) {
      item["window"] = boost::json::object{{"days", *window_days},
                                           {"from", *query.window_from_day},
                                           {"numpulls", record.window->numpulls},
                                           {"numpushs", record.window->numpushs},
                                           {"numchecks", record.window->numchecks},
                                           {"numindexpulls", record.window->numindexpulls},
                                           {"numdeletes", record.window->numdeletes}};
    }
    items.push_back(std::move(item));
  }
  return Json(200, boost::json::object{{"repositories", std::move(items)},
                                       {"total", page->total},
                                       {"offset", query.offset},
                                       {"limit", query.limit}});
}

// A day range from `from`/`to` parameters (YYYY-MM-DD, inclusive), by default the last 30 days.
struct DayRange {
  UnixMillis from = 0, to = 0;
};
std::variant<DayRange, HttpResponse> ParseDayRange(const boost::urls::params_view& params) {
  std::optional<UnixMillis> from, to;
  for (const auto& param : params) {
    if (param.key != "from" && param.key != "to") {
      return Error(400, fmt::format("unknown parameter \"{}\"", param.key));
    }
    auto day = ParseDay(param.value);
    if (!day) {
      return Error(400,
                   fmt::format("{} must be a date YYYY-MM-DD, not \"{}\"", param.key, param.value));
    }
    (param.key == "from" ? from : to) = *day;
  }
  // Without `from`, the 30 days ending at `to` (by default today).
  DayRange range;
  range.to = to.value_or(Today());
  range.from = from.value_or(range.to - 29 * kDayMillis);
  if (range.from > range.to) return Error(400, "from is after to");
  if ((range.to - range.from) / kDayMillis >= kMaxDays) {
    return Error(400, "range is longer than " + std::to_string(kMaxDays) + " days");
  }
  return range;
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

HttpResponse Summarize(Store& store, const boost::urls::params_view& params) {
  auto range = ParseDayRange(params);
  if (auto* error = std::get_if<HttpResponse>(&range)) return std::move(*error);
  const DayRange& r = std::get<DayRange>(range);
  auto summary = store.Summarize(UtcDay(r.from), UtcDay(r.to));
  if (!summary.ok()) return StoreError(summary.status());
  auto totals = CountersJson(summary->totals);
  totals["repositories"] = summary->repositories;
  return Json(200, boost::json::object{{"from", UtcDay(r.from)},
                                       {"to", UtcDay(r.to)},
                                       {"totals", std::move(totals)},
                                       {"days", ZeroFilled(r, summary->days)}});
}

template <typename Record, typename Render>
HttpResponse ListOf(const Result<std::vector<Record>>& records, const std::string& repository,
                    std::string_view field, Render render) {
  if (!records.ok()) return StoreError(records.status());
  boost::json::array items;
  for (const auto& record : *records) items.push_back(render(record));
  return Json(200, boost::json::object{{"repository", repository}, {field, std::move(items)}});
}

HttpResponse Daily(Store& store, const std::string& repository,
                   const boost::urls::params_view& params) {
  auto range = ParseDayRange(params);
  if (auto* error = std::get_if<HttpResponse>(&range)) return std::move(*error);
  const DayRange& r = std::get<DayRange>(range);
  auto days = store.ListDays(repository, UtcDay(r.from), UtcDay(r.to));
  if (!days.ok()) return StoreError(days.status());
  return Json(200, boost::json::object{{"repository", repository}, {"days", ZeroFilled(r, *days)}});
}

}  // namespace

HttpResponse AnswerQuery(Store& store, std::string_view target) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return Error(400, "malformed request target");
  const std::string path = url->path();  // percent-decoded
  const auto params = url->params();
  if (path == "/api/v1/openapi.json") return MakeResponse(200, std::string(OpenApiDocument()));
  if (path == "/api/v1/summary") return Summarize(store, params);
  if (path == kRepositories || path == std::string(kRepositories) + "/") {
    return ListRepositories(store, params);
  }
  if (!path.starts_with(std::string(kRepositories) + "/")) return Error(404, "no such route");

  std::string name = path.substr(kRepositories.size() + 1);
  std::string sub;
  const auto marker = name.find("/-/");
  if (marker != std::string::npos) {
    sub = name.substr(marker + 3);
    name.resize(marker);
    if (sub.empty()) return Error(404, "no sub-resource after /-/");
  }
  if (name.empty()) return Error(404, "no repository name");

  auto repository = store.GetRepository(name);
  if (!repository.ok()) return StoreError(repository.status());
  if (!*repository) return Error(404, "unknown repository \"" + name + "\"");
  if (sub.empty()) {
    if (!params.empty()) return Error(400, "this resource takes no parameters");
    return Json(200, RepositoryJson(**repository));
  }
  if (sub == "daily") return Daily(store, name, params);
  if (!params.empty()) return Error(400, "this resource takes no parameters");
  if (sub == "tags") return ListOf(store.ListTags(name), name, "tags", TagJson);
  if (sub == "digests") return ListOf(store.ListDigests(name), name, "digests", DigestJson);
  if (sub == "actors") return ListOf(store.ListActors(name), name, "actors", ActorJson);
  return Error(404, "no such sub-resource \"" + sub + "\"");
}

}  // namespace drec
