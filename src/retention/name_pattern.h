// How a retention rule selects repositories and tags: a glob, the form people write in Harbor's
// and zot's policies, or a regular expression for what a glob cannot say.
#pragma once

#include <memory>
#include <regex>
#include <string>
#include <string_view>

#include "util/status.h"

namespace drec::retention {

// A compiled glob or regular expression, matched against a whole name. Glob: `*` any run of
// characters but `/`, `**` any run including `/`, `?` one character but `/`; every other
// character stands for itself. A regular expression (ECMAScript) must match the whole name.
class NamePattern {
 public:
  // The pattern that matches every name.
  NamePattern();
  static Result<NamePattern> Glob(std::string_view glob);
  static Result<NamePattern> Regex(std::string_view regex);

  bool Matches(std::string_view name) const;
  // As written, with `regex:` before a regular expression: how plans and messages show it.
  const std::string& text() const { return text_; }

 private:
  NamePattern(std::string text, std::shared_ptr<const std::regex> regex);
  std::string text_;
  std::shared_ptr<const std::regex> regex_;  // shared: patterns are copied with their rules
};

}  // namespace drec::retention
