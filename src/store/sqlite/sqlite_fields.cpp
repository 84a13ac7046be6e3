#include "store/sqlite/sqlite_fields.h"

#include <fmt/format.h>

#include <array>

namespace drec::sqlite {
namespace {

// Parameter names outlive every statement that binds them: SQLite looks them up by C string.
template <std::size_t N, typename Table>
std::array<std::string, N> ParamNames(const Table& table) {
  std::array<std::string, N> names;
  for (std::size_t i = 0; i < N; ++i) names[i] = fmt::format(":{}", table[i].name);
  return names;
}

const std::array<std::string, kCounterCount>& CounterParamNames() {
  static const auto names = ParamNames<kCounterCount>(kCounterFields);
  return names;
}

const std::array<std::string, kTimeFieldCount>& TimeParamNames() {
  static const auto names = ParamNames<kTimeFieldCount>(kTimeFields);
  return names;
}

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

}  // namespace

std::string CounterColumns(std::string_view qualifier) {
  return EachField(kCounterFields, std::string(qualifier) + "{}");
}

std::string TallyColumns(std::string_view qualifier) {
  return CounterColumns(qualifier) + ", " + EachField(kTimeFields, std::string(qualifier) + "{}");
}

std::string CounterParams() { return EachField(kCounterFields, ":{}"); }

std::string TallyParams() { return CounterParams() + ", " + EachField(kTimeFields, ":{}"); }

std::string EachCounter(std::string_view format) { return EachField(kCounterFields, format); }

std::string FoldCounters() { return EachCounter("{0} = {0} + :{0}"); }

std::string FoldTally() {
  std::string out = FoldCounters();
  for (const auto& field : kTimeFields) {
    const char* pick = field.fold == Fold::kEarliest ? "min" : "max";
    out += fmt::format(", {0} = coalesce({1}({0}, :{0}), {0}, :{0})", field.name, pick);
  }
  return out;
}

void BindCounters(Statement& stmt, const CounterValues& counts) {
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    stmt.Bind(CounterParamNames()[i].c_str(), counts.at(i));
  }
}

void BindTally(Statement& stmt, const Tally& tally) {
  BindCounters(stmt, tally.counts);
  for (std::size_t i = 0; i < kTimeFieldCount; ++i) {
    stmt.Bind(TimeParamNames()[i].c_str(), tally.times.at(i));
  }
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

}  // namespace drec::sqlite
