// Traffic classes (docs/counting.md#traffic-classes): which kind of client caused a counted
// event (production nodes, CI, vulnerability scanners, replication, ...), decided by ordered
// rules on the event's user agent, actor, client address and registry instance. Pure code, like
// the rest of semantics: the rules come from the settings, the answer from the event alone.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ingest/event.h"
#include "util/cidr.h"
#include "util/class_name.h"

namespace drec {

// One rule: it matches an event when every field it sets matches (an unset, empty field is
// ignored). Within a field any entry may match. No regular expressions, so no rule can make
// classifying slow (ReDoS); texts are bounded by the envelope parser.
struct ClassRule {
  std::string name;                     // the class: [a-z0-9][a-z0-9_-]{0,31}
  std::vector<std::string> user_agent;  // case-insensitive substrings of request.useragent
  std::vector<std::string> actor;       // globs (`*` is any text) on actor.name, case-sensitive
  std::vector<Cidr> addr;               // ranges holding the client IP of request.addr
  std::vector<std::string> source;      // globs on source.addr (host:port), case-insensitive
  bool operator==(const ClassRule&) const = default;

  // A rule that sets no field; the settings refuse it, and the classifier never matches it.
  bool Empty() const {
    return user_agent.empty() && actor.empty() && addr.empty() && source.empty();
  }
};

// The class drec assigns when no rule matches, unless `classes.default` says otherwise.
inline constexpr std::string_view kDefaultClass = "other";

// The built-in rules (`classes.builtin_rules`), applied after the operator's: scanners, then
// replication tools, then CI and build tools, then container runtimes as production. The table
// and the reasons are in docs/counting.md#traffic-classes.
std::vector<ClassRule> DefaultClassRules();

// `*` matches any text (also none), every other character itself; ASCII case folded when
// `fold_case`. Linear backtracking on the last `*`, no recursion.
bool GlobMatches(std::string_view pattern, std::string_view text, bool fold_case);

class Classifier;

// The classifier of the default settings: the built-in rules, then kDefaultClass. One instance
// for the process, so the class names that interpretations view outlive them.
const Classifier& DefaultClassifier();

// Decides the class of each counted event: the first matching rule wins, none gives the
// default class.
class Classifier {
 public:
  Classifier(std::vector<ClassRule> rules, std::string default_class);

  // The class of `event`; a view of a name this classifier owns.
  std::string_view Classify(const Event& event) const;

  // Every class this classifier can answer, each once, the default last: the bounded label set
  // of drec_events_by_class_total.
  const std::vector<std::string>& ClassNames() const { return names_; }

 private:
  std::vector<ClassRule> rules_;
  std::string default_class_;
  std::vector<std::string> names_;
};

}  // namespace drec
