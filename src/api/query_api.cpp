#include "api/query_api.h"

#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <charconv>

#include "api/json_views.h"
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

HttpResponse ListRepositories(Store& store, const boost::urls::params_view& params) {
  RepositoryQuery query;
  for (const auto& param : params) {
    const std::string& key = param.key;
    const std::string& value = param.value;
    if (key == "sort") {
      query.descending = value.starts_with('-');
      query.sort_field = query.descending ? value.substr(1) : value;
    } else if (key == "prefix") {
      query.name_prefix = value;
    } else if (key == "offset" || key == "limit") {
      auto n = ParseInt(value);
      if (!n || *n < 0 || (key == "limit" && (*n < 1 || *n > kMaxLimit))) {
        return Error(400,
                     key + " must be an integer" +
                         (key == "limit" ? " from 1 to " + std::to_string(kMaxLimit) : " >= 0"));
      }
      (key == "offset" ? query.offset : query.limit) = *n;
    } else {
      return Error(400, "unknown parameter \"" + key + "\"");
    }
  }
  auto page = store.ListRepositories(query);
  if (!page.ok()) return StoreError(page.status());
  boost::json::array items;
  for (const auto& record : page->items) items.push_back(RepositoryJson(record));
  return Json(200, boost::json::object{{"repositories", std::move(items)},
                                       {"total", page->total},
                                       {"offset", query.offset},
                                       {"limit", query.limit}});
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
  const UnixMillis today = NowMillis() / 86'400'000 * 86'400'000;
  std::optional<UnixMillis> from = today - 29 * 86'400'000LL, to = today;
  for (const auto& param : params) {
    if (param.key != "from" && param.key != "to") {
      return Error(400, "unknown parameter \"" + param.key + "\"");
    }
    auto day = ParseDay(param.value);
    if (!day)
      return Error(400, param.key + " must be a date YYYY-MM-DD, not \"" + param.value + "\"");
    (param.key == "from" ? from : to) = day;
  }
  if (*from > *to) return Error(400, "from is after to");
  if ((*to - *from) / 86'400'000 >= kMaxDays) {
    return Error(400, "range is longer than " + std::to_string(kMaxDays) + " days");
  }
  auto days = store.ListDays(repository, UtcDay(*from), UtcDay(*to));
  if (!days.ok()) return StoreError(days.status());
  boost::json::array items;
  size_t next = 0;
  // Zero-filled: one entry per day of the range, whether anything happened or not.
  for (UnixMillis t = *from; t <= *to; t += 86'400'000) {
    const std::string day = UtcDay(t);
    if (next < days->size() && (*days)[next].day == day) {
      items.push_back(DayJson((*days)[next++]));
    } else {
      items.push_back(DayJson(DayRecord{day, {}}));
    }
  }
  return Json(200, boost::json::object{{"repository", repository}, {"days", std::move(items)}});
}

}  // namespace

HttpResponse AnswerQuery(Store& store, std::string_view target) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return Error(400, "malformed request target");
  const std::string path = url->path();  // percent-decoded
  const auto params = url->params();
  if (path == kRepositories || path == std::string(kRepositories) + "/") {
    return ListRepositories(store, params);
  }
  if (!path.starts_with(std::string(kRepositories) + "/")) return Error(404, "no such route");

  std::string name = path.substr(kRepositories.size() + 1);
  std::string sub;
  if (auto marker = name.find("/-/"); marker != std::string::npos) {
    sub = name.substr(marker + 3);
    name.resize(marker);
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
