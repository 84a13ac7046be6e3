#include "app/settings_semantics.h"

#include <string>
#include <utility>
#include <vector>

#include "util/cidr.h"

namespace drec {

Classifier MakeClassifier(const Settings& settings) {
  std::vector<ClassRule> rules;
  for (const ClassRuleSetting& configured : settings.class_rules) {
    ClassRule rule{configured.cls, configured.user_agent, configured.actor, {}, configured.source};
    // The settings have checked every rule, so every address range parses.
    for (const std::string& range : configured.addr) {
      if (auto cidr = ParseCidr(range)) rule.addr.push_back(*cidr);
    }
    rules.push_back(std::move(rule));
  }
  if (settings.builtin_class_rules) {
    for (ClassRule& rule : DefaultClassRules()) rules.push_back(std::move(rule));
  }
  return Classifier(std::move(rules), settings.default_class);
}

DeletePolicy DeletePolicyOf(const Settings& settings) {
  return settings.on_delete == OnDelete::kRemove ? DeletePolicy::kRemove : DeletePolicy::kKeep;
}

}  // namespace drec
