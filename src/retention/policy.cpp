#include "retention/policy.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <set>

#include "util/read_file.h"
#include "util/text_parse.h"

namespace drec::retention {
namespace {

struct Unit {
  char suffix;
  UnixMillis millis;
};
constexpr std::array<Unit, 5> kUnits{
    {{'w', 7 * kDayMillis}, {'d', kDayMillis}, {'h', 3'600'000}, {'m', 60'000}, {'s', 1'000}}};

// Errors carry the file and the key path ("rules[2].keep.pulled_within"), so a user finds the
// line to fix without reading drec's code.
class Parser {
 public:
  explicit Parser(std::string_view origin) : origin_(origin) {}

  Status Fail(const std::string& key, const std::string& why) const {
    return Status::InvalidArgument(fmt::format("{}: {}: {}", origin_, key, why));
  }

  Status Keys(const YAML::Node& map, const std::string& key,
              std::initializer_list<std::string_view> known) const {
    if (!map.IsMap()) return Fail(key, "must be a mapping");
    for (const auto& entry : map) {
      const std::string name = entry.first.as<std::string>();
      bool found = false;
      for (std::string_view k : known) found = found || k == name;
      if (!found) {
        std::vector<std::string> names(known.begin(), known.end());
        return Fail(Sub(key, name), fmt::format("unknown key (known: {})", Join(names, ", ")));
      }
    }
    return Status::Ok();
  }

  static std::string Sub(const std::string& key, std::string_view name) {
    return key.empty() ? std::string(name) : fmt::format("{}.{}", key, name);
  }

  Result<std::string> Scalar(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) return Fail(key, "must be a single value");
    return node.as<std::string>();
  }

  Result<std::int64_t> Count(const YAML::Node& node, const std::string& key, std::int64_t min,
                             std::int64_t max) const {
    auto text = Scalar(node, key);
    if (!text.ok()) return text.status();
    auto value = ParseIntInRange(*text, min, max);
    if (!value)
      return Fail(key, fmt::format("\"{}\" is not a whole number in [{}, {}]", *text, min, max));
    return *value;
  }

  Result<UnixMillis> Age(const YAML::Node& node, const std::string& key) const {
    auto text = Scalar(node, key);
    if (!text.ok()) return text.status();
    auto age = ParseAge(*text);
    if (!age) return Fail(key, fmt::format("\"{}\" is not an age such as 90d, 12h or 2w", *text));
    return *age;
  }

  // A glob string, or {regex: "..."}.
  Result<NamePattern> Pattern(const YAML::Node& node, const std::string& key) const {
    if (node.IsMap()) {
      if (Status s = Keys(node, key, {"regex"}); !s.ok()) return s;
      auto text = Scalar(node["regex"], Sub(key, "regex"));
      if (!text.ok()) return text.status();
      auto pattern = NamePattern::Regex(*text);
      if (!pattern.ok()) return Fail(Sub(key, "regex"), pattern.status().message());
      return pattern;
    }
    auto text = Scalar(node, key);
    if (!text.ok()) return text.status();
    auto pattern = NamePattern::Glob(*text);
    if (!pattern.ok()) return Fail(key, pattern.status().message());
    return pattern;
  }

  Status Registry(const YAML::Node& node, RegistryAccess& out) const {
    const std::string key = "registry";
    if (Status s = Keys(node, key,
                        {"name", "url", "username", "password_file", "ca_file",
                         "insecure_skip_verify", "timeout"});
        !s.ok()) {
      return s;
    }
    for (auto [name, target] :
         {std::pair{"name", &out.name}, std::pair{"url", &out.url},
          std::pair{"username", &out.username}, std::pair{"ca_file", &out.ca_file}}) {
      if (!node[name]) continue;
      auto text = Scalar(node[name], Sub(key, name));
      if (!text.ok()) return text.status();
      *target = *text;
    }
    if (!out.url.empty() && !out.url.starts_with("https://") && !out.url.starts_with("http://")) {
      return Fail("registry.url",
                  fmt::format("\"{}\" must start with https:// or http://", out.url));
    }
    if (node["password_file"]) {
      auto path = Scalar(node["password_file"], "registry.password_file");
      if (!path.ok()) return path.status();
      auto text = ReadFile(*path);
      if (!text.ok()) return Fail("registry.password_file", text.status().message());
      out.password = std::string(Trim(*text));
    }
    if (node["insecure_skip_verify"]) {
      auto text = Scalar(node["insecure_skip_verify"], "registry.insecure_skip_verify");
      if (!text.ok()) return text.status();
      auto value = ParseBool(*text);
      if (!value) return Fail("registry.insecure_skip_verify", "must be true or false");
      out.insecure_skip_verify = *value;
    }
    if (node["timeout"]) {
      auto age = Age(node["timeout"], "registry.timeout");
      if (!age.ok()) return age.status();
      out.timeout = std::chrono::milliseconds(*age);
    }
    return Status::Ok();
  }

  Status LimitsOf(const YAML::Node& node, Limits& out) const {
    if (Status s = Keys(node, "limits",
                        {"max_deletions", "max_share", "max_per_repository", "concurrency"});
        !s.ok()) {
      return s;
    }
    for (auto [name, target, max] :
         {std::tuple{"max_deletions", &out.max_deletions, std::int64_t{1'000'000}},
          std::tuple{"max_per_repository", &out.max_per_repository, std::int64_t{1'000'000}},
          std::tuple{"concurrency", &out.concurrency, std::int64_t{64}}}) {
      if (!node[name]) continue;
      auto value = Count(node[name], Sub("limits", name), 1, max);
      if (!value.ok()) return value.status();
      *target = *value;
    }
    if (node["max_share"]) {
      auto text = Scalar(node["max_share"], "limits.max_share");
      if (!text.ok()) return text.status();
      char* end = nullptr;
      const double share = std::strtod(text->c_str(), &end);
      if (text->empty() || *end != '\0' || !(share > 0 && share <= 1)) {
        return Fail("limits.max_share", fmt::format("\"{}\" is not a share in (0, 1]", *text));
      }
      out.max_share = share;
    }
    return Status::Ok();
  }

  Status KeepOf(const YAML::Node& node, const std::string& key, KeepClauses& out) const {
    if (Status s = Keys(node, key,
                        {"most_recently_pulled", "most_recently_pushed", "pulled_within",
                         "pushed_within", "tags"});
        !s.ok()) {
      return s;
    }
    for (auto [name, target] : {std::pair{"most_recently_pulled", &out.most_recently_pulled},
                                std::pair{"most_recently_pushed", &out.most_recently_pushed}}) {
      if (!node[name]) continue;
      auto value = Count(node[name], Sub(key, name), 0, 1'000'000);
      if (!value.ok()) return value.status();
      *target = *value;
    }
    for (auto [name, target] : {std::pair{"pulled_within", &out.pulled_within},
                                std::pair{"pushed_within", &out.pushed_within}}) {
      if (!node[name]) continue;
      auto value = Age(node[name], Sub(key, name));
      if (!value.ok()) return value.status();
      *target = *value;
    }
    if (const YAML::Node tags = node["tags"]) {
      const std::string tags_key = Sub(key, "tags");
      if (tags.IsSequence()) {
        for (std::size_t i = 0; i < tags.size(); ++i) {
          auto pattern = Pattern(tags[i], fmt::format("{}[{}]", tags_key, i));
          if (!pattern.ok()) return pattern.status();
          out.tags.push_back(std::move(pattern).value());
        }
      } else {
        auto pattern = Pattern(tags, tags_key);
        if (!pattern.ok()) return pattern.status();
        out.tags.push_back(std::move(pattern).value());
      }
    }
    return Status::Ok();
  }

  Result<Rule> RuleOf(const YAML::Node& node, std::size_t index) const {
    const std::string key = fmt::format("rules[{}]", index);
    if (Status s = Keys(node, key, {"name", "repositories", "tags", "keep", "untagged_older_than"});
        !s.ok()) {
      return s;
    }
    Rule rule;
    rule.name = fmt::format("rule {}", index + 1);
    if (node["name"]) {
      auto name = Scalar(node["name"], Sub(key, "name"));
      if (!name.ok()) return name.status();
      rule.name = *name;
    }
    if (!node["repositories"]) return Fail(Sub(key, "repositories"), "is required");
    auto repositories = Pattern(node["repositories"], Sub(key, "repositories"));
    if (!repositories.ok()) return repositories.status();
    rule.repositories = std::move(repositories).value();
    if (node["tags"]) {
      auto tags = Pattern(node["tags"], Sub(key, "tags"));
      if (!tags.ok()) return tags.status();
      rule.tags = std::move(tags).value();
    }
    if (node["keep"]) {
      rule.governs_tags = true;
      if (!node["keep"].IsNull()) {
        if (Status s = KeepOf(node["keep"], Sub(key, "keep"), rule.keep); !s.ok()) return s;
      }
    }
    if (node["untagged_older_than"]) {
      auto age = Age(node["untagged_older_than"], Sub(key, "untagged_older_than"));
      if (!age.ok()) return age.status();
      rule.untagged_older_than = *age;
    }
    if (node["tags"] && !node["keep"]) {
      return Fail(Sub(key, "keep"),
                  "is required with tags: a rule without keep deletes no tag (write keep: {} to "
                  "delete every tag the rule governs)");
    }
    if (!rule.governs_tags && !rule.untagged_older_than) {
      return Fail(key, "has neither keep nor untagged_older_than: it would do nothing");
    }
    return rule;
  }

 private:
  std::string_view origin_;
};

}  // namespace

std::optional<UnixMillis> ParseAge(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  for (const Unit& unit : kUnits) {
    if (text.back() != unit.suffix) continue;
    auto count = ParseIntInRange(text.substr(0, text.size() - 1), 0, std::int64_t{100'000} * 365);
    if (!count) return std::nullopt;
    return *count * unit.millis;
  }
  return std::nullopt;
}

std::string FormatAge(UnixMillis age) {
  for (const Unit& unit : kUnits) {
    if (age % unit.millis == 0 && age >= unit.millis) {
      return fmt::format("{}{}", age / unit.millis, unit.suffix);
    }
  }
  return fmt::format("{}ms", age);
}

Result<Policy> ParsePolicy(std::string_view yaml, std::string_view origin) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(fmt::format("{}: not valid YAML: {}", origin, e.what()));
  }
  const Parser parser(origin);
  Policy policy;
  if (!root.IsMap()) return parser.Fail("(top level)", "must be a mapping with rules:");
  if (Status s = parser.Keys(root, "", {"registry", "limits", "rules"}); !s.ok()) return s;
  try {
    if (root["registry"]) {
      if (Status s = parser.Registry(root["registry"], policy.registry); !s.ok()) return s;
    }
    if (root["limits"]) {
      if (Status s = parser.LimitsOf(root["limits"], policy.limits); !s.ok()) return s;
    }
    const YAML::Node rules = root["rules"];
    if (!rules || !rules.IsSequence() || rules.size() == 0) {
      return parser.Fail("rules", "must be a list of at least one rule");
    }
    std::set<std::string> names;
    for (std::size_t i = 0; i < rules.size(); ++i) {
      auto rule = parser.RuleOf(rules[i], i);
      if (!rule.ok()) return rule.status();
      if (!names.insert(rule->name).second) {
        return parser.Fail(fmt::format("rules[{}].name", i),
                           fmt::format("\"{}\" names an earlier rule too", rule->name));
      }
      policy.rules.push_back(std::move(rule).value());
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(fmt::format("{}: {}", origin, e.what()));
  }
  return policy;
}

Result<Policy> LoadPolicy(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) {
    return Status::InvalidArgument(
        fmt::format("retention policy {}: {}", path, text.status().message()));
  }
  return ParsePolicy(*text, path);
}

}  // namespace drec::retention
