#include "metrics/mongodb_commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>

namespace drec {
namespace {

constexpr std::array<std::string_view, 17> kCommands = {
    "insert",   "update",   "delete",        "find",        "getMore",   "aggregate",
    "count",    "distinct", "createIndexes", "collMod",     "buildInfo", "hello",
    "isMaster", "ping",     "killCursors",   "endSessions", "other"};
constexpr std::array<std::string_view, 13> kRoles = {
    "repositories", "tags",     "digests", "digestparents", "actors", "days", "totaldays",
    "classes",      "eventids", "journal", "meta",          "none",   "other"};

std::array<std::array<std::atomic<std::int64_t>, kRoles.size()>, kCommands.size()> counts{};

template <std::size_t N>
std::size_t IndexOf(const std::array<std::string_view, N>& names, std::string_view name) {
  const auto found = std::find(names.begin(), names.end(), name);
  return found == names.end() ? N - 1 : static_cast<std::size_t>(found - names.begin());
}

}  // namespace

void CountMongoDbCommand(std::string_view command, std::string_view role) {
  counts[IndexOf(kCommands, command)][IndexOf(kRoles, role)].fetch_add(1,
                                                                       std::memory_order_relaxed);
}

std::int64_t MongoDbCommands(std::string_view command, std::string_view role) {
  return counts[IndexOf(kCommands, command)][IndexOf(kRoles, role)].load(std::memory_order_relaxed);
}

std::string RenderMongoDbCommandMetrics() {
  std::string lines;
  for (std::size_t c = 0; c < kCommands.size(); ++c) {
    for (std::size_t r = 0; r < kRoles.size(); ++r) {
      if (const auto n = counts[c][r].load(std::memory_order_relaxed)) {
        fmt::format_to(std::back_inserter(lines),
                       "drec_mongodb_commands_total{{command=\"{}\",collection=\"{}\"}} {}\n",
                       kCommands[c], kRoles[r], n);
      }
    }
  }
  if (lines.empty()) return lines;
  return "# HELP drec_mongodb_commands_total Commands sent to MongoDB, by command and by the "
         "role of the collection.\n# TYPE drec_mongodb_commands_total counter\n" +
         lines;
}

}  // namespace drec
