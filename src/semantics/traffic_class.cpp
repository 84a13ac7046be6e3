#include "semantics/traffic_class.h"

#include <algorithm>
#include <optional>
#include <utility>

namespace drec {
namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool SameChar(char a, char b, bool fold_case) { return fold_case ? Lower(a) == Lower(b) : a == b; }

bool ContainsFolded(std::string_view text, std::string_view needle) {
  return std::search(text.begin(), text.end(), needle.begin(), needle.end(),
                     [](char a, char b) { return Lower(a) == Lower(b); }) != text.end();
}

bool AnyUserAgent(const ClassRule& rule, std::string_view user_agent) {
  return std::any_of(rule.user_agent.begin(), rule.user_agent.end(),
                     [&](const std::string& needle) { return ContainsFolded(user_agent, needle); });
}

bool AnyGlob(const std::vector<std::string>& patterns, std::string_view text, bool fold_case) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& pattern) {
    return GlobMatches(pattern, text, fold_case);
  });
}

bool AnyRange(const ClassRule& rule, const std::optional<IpAddress>& client) {
  return client && std::any_of(rule.addr.begin(), rule.addr.end(),
                               [&](const Cidr& cidr) { return Contains(cidr, *client); });
}

ClassRule UserAgentRule(std::string name, std::vector<std::string> user_agents) {
  ClassRule rule;
  rule.name = std::move(name);
  rule.user_agent = std::move(user_agents);
  return rule;
}

}  // namespace

std::vector<ClassRule> DefaultClassRules() {
  return {
      UserAgentRule("scanner", {"trivy", "clair", "grype", "anchore", "snyk", "twistlock", "prisma",
                                "aqua", "xray", "neuvector", "harbor-scanner"}),
      UserAgentRule("replication", {"harbor-registry-client", "regclient", "regsync", "dregsy"}),
      UserAgentRule("ci", {"buildkit", "buildah", "kaniko", "go-containerregistry", "oras/",
                           "go-http-client/", "curl/", "github-actions", "gitlab-runner", "jenkins",
                           "tekton"}),
      UserAgentRule("production", {"containerd/", "cri-o/", "kubelet", "docker/"}),
  };
}

bool GlobMatches(std::string_view pattern, std::string_view text, bool fold_case) {
  std::size_t p = 0, t = 0;
  // Where the last `*` was, and the text position it currently stands for the end of.
  std::optional<std::size_t> star;
  std::size_t star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (p < pattern.size() && SameChar(pattern[p], text[t], fold_case)) {
      ++p;
      ++t;
    } else if (star) {
      p = *star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

const Classifier& DefaultClassifier() {
  static const Classifier classifier(DefaultClassRules(), std::string(kDefaultClass));
  return classifier;
}

Classifier::Classifier(std::vector<ClassRule> rules, std::string default_class)
    : rules_(std::move(rules)), default_class_(std::move(default_class)) {
  for (const ClassRule& rule : rules_) {
    if (std::find(names_.begin(), names_.end(), rule.name) == names_.end()) {
      names_.push_back(rule.name);
    }
  }
  std::erase(names_, default_class_);
  names_.push_back(default_class_);
}

std::string_view Classifier::Classify(const Event& event) const {
  std::optional<std::optional<IpAddress>> client;  // parsed once, when a rule asks
  for (const ClassRule& rule : rules_) {
    if (rule.Empty()) continue;
    if (!rule.user_agent.empty() && !AnyUserAgent(rule, event.user_agent)) continue;
    if (!rule.actor.empty() && !AnyGlob(rule.actor, event.actor, false)) continue;
    if (!rule.addr.empty()) {
      if (!client) client = ParseClientAddress(event.client_addr);
      if (!AnyRange(rule, *client)) continue;
    }
    if (!rule.source.empty() && !AnyGlob(rule.source, event.source_addr, true)) continue;
    return rule.name;
  }
  return default_class_;
}

}  // namespace drec
