#include "config/yaml_source.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include "util/read_file.h"

namespace drec::config {
namespace {

// "path:line" of node, the source messages name so the user finds the line to fix.
std::string Where(const std::string& path, const YAML::Node& node) {
  return path + ":" + std::to_string(node.Mark().line + 1);
}

// auth.basic as written in the file: a list of {user, password}, as "user:password" values.
Result<Values> UsersFromYaml(const SettingDef& def, const YAML::Node& node,
                             const std::string& path) {
  if (!node.IsSequence()) {
    return Invalid(def.key, "expected a list of {user, password}", Where(path, node));
  }
  Values values;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node& item = node[i];
    const std::string key = fmt::format("{}[{}]", def.key, i);
    if (!item.IsMap()) return Invalid(key, "expected {user, password}", Where(path, item));
    for (const auto& field : item) {
      const std::string& name = field.first.Scalar();
      if (name != "user" && name != "password") {
        return Invalid(std::string(key).append(".").append(name), "unknown setting",
                       Where(path, field.first));
      }
    }
    const YAML::Node user = item["user"];
    const YAML::Node password = item["password"];
    // Absent keys give invalid nodes, which throw on anything but IsDefined().
    if (!user.IsDefined() || !password.IsDefined() || !user.IsScalar() || !password.IsScalar()) {
      return Invalid(key, "needs user and password", Where(path, item));
    }
    if (user.Scalar().find(':') != std::string::npos) {
      return Invalid(key + ".user", "must not contain ':'", Where(path, user));
    }
    values.push_back(user.Scalar() + ":" + password.Scalar());
  }
  return values;
}

// classes.rules as written in the file: a list of {class, useragent, actor, addr, source}, each
// field but class a text or a list of texts, as "<i>.<field>=<value>" values (ClassRules).
Result<Values> RulesFromYaml(const SettingDef& def, const YAML::Node& node,
                             const std::string& path) {
  if (!node.IsSequence()) {
    return Invalid(def.key, "expected a list of {class, useragent, actor, addr, source}",
                   Where(path, node));
  }
  Values values;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node& item = node[i];
    const std::string key = std::string(def.key) + "[" + std::to_string(i) + "]";
    if (!item.IsMap()) {
      return Invalid(key, "expected {class, useragent, actor, addr, source}", Where(path, item));
    }
    for (const auto& field : item) {
      const std::string& name = field.first.Scalar();
      const std::string field_key = fmt::format("{}.{}", key, name);
      if (std::find(std::begin(kClassRuleFields), std::end(kClassRuleFields), name) ==
          std::end(kClassRuleFields)) {
        return Invalid(field_key, "unknown setting", Where(path, field.first));
      }
      const YAML::Node& value = field.second;
      if (value.IsScalar()) {
        values.push_back(std::to_string(i) + "." + name + "=" + value.Scalar());
      } else if (value.IsSequence() && name != "class") {
        for (const YAML::Node& entry : value) {
          if (!entry.IsScalar()) {
            return Invalid(field_key, "list entries must be text", Where(path, entry));
          }
          values.push_back(std::to_string(i) + "." + name + "=" + entry.Scalar());
        }
      } else if (!value.IsNull()) {
        return Invalid(field_key, name == "class" ? "expected a class name" : "expected a list",
                       Where(path, value));
      }
    }
    if (!item["class"].IsDefined()) return Invalid(key + ".class", "missing", Where(path, item));
  }
  return values;
}

// The values of one setting as written in the file.
Result<Values> FromYaml(const SettingDef& def, const YAML::Node& node, const std::string& path) {
  switch (def.codec.shape) {
    case Shape::kScalar:
    case Shape::kBool:
      if (!node.IsScalar()) return Invalid(def.key, "expected a single value", Where(path, node));
      return Values{node.Scalar()};
    case Shape::kList: {
      if (node.IsScalar()) return SplitList(node.Scalar());
      if (!node.IsSequence()) return Invalid(def.key, "expected a list", Where(path, node));
      Values values;
      for (const YAML::Node& item : node) {
        if (!item.IsScalar()) {
          return Invalid(def.key, "list entries must be text", Where(path, item));
        }
        values.push_back(item.Scalar());
      }
      return values;
    }
    case Shape::kUsers:
      return UsersFromYaml(def, node, path);
    case Shape::kRules:
      return RulesFromYaml(def, node, path);
  }
  return Status::Internal("unknown shape of " + std::string(def.key));
}

// Adds the settings of one mapping, whose keys start with prefix, to layer.
Status CollectYaml(const YAML::Node& map, const std::string& prefix, const std::string& path,
                   Layer& layer) {
  for (const auto& entry : map) {
    const std::string where = Where(path, entry.first);
    if (!entry.first.IsScalar()) {
      return Status::InvalidArgument("config file " + where + ": setting names must be text");
    }
    const std::string key =
        prefix.empty() ? entry.first.Scalar() : prefix + "." + entry.first.Scalar();
    const YAML::Node& value = entry.second;
    if (layer.contains(key)) return Invalid(key, "given twice", where);
    if (const SettingDef* def = Find(key)) {
      if (value.IsNull()) continue;  // "key:" without a value keeps the default
      auto values = FromYaml(*def, value, path);
      if (!values.ok()) return values.status();
      layer.emplace(key, Input{std::move(values).value(), where});
    } else if (IsSection(key)) {
      if (value.IsNull()) continue;
      if (!value.IsMap()) return Invalid(key, "expected a mapping of settings", where);
      if (Status status = CollectYaml(value, key, path, layer); !status.ok()) return status;
    } else {
      return Invalid(key, "unknown setting", where);
    }
  }
  return Status::Ok();
}

Result<Layer> ReadYaml(const std::string& path, const std::string& text) {
  const std::string file = "config file " + Quote(path);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    return Status::InvalidArgument(file + ": YAML syntax error at line " +
                                   std::to_string(e.mark.line + 1) + ", column " +
                                   std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  Layer layer;
  if (root.IsNull()) return layer;
  if (!root.IsMap()) return Status::InvalidArgument(file + ": expected a mapping of settings");
  if (Status status = CollectYaml(root, "", path, layer); !status.ok()) return status;
  return layer;
}

}  // namespace

Result<Layer> ReadConfigFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) {
    return Status::InvalidArgument("config file " + Quote(path) + ": " + text.status().message());
  }
  try {
    return ReadYaml(path, *text);
  } catch (const YAML::Exception& e) {  // yaml-cpp throws; callers get a Status
    return Status::Internal(std::string("loading settings: ") + e.what());
  }
}

}  // namespace drec::config
