#include "retention/planner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace drec::retention {
namespace {

constexpr UnixMillis kAt = 1'800'000'000'000;
constexpr UnixMillis kDay = kDayMillis;
const std::string kIndex = "application/vnd.oci.image.index.v1+json";

Policy PolicyOf(const std::string& yaml) {
  auto policy = ParsePolicy(yaml, "test");
  EXPECT_TRUE(policy.ok()) << policy.status().message();
  return policy.ok() ? *policy : Policy{};
}

TagView Tag(std::string tag, std::string digest, std::optional<UnixMillis> pulled_days_ago,
            std::optional<UnixMillis> pushed_days_ago) {
  TagView t{std::move(tag), std::move(digest), false, std::nullopt, std::nullopt, 0};
  if (pulled_days_ago) t.lastpulled = kAt - *pulled_days_ago * kDay;
  if (pushed_days_ago) t.lastpushed = kAt - *pushed_days_ago * kDay;
  return t;
}

std::map<std::string, Decision> TagDecisions(const Plan& plan, const std::string& repo) {
  std::map<std::string, Decision> out;
  for (const RepositoryPlan& r : plan.repositories) {
    if (r.name != repo) continue;
    for (const TagPlan& t : r.tags) out[t.tag.tag] = t.decision;
  }
  return out;
}

RepositoryView Repo(std::string name, UnixMillis observed_days, std::vector<TagView> tags) {
  return {std::move(name), kAt - observed_days * kDay, std::move(tags), {}};
}

TEST(PlannerTest, ATagGoesOnlyWhenNoKeepClauseHoldsIt) {
  const Policy policy = PolicyOf(R"(
rules:
  - repositories: "app"
    keep: {most_recently_pulled: 1, pulled_within: 30d, tags: ["v*"]}
)");
  const Plan plan =
      MakePlan(policy,
               {Repo("app", 200,
                     {Tag("newest", "sha256:a", 1, 100), Tag("recent", "sha256:b", 20, 100),
                      Tag("old", "sha256:c", 120, 150), Tag("never", "sha256:d", std::nullopt, 150),
                      Tag("v1", "sha256:e", std::nullopt, 190)}),
                Repo("other", 200, {Tag("x", "sha256:f", std::nullopt, 190)})},
               kAt);
  const auto d = TagDecisions(plan, "app");
  EXPECT_EQ(d.at("newest"), Decision::kKeep);
  EXPECT_EQ(d.at("recent"), Decision::kKeep);
  EXPECT_EQ(d.at("old"), Decision::kDelete);
  EXPECT_EQ(d.at("never"), Decision::kDelete);
  EXPECT_EQ(d.at("v1"), Decision::kKeep);
  ASSERT_EQ(plan.repositories.size(), 1u) << "a repository no rule matches is left out";
  ASSERT_EQ(plan.deletions.size(), 2u);
  EXPECT_EQ(plan.summary.delete_tags, 2);
  EXPECT_EQ(plan.summary.kept, 3);
  for (const Deletion& deletion : plan.deletions) {
    EXPECT_NE(deletion.reason.find("not pulled within 30d"), std::string::npos) << deletion.reason;
  }
}

TEST(PlannerTest, AWindowLongerThanTheObservationLeavesTagsUnknownAndKept) {
  const Policy policy = PolicyOf("rules: [{repositories: '**', keep: {pulled_within: 90d}}]");
  const Plan plan = MakePlan(
      policy,
      {Repo("young", 5, {Tag("t", "sha256:a", std::nullopt, 4), Tag("p", "sha256:b", 2, 4)}),
       RepositoryView{"unobserved", std::nullopt, {Tag("t", "sha256:c", std::nullopt, 4)}, {}}},
      kAt);
  EXPECT_EQ(TagDecisions(plan, "young").at("t"), Decision::kUnknown);
  EXPECT_EQ(TagDecisions(plan, "young").at("p"), Decision::kKeep);
  EXPECT_EQ(TagDecisions(plan, "unobserved").at("t"), Decision::kUnknown);
  EXPECT_TRUE(plan.deletions.empty());
  EXPECT_EQ(plan.summary.unknown, 2);
}

TEST(PlannerTest, ADigestGoesOnlyWithEveryTagOnItAndAKeptTagHoldsTheOthers) {
  const Policy policy = PolicyOf("rules: [{repositories: app, keep: {tags: [stable]}}]");
  const Plan plan = MakePlan(policy,
                             {Repo("app", 200,
                                   {Tag("stable", "sha256:shared", std::nullopt, 100),
                                    Tag("rc", "sha256:shared", std::nullopt, 100),
                                    Tag("a", "sha256:gone", std::nullopt, 100),
                                    Tag("b", "sha256:gone", std::nullopt, 100)})},
                             kAt);
  const auto d = TagDecisions(plan, "app");
  EXPECT_EQ(d.at("stable"), Decision::kKeep);
  EXPECT_EQ(d.at("rc"), Decision::kHeld);
  EXPECT_EQ(d.at("a"), Decision::kDelete);
  ASSERT_EQ(plan.deletions.size(), 1u);
  EXPECT_EQ(plan.deletions[0].digest, "sha256:gone");
  EXPECT_EQ(plan.deletions[0].tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(plan.summary.held, 1);
  EXPECT_EQ(plan.summary.held_by_limits, 0) << "a shared digest is no limit";
}

TEST(PlannerTest, ChildrenOfAnIndexThatStaysStayAndAnIndexGoesBeforeItsChildren) {
  const Policy policy =
      PolicyOf("rules: [{repositories: app, keep: {tags: [keep]}, untagged_older_than: 30d}]");
  RepositoryView repo = Repo("app", 200,
                             {Tag("keep", "sha256:kept-index", std::nullopt, 100),
                              Tag("drop", "sha256:old-index", std::nullopt, 100)});
  const UnixMillis old = kAt - 100 * kDay;
  repo.manifests = {
      {"sha256:kept-index", kIndex, std::nullopt, old, {"sha256:k1", "sha256:shared"}, {}},
      {"sha256:old-index", kIndex, std::nullopt, old, {"sha256:o1", "sha256:shared"}, {}},
      {"sha256:k1", "m", std::nullopt, old, {}, {}},
      {"sha256:shared", "m", std::nullopt, old, {}, {}},
      {"sha256:o1", "m", std::nullopt, old, {}, {}},
      // Known to drec as a child of the kept index only (registry `references`).
      {"sha256:p1", "m", std::nullopt, old, {}, {"sha256:kept-index"}},
      {"sha256:fresh", "m", std::nullopt, kAt - 2 * kDay, {}, {}},
      {"sha256:pulled", "m", kAt - 3 * kDay, old, {}, {}},
  };
  const Plan plan = MakePlan(policy, {repo}, kAt);
  std::vector<std::string> deleted;
  for (const Deletion& d : plan.deletions) deleted.push_back(d.digest);
  EXPECT_EQ(deleted, (std::vector<std::string>{"sha256:old-index", "sha256:o1"}));
}

TEST(PlannerTest, LimitsHoldTheMostRecentlyUsedDeletions) {
  const Policy policy = PolicyOf(R"(
limits: {max_deletions: 2, max_share: 1}
rules: [{repositories: app, keep: {}}]
)");
  const Plan plan = MakePlan(policy,
                             {Repo("app", 200,
                                   {Tag("t1", "sha256:1", 50, 100), Tag("t2", "sha256:2", 40, 100),
                                    Tag("t3", "sha256:3", 10, 100)})},
                             kAt);
  const auto d = TagDecisions(plan, "app");
  EXPECT_EQ(d.at("t1"), Decision::kDelete);
  EXPECT_EQ(d.at("t2"), Decision::kDelete);
  EXPECT_EQ(d.at("t3"), Decision::kHeld);
  EXPECT_EQ(plan.summary.held, 1);
  EXPECT_EQ(plan.summary.held_by_limits, 1);

  const Plan shared =
      MakePlan(PolicyOf("limits: {max_share: 0.5}\n"
                        "rules: [{repositories: app, keep: {}}]"),
               {Repo("app", 200,
                     {Tag("t1", "sha256:1", 50, 100), Tag("t2", "sha256:2", 40, 100),
                      Tag("t3", "sha256:3", 10, 100)})},
               kAt);
  EXPECT_EQ(shared.deletions.size(), 1u) << "half of three tags is one";
  EXPECT_EQ(shared.summary.held_by_limits, 2);
}

TEST(PlannerTest, PushRankingOfTagsPushedBeforeTheObservationIsUnknown) {
  const Policy policy = PolicyOf("rules: [{repositories: app, keep: {most_recently_pushed: 2}}]");
  const Plan plan = MakePlan(policy,
                             {Repo("app", 50,
                                   {Tag("seen", "sha256:1", std::nullopt, 10),
                                    Tag("before1", "sha256:2", std::nullopt, std::nullopt),
                                    Tag("before2", "sha256:3", std::nullopt, std::nullopt)})},
                             kAt);
  const auto d = TagDecisions(plan, "app");
  EXPECT_EQ(d.at("seen"), Decision::kKeep);
  EXPECT_EQ(d.at("before1"), Decision::kUnknown);
  EXPECT_EQ(d.at("before2"), Decision::kUnknown);
}

TEST(PlannerTest, AttachmentsAndUngovernedTagsAreKept) {
  const Policy policy = PolicyOf("rules: [{repositories: app, tags: 'ci-*', keep: {}}]");
  RepositoryView repo = Repo(
      "app", 200,
      {Tag("ci-1", "sha256:1", std::nullopt, 100), Tag("release", "sha256:2", std::nullopt, 100),
       Tag("sha256-abc.sig", "sha256:3", std::nullopt, 100)});
  repo.tags[2].attachment = true;
  const auto d = TagDecisions(MakePlan(policy, {repo}, kAt), "app");
  EXPECT_EQ(d.at("ci-1"), Decision::kDelete);
  EXPECT_EQ(d.at("release"), Decision::kKeep);
  EXPECT_EQ(d.at("sha256-abc.sig"), Decision::kKeep);
}

TEST(PlannerTest, AnAttachmentGoesWithItsImageAndStaysWithIt) {
  const std::string gone(64, 'a'), kept(64, 'b');
  const Policy policy = PolicyOf("rules: [{repositories: app, keep: {tags: [v1]}}]");
  RepositoryView repo = Repo("app", 200,
                             {Tag("old", "sha256:" + gone, std::nullopt, 100),
                              Tag("v1", "sha256:" + kept, std::nullopt, 100),
                              Tag("sha256-" + gone + ".sig", "sha256:sig-old", std::nullopt, 100),
                              Tag("sha256-" + kept + ".sig", "sha256:sig-v1", std::nullopt, 100)});
  repo.tags[2].attachment = repo.tags[3].attachment = true;
  const Plan plan = MakePlan(policy, {repo}, kAt);
  const auto d = TagDecisions(plan, "app");
  EXPECT_EQ(d.at("sha256-" + gone + ".sig"), Decision::kDelete);
  EXPECT_EQ(d.at("sha256-" + kept + ".sig"), Decision::kKeep);
  std::vector<std::string> deleted;
  for (const Deletion& deletion : plan.deletions) deleted.push_back(deletion.digest);
  std::sort(deleted.begin(), deleted.end());
  EXPECT_EQ(deleted, (std::vector<std::string>{"sha256:" + gone, "sha256:sig-old"}));

  // A limit that holds the image holds its signature too.
  const Plan limited = MakePlan(PolicyOf("limits: {max_deletions: 1}\n"
                                         "rules: [{repositories: app, keep: {tags: [v1]}}]"),
                                {repo}, kAt);
  EXPECT_EQ(limited.deletions.size(), 1u);
  for (const Deletion& deletion : limited.deletions) {
    EXPECT_NE(deletion.digest, "sha256:sig-old") << "a signature deleted before its image";
  }
}

}  // namespace
}  // namespace drec::retention
