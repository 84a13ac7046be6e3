// classes.rules: the only setting that is a list of maps. The file gives it as a YAML list
// (yaml_source.cpp flattens it), variables and flags as comma-separated "<i>.<field>=<value>".
#include <fmt/format.h>

#include <map>

#include "config/setting_codecs.h"
#include "util/cidr.h"
#include "util/class_name.h"

namespace drec::config {
namespace {

// "[i].field: problem": Invalid joins it to the key as classes.rules[i].field.
std::string At(std::int64_t index, std::string_view field, std::string_view problem) {
  if (field.empty()) return fmt::format("[{}]: {}", index, problem);
  return fmt::format("[{}].{}: {}", index, field, problem);
}

// The list of `rule` that `field` names, or nullptr for "class" and unknown fields.
std::vector<std::string>* ListOf(ClassRuleSetting& rule, std::string_view field) {
  if (field == "useragent") return &rule.user_agent;
  if (field == "actor") return &rule.actor;
  if (field == "addr") return &rule.addr;
  if (field == "source") return &rule.source;
  return nullptr;
}

// Adds one "<i>.<field>=<value>" entry to its rule.
Problem AddEntry(const std::string& entry, std::map<std::int64_t, ClassRuleSetting>& rules) {
  const std::size_t dot = entry.find('.');
  const std::size_t equals = entry.find('=');
  const auto index = dot < equals ? ParseIntInRange(std::string_view(entry).substr(0, dot), 0, 9999)
                                  : std::nullopt;
  if (!index || equals == std::string::npos) {
    return Quote(entry) + " is not <index>.<field>=<value>, e.g. 0.class=ci";
  }
  const std::string field = entry.substr(dot + 1, equals - dot - 1);
  const std::string value = entry.substr(equals + 1);
  ClassRuleSetting& rule = rules[*index];
  if (field == "class") {
    if (!rule.cls.empty()) return At(*index, field, "given twice");
    if (Problem problem = ClassName(value)) return At(*index, field, *problem);
    rule.cls = value;
    return std::nullopt;
  }
  std::vector<std::string>* list = ListOf(rule, field);
  if (list == nullptr) {
    return At(*index, field, "unknown field; a rule has class, useragent, actor, addr, source");
  }
  if (value.empty()) return At(*index, field, "an entry is empty");
  if (field == "addr") {
    if (Problem problem = AddressRange(value)) return At(*index, field, *problem);
  }
  list->push_back(value);
  return std::nullopt;
}

}  // namespace

Problem ClassName(std::string_view text) {
  if (!IsClassName(text)) {
    return Quote(text) + " is not a class name ([a-z0-9][a-z0-9_-]{0,31})";
  }
  return std::nullopt;
}

Problem AddressRange(std::string_view text) {
  if (!ParseCidr(text)) return Quote(text) + " is not an IP address range like 10.0.0.0/8";
  return std::nullopt;
}

Codec ClassRules(std::vector<ClassRuleSetting> Draft::*field) {
  return {Shape::kRules, "I.FIELD=VALUE,...",
          [=](const Values& v, Draft& d) -> Problem {
            std::map<std::int64_t, ClassRuleSetting> rules;
            for (const std::string& entry : v) {
              if (Problem problem = AddEntry(entry, rules)) return problem;
            }
            std::vector<ClassRuleSetting> list;
            for (auto& [index, rule] : rules) {
              if (rule.cls.empty()) return At(index, "class", "missing");
              if (rule.user_agent.empty() && rule.actor.empty() && rule.addr.empty() &&
                  rule.source.empty()) {
                return At(index, "",
                          "the rule sets none of useragent, actor, addr, source; it would match "
                          "every event");
              }
              list.push_back(std::move(rule));
            }
            d.*field = std::move(list);
            return std::nullopt;
          },
          [=](const Draft& d) {
            const std::size_t n = (d.*field).size();
            return n == 0 ? std::string() : fmt::format("{} rules", n);
          }};
}

}  // namespace drec::config
