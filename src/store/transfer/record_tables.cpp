#include "store/transfer/record_tables.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "model/fields.h"

namespace drec::transfer {
namespace {

Column Text(std::string name, bool nullable = false) {
  return {std::move(name), ColumnType::kText, nullable};
}

// The counters, then the times (unset until the first such event).
void AddTally(std::vector<Column>& columns) {
  for (const auto& counter : kCounterFields) {
    columns.push_back({std::string(counter.name), ColumnType::kInt, false});
  }
  for (const auto& time : kTimeFields) {
    columns.push_back({std::string(time.name), ColumnType::kTime, true});
  }
}

std::vector<Table> MakeTables() {
  std::vector<Table> tables;
  {
    Table t{"repositories", "", {Text("repositoryname")}, 1};
    AddTally(t.columns);
    t.columns.push_back({"actors", ColumnType::kTextList, false});
    t.columns.push_back({"numstars", ColumnType::kInt, false});
    t.columns.push_back({"observedsince", ColumnType::kTime, true});
    tables.push_back(std::move(t));
  }
  {
    Table t{"tags",
            "tags",
            {Text("repository"),
             Text("tag"),
             Text("digest", true),
             {"digest_at", ColumnType::kTime, true},
             {"deleted", ColumnType::kBool, false},
             {"deleted_at", ColumnType::kTime, true},
             {"attachment", ColumnType::kBool, false}},
            2};
    AddTally(t.columns);
    tables.push_back(std::move(t));
  }
  {
    Table t{"digests",
            "digests",
            {Text("repository"),
             Text("digest"),
             Text("media_type", true),
             {"size", ColumnType::kInt, true},
             {"deleted", ColumnType::kBool, false},
             {"deleted_at", ColumnType::kTime, true}},
            2};
    AddTally(t.columns);
    tables.push_back(std::move(t));
  }
  tables.push_back(
      {"digest_parents", "digestparents", {Text("repository"), Text("child"), Text("parent")}, 3});
  {
    Table t{"actors", "actors", {Text("repository"), Text("actor")}, 2};
    AddTally(t.columns);
    t.columns.push_back({"firstseen", ColumnType::kTime, true});
    t.columns.push_back({"lastseen", ColumnType::kTime, true});
    tables.push_back(std::move(t));
  }
  {
    Table t{"days", "days", {Text("repository"), Text("day")}, 2};
    AddTally(t.columns);
    tables.push_back(std::move(t));
  }
  {
    Table t{"total_days", "totaldays", {Text("day")}, 1};
    for (const auto& counter : kCounterFields) {
      t.columns.push_back({std::string(counter.name), ColumnType::kInt, false});
    }
    tables.push_back(std::move(t));
  }
  {
    Table t{"classes", "classes", {Text("repository"), Text("class"), Text("tag"), Text("day")}, 4};
    AddTally(t.columns);
    tables.push_back(std::move(t));
  }
  tables.push_back({"event_ids", "eventids", {Text("id"), {"applied_at", ColumnType::kTime}}, 1});
  return tables;
}

}  // namespace

const std::vector<Table>& Tables() {
  static const std::vector<Table> tables = MakeTables();
  return tables;
}

const Table* TableNamed(std::string_view name) {
  for (const Table& table : Tables()) {
    if (table.name == name) return &table;
  }
  return nullptr;
}

std::string KeyColumnList(const Table& table) {
  std::string out;
  for (std::size_t i = 0; i < table.key_size; ++i) {
    if (i > 0) out += ", ";
    out += table.columns[i].name;
  }
  return out;
}

Key KeyOf(const Table& table, const Row& row) {
  Key key;
  for (std::size_t i = 0; i < table.key_size && i < row.size(); ++i) {
    const auto* text = std::get_if<std::string>(&row[i]);
    key.push_back(text != nullptr ? *text : std::string());
  }
  return key;
}

bool RowFits(const Table& table, const Row& row) {
  if (row.size() != table.columns.size()) return false;
  for (std::size_t i = 0; i < row.size(); ++i) {
    const Column& column = table.columns[i];
    const Value& value = row[i];
    if (std::holds_alternative<std::monostate>(value)) {
      if (!column.nullable) return false;
      continue;
    }
    switch (column.type) {
      case ColumnType::kText:
        if (!std::holds_alternative<std::string>(value)) return false;
        break;
      case ColumnType::kInt:
      case ColumnType::kTime:
        if (!std::holds_alternative<std::int64_t>(value)) return false;
        break;
      case ColumnType::kBool:
        if (!std::holds_alternative<bool>(value)) return false;
        break;
      case ColumnType::kTextList:
        if (!std::holds_alternative<std::vector<std::string>>(value)) return false;
        break;
    }
  }
  return true;
}

std::string TextListToJson(const std::vector<std::string>& values) {
  boost::json::array array;
  for (const std::string& value : values) array.emplace_back(value);
  return boost::json::serialize(array);
}

Result<std::vector<std::string>> TextListFromJson(std::string_view json) {
  boost::system::error_code error;
  const boost::json::value parsed = boost::json::parse(json, error);
  if (error || !parsed.is_array()) {
    return Status::InvalidArgument("not a JSON array of strings: " + std::string(json));
  }
  std::vector<std::string> values;
  for (const boost::json::value& element : parsed.get_array()) {
    if (!element.is_string()) {
      return Status::InvalidArgument("not a JSON array of strings: " + std::string(json));
    }
    values.emplace_back(element.get_string());
  }
  return values;
}

}  // namespace drec::transfer
