#include "retention/planner.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "semantics/semantics.h"
#include "util/text_parse.h"

namespace drec::retention {
namespace {

std::string When(std::optional<UnixMillis> t) { return t ? FormatRfc3339(*t) : "never seen"; }

// A manifest that an index which stays lists must stay, whatever its own rule says: run after
// the rules and again after the limits, which may hold an index back.
void ProtectChildren(RepositoryPlan& plan) {
  std::map<std::string, ManifestPlan*> by_digest;
  for (ManifestPlan& m : plan.manifests) by_digest[m.manifest.digest] = &m;
  for (bool changed = true; changed;) {
    changed = false;
    for (auto& [digest, m] : by_digest) {
      if (m->decision != Decision::kDelete) continue;
      const std::string* staying = nullptr;
      for (const std::string& parent : m->manifest.parents) {
        auto it = by_digest.find(parent);
        if (it == by_digest.end() || it->second->decision != Decision::kDelete) staying = &parent;
      }
      for (const auto& [other, index] : by_digest) {
        if (index->decision == Decision::kDelete) continue;
        const auto& c = index->manifest.children;
        if (std::find(c.begin(), c.end(), digest) != c.end()) staying = &other;
      }
      if (staying == nullptr) continue;
      m->decision = Decision::kKeep;
      m->reason = fmt::format("listed by index {}, which stays", *staying);
      for (TagPlan& t : plan.tags) {
        if (t.tag.digest == digest && t.decision == Decision::kDelete) {
          t.decision = Decision::kHeld;
          t.reason += fmt::format("; but index {} lists {} and stays", *staying, digest);
        }
      }
      changed = true;
    }
  }
}

// An attachment (a signature, SBOM or attestation tag `sha256-<hex>[.sig|...]`) goes with the
// image it is about: deleted when its subject is, kept while the subject stays. Run after the
// rules and again after the limits, like ProtectChildren, so no signature outlives its image.
void FollowSubjects(RepositoryPlan& plan) {
  std::map<std::string, ManifestPlan*> by_digest;
  for (ManifestPlan& m : plan.manifests) by_digest[m.manifest.digest] = &m;
  std::set<std::string> changed;
  for (TagPlan& t : plan.tags) {
    if (!t.tag.attachment) continue;
    const std::string subject = AttachmentSubject(t.tag.tag);
    auto it = by_digest.find(subject);
    const bool subject_goes = it != by_digest.end() && it->second->decision == Decision::kDelete;
    if (subject_goes && t.decision == Decision::kKeep) {
      t.decision = Decision::kDelete;
      t.rule = it->second->rule;
      t.reason = fmt::format("an attachment of {}, which is deleted", subject);
      changed.insert(t.tag.digest);
    } else if (!subject_goes && t.decision == Decision::kDelete) {
      t.decision = Decision::kHeld;
      t.reason += fmt::format("; held: {} stays", subject);
      changed.insert(t.tag.digest);
    }
  }
  for (const std::string& digest : changed) {
    ManifestPlan* m = by_digest[digest];
    if (m == nullptr) continue;
    const TagPlan* staying = nullptr;
    const TagPlan* going = nullptr;
    for (const TagPlan& t : plan.tags) {
      if (t.tag.digest != digest) continue;
      (t.decision == Decision::kDelete ? going : staying) = &t;
    }
    if (staying == nullptr && going != nullptr) {
      m->decision = Decision::kDelete;
      m->rule = going->rule;
      m->reason = going->reason;
    } else if (staying != nullptr && m->decision == Decision::kDelete) {
      m->decision = Decision::kHeld;
      m->reason += fmt::format("; held: tag {} stays", staying->tag.tag);
    }
  }
}

// What the rules of one repository say about one tag.
struct TagVerdict {
  bool governed = false;
  std::string governing_rule;
  bool held = false;
  std::string held_rule, held_reason;
  bool unknown = false;
  std::string unknown_rule, unknown_reason;
  std::vector<std::string> not_held;  // why each clause let the tag go
};

class RepositoryPlanner {
 public:
  RepositoryPlanner(const RepositoryView& repo, std::vector<const Rule*> rules, UnixMillis at)
      : repo_(repo), rules_(std::move(rules)), at_(at) {}

  RepositoryPlan Plan() {
    for (const TagView& t : repo_.tags) {
      if (!t.attachment) verdicts_[t.tag];
    }
    for (const Rule* rule : rules_) {
      if (rule->governs_tags) ApplyRule(*rule);
    }
    RepositoryPlan plan{repo_.name, repo_.observedsince, {}, {}};
    for (const TagView& t : repo_.tags) plan.tags.push_back(DecideTag(t));
    std::sort(plan.tags.begin(), plan.tags.end(),
              [](const TagPlan& a, const TagPlan& b) { return a.tag.tag < b.tag.tag; });
    PlanManifests(plan);
    return plan;
  }

 private:
  void Hold(const std::string& tag, const Rule& rule, std::string reason) {
    TagVerdict& v = verdicts_[tag];
    if (v.held) return;
    v.held = true;
    v.held_rule = rule.name;
    v.held_reason = std::move(reason);
  }
  void Unknown(const std::string& tag, const Rule& rule, std::string reason) {
    TagVerdict& v = verdicts_[tag];
    if (v.unknown) return;
    v.unknown = true;
    v.unknown_rule = rule.name;
    v.unknown_reason = std::move(reason);
  }

  // Observed long enough to say "not within `age`"?
  bool Observed(UnixMillis age) const {
    return repo_.observedsince && *repo_.observedsince <= at_ - age;
  }
  std::string TooShort(UnixMillis age) const {
    return repo_.observedsince
               ? fmt::format("drec has observed the repository only since {}, less than {}",
                             FormatRfc3339(*repo_.observedsince), FormatAge(age))
               : std::string("drec does not know since when it observes the repository");
  }

  void ApplyRule(const Rule& rule) {
    std::vector<const TagView*> governed;
    for (const TagView& t : repo_.tags) {
      if (t.attachment || !rule.tags.Matches(t.tag)) continue;
      governed.push_back(&t);
      TagVerdict& v = verdicts_[t.tag];
      if (!v.governed) {
        v.governed = true;
        v.governing_rule = rule.name;
      }
    }
    const KeepClauses& keep = rule.keep;
    for (const TagView* t : governed) {
      for (const NamePattern& pattern : keep.tags) {
        if (pattern.Matches(t->tag)) Hold(t->tag, rule, "matches tags " + pattern.text());
      }
    }
    if (keep.most_recently_pulled) RankByPulls(rule, governed, *keep.most_recently_pulled);
    if (keep.most_recently_pushed) RankByPushes(rule, governed, *keep.most_recently_pushed);
    if (keep.pulled_within) {
      Within(rule, governed, *keep.pulled_within, &TagView::lastpulled, "pulled");
    }
    if (keep.pushed_within) {
      Within(rule, governed, *keep.pushed_within, &TagView::lastpushed, "pushed");
    }
    if (keep.tags.empty() && !keep.most_recently_pulled && !keep.most_recently_pushed &&
        !keep.pulled_within && !keep.pushed_within) {
      for (const TagView* t : governed) verdicts_[t->tag].not_held.push_back("keep is empty");
    }
  }

  // Newest first; ties by name, so plans are stable.
  static void SortBy(std::vector<const TagView*>& tags, std::optional<UnixMillis> TagView::*field) {
    std::sort(tags.begin(), tags.end(), [field](const TagView* a, const TagView* b) {
      if (a->*field != b->*field) return a->*field > b->*field;
      return a->tag < b->tag;
    });
  }

  // Ranks only pulls drec saw: a tag it never saw pulled ranks after every pulled one.
  void RankByPulls(const Rule& rule, std::vector<const TagView*> tags, std::int64_t n) {
    std::erase_if(tags, [](const TagView* t) { return !t->lastpulled; });
    SortBy(tags, &TagView::lastpulled);
    for (std::size_t i = 0; i < tags.size(); ++i) {
      if (static_cast<std::int64_t>(i) < n) {
        Hold(tags[i]->tag, rule,
             fmt::format("among the {} most recently pulled (last pulled {})", n,
                         FormatRfc3339(*tags[i]->lastpulled)));
      }
    }
    for (const TagView& t : repo_.tags) {
      auto it = verdicts_.find(t.tag);
      if (it != verdicts_.end() && it->second.governed && !it->second.held) {
        it->second.not_held.push_back(fmt::format("not among the {} most recently pulled", n));
      }
    }
  }

  // A tag whose push drec did not see was pushed before every push it saw; among such tags the
  // order is unknown, so when they compete for the last places they are all unknown.
  void RankByPushes(const Rule& rule, std::vector<const TagView*> tags, std::int64_t n) {
    std::vector<const TagView*> unseen;
    for (const TagView* t : tags) {
      if (!t->lastpushed) unseen.push_back(t);
    }
    std::erase_if(tags, [](const TagView* t) { return !t->lastpushed; });
    SortBy(tags, &TagView::lastpushed);
    std::int64_t place = 0;
    for (const TagView* t : tags) {
      if (place++ < n) {
        Hold(t->tag, rule,
             fmt::format("among the {} most recently pushed (last pushed {})", n,
                         FormatRfc3339(*t->lastpushed)));
      } else {
        verdicts_[t->tag].not_held.push_back(
            fmt::format("not among the {} most recently pushed", n));
      }
    }
    const std::int64_t left = std::max<std::int64_t>(0, n - static_cast<std::int64_t>(tags.size()));
    for (const TagView* t : unseen) {
      if (left == 0) {
        verdicts_[t->tag].not_held.push_back(
            fmt::format("not among the {} most recently pushed", n));
      } else if (static_cast<std::int64_t>(unseen.size()) <= left) {
        Hold(t->tag, rule,
             fmt::format("among the {} most recently pushed (pushed before drec observed the "
                         "repository)",
                         n));
      } else {
        Unknown(t->tag, rule,
                fmt::format("pushed before drec observed the repository: its place among the {} "
                            "most recently pushed is unknown",
                            n));
      }
    }
  }

  void Within(const Rule& rule, const std::vector<const TagView*>& tags, UnixMillis age,
              std::optional<UnixMillis> TagView::*field, std::string_view verb) {
    for (const TagView* t : tags) {
      const std::optional<UnixMillis> when = t->*field;
      if (when && *when >= at_ - age) {
        Hold(t->tag, rule,
             fmt::format("{} within {} (last {} {})", verb, FormatAge(age), verb,
                         FormatRfc3339(*when)));
      } else if (!Observed(age)) {
        Unknown(t->tag, rule,
                fmt::format("not {} within {}? {}", verb, FormatAge(age), TooShort(age)));
      } else {
        verdicts_[t->tag].not_held.push_back(
            fmt::format("not {} within {} (last {}: {})", verb, FormatAge(age), verb, When(when)));
      }
    }
  }

  TagPlan DecideTag(const TagView& t) const {
    if (t.attachment) {
      return {t, Decision::kKeep, "",
              "a signature, SBOM or attestation: it goes with its image, which stays"};
    }
    const TagVerdict& v = verdicts_.at(t.tag);
    if (!v.governed) return {t, Decision::kKeep, "", "no rule governs the tag"};
    if (v.held) return {t, Decision::kKeep, v.held_rule, v.held_reason};
    if (v.unknown) return {t, Decision::kUnknown, v.unknown_rule, v.unknown_reason};
    return {t, Decision::kDelete, v.governing_rule, Join(v.not_held, "; ")};
  }

  // The largest age of the untagged clauses that match: the most careful rule wins.
  std::optional<std::pair<UnixMillis, std::string>> UntaggedAge() const {
    std::optional<std::pair<UnixMillis, std::string>> age;
    for (const Rule* rule : rules_) {
      if (rule->untagged_older_than && (!age || *rule->untagged_older_than > age->first)) {
        age = {*rule->untagged_older_than, rule->name};
      }
    }
    return age;
  }

  void PlanManifests(RepositoryPlan& plan) {
    std::map<std::string, ManifestPlan> by_digest;
    for (const ManifestView& m : repo_.manifests) by_digest[m.digest].manifest = m;
    for (const TagPlan& t : plan.tags) {
      ManifestPlan& m = by_digest[t.tag.digest];
      m.manifest.digest = t.tag.digest;
      m.tags.push_back(t.tag.tag);
    }
    // A digest goes only with every tag on it; one kept tag holds the others.
    std::map<std::string, const TagPlan*> keeper;
    for (const TagPlan& t : plan.tags) {
      if (t.decision != Decision::kDelete && !keeper.count(t.tag.digest)) keeper[t.tag.digest] = &t;
    }
    for (TagPlan& t : plan.tags) {
      if (t.decision != Decision::kDelete) continue;
      if (auto it = keeper.find(t.tag.digest); it != keeper.end()) {
        t.decision = Decision::kHeld;
        t.reason = fmt::format("{}; but {} also points at {} and stays", t.reason,
                               it->second->tag.tag, t.tag.digest);
      }
    }
    const auto untagged_age = UntaggedAge();
    for (auto& [digest, m] : by_digest) {
      std::sort(m.tags.begin(), m.tags.end());
      if (!m.tags.empty()) {
        const TagPlan* first = nullptr;
        for (const TagPlan& t : plan.tags) {
          if (t.tag.digest == digest && (first == nullptr || t.decision != Decision::kDelete)) {
            first = &t;
          }
        }
        m.decision = first->decision == Decision::kDelete ? Decision::kDelete : Decision::kKeep;
        m.rule = first->rule;
        m.reason = m.decision == Decision::kDelete
                       ? first->reason
                       : fmt::format("tag {} stays: {}", first->tag.tag, first->reason);
        continue;
      }
      PlanUntagged(m, untagged_age);
    }
    for (auto& [digest, m] : by_digest) plan.manifests.push_back(std::move(m));
    ProtectChildren(plan);
    FollowSubjects(plan);
  }

  void PlanUntagged(ManifestPlan& m,
                    const std::optional<std::pair<UnixMillis, std::string>>& untagged_age) const {
    if (!untagged_age) {
      m.reason = "untagged; no rule deletes untagged manifests";
      return;
    }
    const auto& [age, rule] = *untagged_age;
    m.rule = rule;
    const ManifestView& v = m.manifest;
    if (v.lastpushed && *v.lastpushed >= at_ - age) {
      m.reason = fmt::format("untagged, pushed within {} ({})", FormatAge(age),
                             FormatRfc3339(*v.lastpushed));
    } else if (v.lastpulled && *v.lastpulled >= at_ - age) {
      m.reason = fmt::format("untagged, pulled by digest within {} ({})", FormatAge(age),
                             FormatRfc3339(*v.lastpulled));
    } else if (!v.lastpushed && !Observed(age)) {
      m.decision = Decision::kUnknown;
      m.reason = "untagged, pushed before drec observed the repository; " + TooShort(age);
    } else {
      m.decision = Decision::kDelete;
      m.reason = fmt::format("untagged, pushed {} (older than {}), not pulled since",
                             When(v.lastpushed), FormatAge(age));
    }
  }

  const RepositoryView& repo_;
  std::vector<const Rule*> rules_;
  UnixMillis at_;
  std::map<std::string, TagVerdict> verdicts_;
};

std::optional<UnixMillis> LastActivity(const ManifestPlan& m) {
  return Latest(m.manifest.lastpulled, m.manifest.lastpushed);
}

// Holds every deletion beyond a limit, oldest activity first in line, so what a limit keeps is
// what was used most recently. Returns how many deletions it held.
std::int64_t ApplyLimits(const Limits& limits, std::vector<RepositoryPlan>& repos) {
  std::int64_t total = 0, held = 0;
  for (RepositoryPlan& repo : repos) {
    std::vector<ManifestPlan*> candidates;
    std::set<std::string> attachments;
    for (const TagPlan& t : repo.tags) {
      if (t.tag.attachment) attachments.insert(t.tag.tag);
    }
    const auto image_tags = static_cast<std::int64_t>(repo.tags.size() - attachments.size());
    for (ManifestPlan& m : repo.manifests) {
      if (m.decision == Decision::kDelete) candidates.push_back(&m);
    }
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const ManifestPlan* a, const ManifestPlan* b) {
                       return LastActivity(*a) < LastActivity(*b);
                     });
    const auto share_cap =
        static_cast<std::int64_t>(limits.max_share * static_cast<double>(image_tags));
    std::int64_t in_repo = 0, tags_in_repo = 0;
    for (ManifestPlan* m : candidates) {
      // The share is of image tags: an attachment leaving with its image takes no share.
      const auto tags = std::count_if(m->tags.begin(), m->tags.end(), [&](const std::string& tag) {
        return !attachments.count(tag);
      });
      std::string limit;
      if (total >= limits.max_deletions) {
        limit = fmt::format("limits.max_deletions ({}) reached", limits.max_deletions);
      } else if (in_repo >= limits.max_per_repository) {
        limit = fmt::format("limits.max_per_repository ({}) reached", limits.max_per_repository);
      } else if (tags > 0 && tags_in_repo + tags > share_cap) {
        limit =
            fmt::format("limits.max_share ({} of {} tags) reached", limits.max_share, image_tags);
      }
      if (limit.empty()) {
        ++total;
        ++in_repo;
        tags_in_repo += tags;
        continue;
      }
      m->decision = Decision::kHeld;
      m->reason += "; held: " + limit;
      ++held;
      for (TagPlan& t : repo.tags) {
        if (t.tag.digest == m->manifest.digest && t.decision == Decision::kDelete) {
          t.decision = Decision::kHeld;
          t.reason += "; held: " + limit;
        }
      }
    }
    ProtectChildren(repo);
  }
  return held;
}

}  // namespace

std::string_view DecisionName(Decision decision) {
  switch (decision) {
    case Decision::kKeep:
      return "keep";
    case Decision::kDelete:
      return "delete";
    case Decision::kUnknown:
      return "unknown";
    case Decision::kHeld:
      return "held";
  }
  return "keep";
}

Plan MakePlan(const Policy& policy, const std::vector<RepositoryView>& repositories,
              UnixMillis at) {
  Plan plan;
  plan.at = at;
  plan.registry = policy.registry.name;
  for (const RepositoryView& repo : repositories) {
    std::vector<const Rule*> rules;
    for (const Rule& rule : policy.rules) {
      if (rule.repositories.Matches(repo.name)) rules.push_back(&rule);
    }
    if (!rules.empty()) plan.repositories.push_back(RepositoryPlanner(repo, rules, at).Plan());
  }
  std::sort(plan.repositories.begin(), plan.repositories.end(),
            [](const RepositoryPlan& a, const RepositoryPlan& b) { return a.name < b.name; });
  PlanSummary& s = plan.summary;
  s.held_by_limits = ApplyLimits(policy.limits, plan.repositories);
  for (const RepositoryPlan& repo : plan.repositories) {
    ++s.repositories;
    // Indexes first: a run cut short then leaves children without their index, never an index
    // without its children.
    std::vector<const ManifestPlan*> order;
    for (const ManifestPlan& m : repo.manifests) {
      if (m.decision == Decision::kDelete) order.push_back(&m);
    }
    std::stable_partition(order.begin(), order.end(), [](const ManifestPlan* m) {
      return IsIndexMediaType(m->manifest.media_type) || !m->manifest.children.empty();
    });
    for (const ManifestPlan* m : order) {
      plan.deletions.push_back({repo.name, m->manifest.digest, m->tags, m->rule, m->reason});
    }
    for (const TagPlan& t : repo.tags) {
      ++s.tags;
      switch (t.decision) {
        case Decision::kKeep:
          ++s.kept;
          break;
        case Decision::kDelete:
          ++s.delete_tags;
          break;
        case Decision::kUnknown:
          ++s.unknown;
          break;
        case Decision::kHeld:
          ++s.held;
          break;
      }
    }
  }
  s.delete_manifests = static_cast<std::int64_t>(plan.deletions.size());
  return plan;
}

}  // namespace drec::retention
