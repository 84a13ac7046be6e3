#include "api/query_params.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "util/text_parse.h"

namespace drec {
namespace {

constexpr std::string_view kWindowPrefix = "window.";

// A time parameter: RFC 3339, or a day (its UTC midnight).
std::optional<UnixMillis> ParseTime(std::string_view text) {
  if (auto day = ParseDay(text)) return day;
  return ParseRfc3339(text);
}

Status Invalid(std::string message) { return Status::InvalidArgument(std::move(message)); }

}  // namespace

Status ParseSort(std::string_view text, RepositoryQuery* query) {
  query->descending = text.starts_with('-');
  const std::string_view field = query->descending ? text.substr(1) : text;
  SortKey& sort = query->sort;
  const std::optional<Counter> window_counter =
      field.starts_with(kWindowPrefix) ? CounterNamed(field.substr(kWindowPrefix.size()))
                                       : std::nullopt;
  if (field == "repositoryname") {
    sort.kind = SortKey::Kind::kName;
  } else if (auto counter = CounterNamed(field)) {
    sort.kind = SortKey::Kind::kCounter;
    sort.counter = *counter;
  } else if (auto time = TimeFieldNamed(field)) {
    sort.kind = SortKey::Kind::kTime;
    sort.time = *time;
  } else if (window_counter) {
    sort.kind = SortKey::Kind::kWindowCounter;
    sort.counter = *window_counter;
  } else {
    return Invalid(fmt::format("unknown sort field: {}", field));
  }
  return Status::Ok();
}

Result<RepositoryListParams> ParseRepositoryListParams(const boost::urls::params_view& params,
                                                       UnixMillis today) {
  RepositoryListParams out;
  RepositoryQuery& query = out.query;
  for (const auto& param : params) {
    const std::string& key = param.key;
    const std::string& value = param.value;
    if (key == "sort") {
      if (Status s = ParseSort(value, &query); !s.ok()) return s;
    } else if (key == "prefix") {
      query.name_prefix = value;
    } else if (key == "actor") {
      query.actor = value;
    } else if (key == "offset" || key == "limit") {
      auto n = key == "limit" ? ParseIntInRange(value, 1, kMaxPageLimit)
                              : ParseIntInRange(value, 0, std::numeric_limits<std::int64_t>::max());
      if (!n) {
        return Invalid(key == "limit"
                           ? fmt::format("limit must be an integer from 1 to {}", kMaxPageLimit)
                           : std::string("offset must be an integer >= 0"));
      }
      (key == "offset" ? query.offset : query.limit) = *n;
    } else if (key == "window" || key == "not_pulled_since") {
      auto days = ParseDays(value);
      if (!days) {
        return Invalid(fmt::format("{} must be a number of days like 30d, not \"{}\"", key, value));
      }
      if (*days > kMaxDays)
        return Invalid(fmt::format("{} is too large: at most {}d", key, kMaxDays));
      if (key == "window") {
        out.window_days = days;
      } else {
        query.pulled_before = today - (*days - 1) * kDayMillis;
      }
    } else if (key == "pulled_before" || key == "pushed_after") {
      auto t = ParseTime(value);
      if (!t) {
        return Invalid(fmt::format("{} must be a date (YYYY-MM-DD) or an RFC 3339 time, not \"{}\"",
                                   key, value));
      }
      (key == "pulled_before" ? query.pulled_before : query.pushed_after) = t;
    } else if (key == "format") {
      if (value != "json" && value != "csv") return Invalid("format must be json or csv");
      out.csv = value == "csv";
    } else {
      return Invalid("unknown parameter \"" + key + "\"");
    }
  }
  if (query.sort.kind == SortKey::Kind::kWindowCounter && !out.window_days) {
    return Invalid(
        fmt::format("sort by {}{} needs a window", kWindowPrefix, NameOf(query.sort.counter)));
  }
  // A window of N days is today and the N - 1 days before it.
  if (out.window_days) query.window_from_day = UtcDay(today - (*out.window_days - 1) * kDayMillis);
  return out;
}

Result<AttachmentFilter> ParseTagListParams(const boost::urls::params_view& params) {
  AttachmentFilter filter = AttachmentFilter::kExclude;
  for (const auto& param : params) {
    if (param.key != "attachments") {
      return Invalid(fmt::format("unknown parameter \"{}\"", param.key));
    }
    if (param.value == "exclude") {
      filter = AttachmentFilter::kExclude;
    } else if (param.value == "include") {
      filter = AttachmentFilter::kInclude;
    } else if (param.value == "only") {
      filter = AttachmentFilter::kOnly;
    } else {
      return Invalid(
          fmt::format("attachments must be exclude, include or only, not \"{}\"", param.value));
    }
  }
  return filter;
}

Result<DayRange> ParseDayRange(const boost::urls::params_view& params, UnixMillis today,
                               std::initializer_list<std::string_view> others) {
  std::optional<UnixMillis> from, to;
  for (const auto& param : params) {
    if (std::find(others.begin(), others.end(), param.key) != others.end()) continue;
    if (param.key != "from" && param.key != "to") {
      return Invalid(fmt::format("unknown parameter \"{}\"", param.key));
    }
    auto day = ParseDay(param.value);
    if (!day) {
      return Invalid(
          fmt::format("{} must be a date YYYY-MM-DD, not \"{}\"", param.key, param.value));
    }
    (param.key == "from" ? from : to) = *day;
  }
  DayRange range;
  range.to = to.value_or(today);
  range.from = from.value_or(range.to - 29 * kDayMillis);
  if (range.from > range.to) return Invalid("from is after to");
  if ((range.to - range.from) / kDayMillis >= kMaxDays) {
    return Invalid(fmt::format("range is longer than {} days", kMaxDays));
  }
  return range;
}

Result<ClassParams> ParseClassParams(const boost::urls::params_view& params, UnixMillis today) {
  ClassParams result;
  bool per_day = false;
  for (const auto& param : params) {
    if (param.key == "tag") {
      if (param.value.empty()) return Invalid("tag must not be empty");
      result.query.tag = param.value;
    }
    per_day = per_day || param.key == "from" || param.key == "to";
  }
  auto range = ParseDayRange(params, today, {"tag"});
  if (!range.ok()) return range.status();
  if (!per_day) return result;
  if (!result.query.tag.empty()) {
    return Invalid("tag cannot be combined with from and to: tags have no per-day classes");
  }
  result.days = *range;
  result.query.from_day = UtcDay(range->from);
  result.query.to_day = UtcDay(range->to);
  return result;
}

}  // namespace drec
