// libFuzzer target: a request target as the API's router reads it (src/api/router.cpp):
// boost::urls::parse_origin_form, the route table's paths matched with MatchPath, then the query
// parameters parsed by the parser of the matched route (src/api/query_api.cpp), the `registry`
// parameter split off as the router does, the prefix turned into the stores' index range and the
// days formatted back. A crash, a sanitizer report or an exception is a finding, and so is a
// parse that succeeds with values outside the documented bounds. Build and run: fuzz/README.md.
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/query_params.h"
#include "api/routes.h"
#include "store/name_prefix.h"
#include "util/time.h"

namespace {

[[noreturn]] void Finding(const char* what) {
  std::fprintf(stderr, "query_fuzzer: %s\n", what);
  std::abort();
}

// The paths of the route table (BuildRoutes in src/api/router.cpp, checked against
// docs/openapi.json by tests/unit/api/routes_test.cpp), in its order: the first match wins.
constexpr std::string_view kRoutes[] = {
    "/events",
    "/events/{registry}",
    "/api/v1/registries",
    "/api/v1/repositories",
    "/api/v1/repositories/{name}",
    "/api/v1/repositories/{name}/-/tags",
    "/api/v1/repositories/{name}/-/digests",
    "/api/v1/repositories/{name}/-/actors",
    "/api/v1/repositories/{name}/-/daily",
    "/api/v1/repositories/{name}/-/classes",
    "/api/v1/summary",
    "/api/v1/openapi.json",
    "/healthz",
    "/readyz",
    "/metrics",
    "/",
    "/ui/{file}",
};

// A fixed "today" (2026-06-15, a UTC midnight) keeps every run reproducible.
constexpr drec::UnixMillis kToday = 1781481600000;

void CheckRange(const drec::Result<drec::DayRange>& range) {
  if (!range.ok()) return;
  if (range->from > range->to) Finding("a day range that ends before it starts");
  if ((range->to - range->from) / 86'400'000 >= drec::kMaxDays) Finding("a range over kMaxDays");
  if (drec::UtcDay(range->from).size() != 10 || drec::UtcDay(range->to).size() != 10) {
    Finding("a day that is not YYYY-MM-DD");
  }
}

void ParseParams(std::string_view route, const boost::urls::params_view& params) {
  if (route == "/api/v1/repositories") {
    auto list = drec::ParseRepositoryListParams(params, kToday);
    if (!list.ok()) return;
    if (list->query.limit < 0 || list->query.limit > drec::kMaxPageLimit) Finding("limit");
    if (list->query.offset < 0) Finding("negative offset");
    if (list->window_days && (*list->window_days < 1 || *list->window_days > drec::kMaxDays)) {
      Finding("window beyond its bounds");
    }
    (void)drec::PrefixEnd(list->query.name_prefix);
  } else if (route == "/api/v1/summary") {
    CheckRange(drec::ParseDayRange(params, kToday));
  } else if (route.ends_with("/-/daily")) {
    CheckRange(drec::ParseDayRange(params, kToday, {"class"}));
  } else if (route.ends_with("/-/tags")) {
    (void)drec::ParseTagListParams(params);
  } else if (route.ends_with("/-/classes")) {
    auto classes = drec::ParseClassParams(params, kToday);
    if (classes.ok() && classes->days) CheckRange(*classes->days);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view target(reinterpret_cast<const char*>(data), size);
  try {
    auto url = boost::urls::parse_origin_form(target);
    if (!url) return 0;
    std::string path = url->path();
    if (path.size() > 1 && path.ends_with('/')) path.pop_back();
    for (std::string_view route : kRoutes) {
      auto name = drec::MatchPath(route, path);
      if (!name) continue;
      if (route.find('{') != std::string_view::npos && name->empty()) Finding("an empty {name}");
      const boost::urls::params_view params = url->params();
      ParseParams(route, params);
      // The router's handler for a `registry` parameter: the other parameters, re-encoded.
      if (params.find("registry") != params.end()) {
        boost::urls::url others("/");
        for (const auto& param : params) {
          if (param.key != "registry") others.params().append(param);
        }
        ParseParams(route, others.params());
      }
      break;
    }
  } catch (...) {  // the router calls these without a try: an exception is a finding
    Finding("exception escaped the target's parsing");
  }
  return 0;
}
