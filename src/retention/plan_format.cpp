#include "retention/plan_format.h"

#include <fmt/format.h>

#include "util/text_parse.h"

namespace drec::retention {
namespace {

boost::json::value Time(std::optional<UnixMillis> t) {
  if (!t) return nullptr;
  return boost::json::string(FormatRfc3339(*t));
}

boost::json::array Strings(const std::vector<std::string>& items) {
  boost::json::array out;
  for (const std::string& item : items) out.emplace_back(item);
  return out;
}

std::string TimeText(std::optional<UnixMillis> t) { return t ? FormatRfc3339(*t) : "-"; }

std::string Short(const std::string& digest) {
  return digest.size() > 19 ? digest.substr(0, 19) : digest;
}

}  // namespace

boost::json::object PlanJson(const Plan& plan) {
  boost::json::object out;
  out["at"] = FormatRfc3339(plan.at);
  out["registry"] = plan.registry;
  out["checked_against_registry"] = plan.checked_against_registry;
  const PlanSummary& s = plan.summary;
  out["summary"] = {{"repositories", s.repositories},
                    {"tags", s.tags},
                    {"kept", s.kept},
                    {"unknown", s.unknown},
                    {"held_by_limits", s.held_by_limits},
                    {"delete_tags", s.delete_tags},
                    {"delete_manifests", s.delete_manifests}};
  boost::json::array repositories;
  for (const RepositoryPlan& repo : plan.repositories) {
    boost::json::array tags;
    for (const TagPlan& t : repo.tags) {
      tags.push_back(boost::json::object{{"tag", t.tag.tag},
                                         {"digest", t.tag.digest},
                                         {"decision", DecisionName(t.decision)},
                                         {"rule", t.rule},
                                         {"reason", t.reason},
                                         {"attachment", t.tag.attachment},
                                         {"lastpulled", Time(t.tag.lastpulled)},
                                         {"lastpushed", Time(t.tag.lastpushed)},
                                         {"numpulls", t.tag.numpulls}});
    }
    boost::json::array manifests;
    for (const ManifestPlan& m : repo.manifests) {
      manifests.push_back(boost::json::object{{"digest", m.manifest.digest},
                                              {"mediaType", m.manifest.media_type},
                                              {"decision", DecisionName(m.decision)},
                                              {"tags", Strings(m.tags)},
                                              {"rule", m.rule},
                                              {"reason", m.reason},
                                              {"lastpulled", Time(m.manifest.lastpulled)},
                                              {"lastpushed", Time(m.manifest.lastpushed)}});
    }
    repositories.push_back(boost::json::object{{"repository", repo.name},
                                               {"observedsince", Time(repo.observedsince)},
                                               {"tags", std::move(tags)},
                                               {"manifests", std::move(manifests)}});
  }
  out["repositories"] = std::move(repositories);
  boost::json::array deletions;
  for (const Deletion& d : plan.deletions) {
    deletions.push_back(boost::json::object{{"repository", d.repository},
                                            {"digest", d.digest},
                                            {"tags", Strings(d.tags)},
                                            {"rule", d.rule},
                                            {"reason", d.reason}});
  }
  out["deletions"] = std::move(deletions);
  return out;
}

std::string PlanTable(const Plan& plan, bool verbose) {
  std::string out = fmt::format(
      "Retention plan for registry {} at {} ({})\n\n", plan.registry, FormatRfc3339(plan.at),
      plan.checked_against_registry ? "checked against the registry"
                                    : "drec's view only: not checked against the registry");
  const auto row =
      [&out](std::string_view decision, const std::string& repository, const std::string& tag,
             const std::string& digest, const std::string& pulls, const std::string& lastpulled,
             const std::string& lastpushed, const std::string& rule, const std::string& reason) {
        out += fmt::format("{:<8} {:<40} {:<32} {:<19} {:>6} {:<24} {:<24} {}{}{}\n", decision,
                           repository, tag, Short(digest), pulls, lastpulled, lastpushed, rule,
                           rule.empty() || reason.empty() ? "" : ": ", reason);
      };
  row("DECISION", "REPOSITORY", "TAG", "DIGEST", "PULLS", "LAST PULLED", "LAST PUSHED",
      "RULE: REASON", "");
  for (const RepositoryPlan& repo : plan.repositories) {
    for (const TagPlan& t : repo.tags) {
      if (t.decision == Decision::kKeep && !verbose) continue;
      row(DecisionName(t.decision), repo.name, t.tag.tag, t.tag.digest,
          std::to_string(t.tag.numpulls), TimeText(t.tag.lastpulled), TimeText(t.tag.lastpushed),
          t.rule, t.reason);
    }
    for (const ManifestPlan& m : repo.manifests) {
      if (!m.tags.empty() || (m.decision == Decision::kKeep && !verbose)) continue;
      row(DecisionName(m.decision), repo.name, "(untagged)", m.manifest.digest, "-",
          TimeText(m.manifest.lastpulled), TimeText(m.manifest.lastpushed), m.rule, m.reason);
    }
  }
  out += "\nObserved since (drec has seen all of a repository's traffic from then on):\n";
  for (const RepositoryPlan& repo : plan.repositories) {
    out += fmt::format("  {:<40} {}\n", repo.name,
                       repo.observedsince ? FormatRfc3339(*repo.observedsince) : "unknown");
  }
  out += fmt::format("\nDeletions ({}), in order:\n", plan.deletions.size());
  for (const Deletion& d : plan.deletions) {
    out += fmt::format("  DELETE {}@{}{}\n", d.repository, d.digest,
                       d.tags.empty() ? " (untagged)" : " (tags " + Join(d.tags, ", ") + ")");
  }
  const PlanSummary& s = plan.summary;
  out += fmt::format(
      "\n{} repositories, {} tags: {} kept, {} unknown (kept), {} held, {} deleted; {} "
      "manifests deleted\n",
      s.repositories, s.tags, s.kept, s.unknown, s.held, s.delete_tags, s.delete_manifests);
  return out;
}

}  // namespace drec::retention
