#include "retention/name_pattern.h"

#include <fmt/format.h>

namespace drec::retention {
namespace {

std::string GlobToRegex(std::string_view glob) {
  std::string out;
  for (std::size_t i = 0; i < glob.size(); ++i) {
    const char c = glob[i];
    if (c == '*' && i + 1 < glob.size() && glob[i + 1] == '*') {
      out += ".*";
      ++i;
    } else if (c == '*') {
      out += "[^/]*";
    } else if (c == '?') {
      out += "[^/]";
    } else if (std::string_view("\\^$.|+()[]{}").find(c) != std::string_view::npos) {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

Result<std::shared_ptr<const std::regex>> Compile(const std::string& regex,
                                                  std::string_view shown) {
  try {
    return std::make_shared<const std::regex>(regex, std::regex::ECMAScript | std::regex::optimize);
  } catch (const std::regex_error& e) {
    return Status::InvalidArgument(
        fmt::format("\"{}\" is not a valid pattern: {}", shown, e.what()));
  }
}

}  // namespace

NamePattern::NamePattern() : NamePattern("**", nullptr) {}

NamePattern::NamePattern(std::string text, std::shared_ptr<const std::regex> regex)
    : text_(std::move(text)), regex_(std::move(regex)) {}

Result<NamePattern> NamePattern::Glob(std::string_view glob) {
  if (glob.empty()) return Status::InvalidArgument("an empty pattern matches nothing");
  if (glob == "**") return NamePattern();
  auto regex = Compile(GlobToRegex(glob), glob);
  if (!regex.ok()) return regex.status();
  return NamePattern(std::string(glob), std::move(regex).value());
}

Result<NamePattern> NamePattern::Regex(std::string_view regex) {
  if (regex.empty()) return Status::InvalidArgument("an empty regex matches nothing");
  auto compiled = Compile(std::string(regex), regex);
  if (!compiled.ok()) return compiled.status();
  return NamePattern(fmt::format("regex:{}", regex), std::move(compiled).value());
}

bool NamePattern::Matches(std::string_view name) const {
  if (regex_ == nullptr) return true;
  return std::regex_match(name.begin(), name.end(), *regex_);
}

}  // namespace drec::retention
