#include "store/postgresql/pg_fields.h"

#include <fmt/format.h>

namespace drec::pg {
namespace {

// Joins `format` applied to every field name of `table` with ", ".
template <typename Table>
std::string EachField(const Table& table, std::string_view format) {
  std::string out;
  for (const auto& field : table) {
    if (!out.empty()) out += ", ";
    out += fmt::format(fmt::runtime(format), field.name);
  }
  return out;
}

std::string Placeholders(int first, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    if (!out.empty()) out += ", ";
    out += fmt::format("${}", first + static_cast<int>(i));
  }
  return out;
}

}  // namespace

std::string CounterColumns(std::string_view qualifier) {
  return EachField(kCounterFields, std::string(qualifier) + "{}");
}

std::string TallyColumns(std::string_view qualifier) {
  return CounterColumns(qualifier) + ", " + EachField(kTimeFields, std::string(qualifier) + "{}");
}

std::string CounterParams(int first) { return Placeholders(first, kCounterCount); }

std::string TallyParams(int first) { return Placeholders(first, kCounterCount + kTimeFieldCount); }

std::string EachCounter(std::string_view format) { return EachField(kCounterFields, format); }

std::string FoldCounters(std::string_view table, std::string_view source) {
  return EachCounter(fmt::format("{{0}} = {}.{{0}} + {}.{{0}}", table, source));
}

std::string FoldTally(std::string_view table, std::string_view source) {
  std::string out = FoldCounters(table, source);
  for (const auto& field : kTimeFields) {
    const char* pick = field.fold == Fold::kEarliest ? "LEAST" : "GREATEST";
    out += fmt::format(", {0} = {1}({2}.{0}, {3}.{0})", field.name, pick, table, source);
  }
  return out;
}

void AddCounters(Params& params, const CounterValues& counts) {
  for (std::size_t i = 0; i < kCounterCount; ++i) params.Add(counts.at(i));
}

void AddTally(Params& params, const Tally& tally) {
  AddCounters(params, tally.counts);
  for (std::size_t i = 0; i < kTimeFieldCount; ++i) params.Add(tally.times.at(i));
}

CounterValues ReadCounters(RowReader& row) {
  CounterValues counts;
  for (std::size_t i = 0; i < kCounterCount; ++i) counts.at(i) = row.Int();
  return counts;
}

Tally ReadTally(RowReader& row) {
  Tally tally;
  tally.counts = ReadCounters(row);
  for (std::size_t i = 0; i < kTimeFieldCount; ++i) tally.times.at(i) = row.OptionalInt();
  return tally;
}

}  // namespace drec::pg
