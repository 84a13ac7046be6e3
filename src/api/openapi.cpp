#include "api/openapi.h"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "model/fields.h"

namespace drec {
namespace {

boost::json::object* ObjectAt(boost::json::object& doc,
                              std::initializer_list<std::string_view> path) {
  boost::json::object* at = &doc;
  for (std::string_view key : path) {
    auto it = at->find(key);
    if (it == at->end() || !it->value().is_object()) return nullptr;
    at = &it->value().as_object();
  }
  return at;
}

// Sets a schema's properties (and required list) to one entry per field of a table.
template <typename Table, typename Property>
void FillSchema(boost::json::object& doc, std::string_view schema, const Table& table,
                Property property) {
  boost::json::object* target = ObjectAt(doc, {"components", "schemas", schema});
  if (target == nullptr) return;
  boost::json::object properties;
  boost::json::array required;
  for (const auto& field : table) {
    properties[field.name] = property(field);
    required.emplace_back(field.name);
  }
  (*target)["properties"] = std::move(properties);
  (*target)["required"] = std::move(required);
}

std::string Build() {
  boost::json::object doc = boost::json::parse(EmbeddedOpenApiDocument()).as_object();
  FillSchema(doc, "CounterFields", kCounterFields, [](const CounterField& f) {
    return boost::json::object{{"type", "integer"}, {"minimum", 0}, {"description", f.meaning}};
  });
  FillSchema(doc, "TimeFields", kTimeFields, [](const TimeFieldSpec&) {
    return boost::json::object{{"$ref", "#/components/schemas/Time"}};
  });
  // The sort parameter's values, when the document lists them.
  if (auto* sort = ObjectAt(doc, {"components", "parameters", "sort", "schema"});
      sort != nullptr && sort->contains("enum")) {
    boost::json::array values;
    auto add = [&](std::string_view name) {
      values.emplace_back(name);
      values.emplace_back(fmt::format("-{}", name));
    };
    add("repositoryname");
    for (const auto& f : kCounterFields) add(f.name);
    for (const auto& f : kTimeFields) add(f.name);
    for (const auto& f : kCounterFields) add(fmt::format("window.{}", f.name));
    (*sort)["enum"] = std::move(values);
  }
  return boost::json::serialize(doc);
}

}  // namespace

const std::string& OpenApiDocument() {
  static const std::string document = Build();
  return document;
}

}  // namespace drec
