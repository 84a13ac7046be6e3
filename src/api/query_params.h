// The query API's parameters, parsed once into typed values: stores receive typed queries and
// never phrase user-facing errors. A failed parse carries the message the client sees (400).
#pragma once

#include <boost/url/params_view.hpp>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include "store/records.h"
#include "util/status.h"
#include "util/time.h"

namespace drec {

// At most this many repositories per page.
inline constexpr std::int64_t kMaxPageLimit = 1000;
// Day ranges and windows span at most this many days (ten years).
inline constexpr std::int64_t kMaxDays = 3660;

// The repository list's parameters.
struct RepositoryListParams {
  RepositoryQuery query;
  bool csv = false;
  std::optional<std::int64_t> window_days;  // set with query.window_from_day
};

// Parses `sort`, `prefix`, `actor`, `offset`, `limit`, `window`, `not_pulled_since`,
// `pulled_before`, `pushed_after` and `format`, relative to `today` (a UTC midnight).
// InvalidArgument names the parameter and what was wrong with it.
[[nodiscard]] Result<RepositoryListParams> ParseRepositoryListParams(
    const boost::urls::params_view& params, UnixMillis today);

// The `sort` parameter: a counter, a time, `repositoryname`, or `window.<counter>`; a leading
// `-` sorts descending.
[[nodiscard]] Status ParseSort(std::string_view text, RepositoryQuery* query);

// Which tags a tag list shows: image tags (the default), every tag, or attachment tags only
// (docs/counting.md#attachments).
enum class AttachmentFilter { kExclude, kInclude, kOnly };

// The tag list's one parameter, `attachments` (exclude, include or only).
[[nodiscard]] Result<AttachmentFilter> ParseTagListParams(const boost::urls::params_view& params);

// An inclusive range of UTC days.
struct DayRange {
  UnixMillis from = 0, to = 0;
};

// `from` and `to` (YYYY-MM-DD); without `from`, the 30 days ending at `to` (by default today).
// Parameters named in `others` are the caller's to read; any other is refused.
[[nodiscard]] Result<DayRange> ParseDayRange(const boost::urls::params_view& params,
                                             UnixMillis today,
                                             std::initializer_list<std::string_view> others = {});

// The classes sub-resource's parameters: all time (none), `tag`, or per day (`from`, `to`).
struct ClassParams {
  ClassQuery query;
  std::optional<DayRange> days;  // set when per day
};
[[nodiscard]] Result<ClassParams> ParseClassParams(const boost::urls::params_view& params,
                                                   UnixMillis today);

}  // namespace drec
