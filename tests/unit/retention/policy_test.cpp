#include "retention/policy.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "util/read_file.h"

namespace drec::retention {
namespace {

TEST(PolicyTest, EveryKeyOfTheDocumentedExampleIsRead) {
  auto policy = ParsePolicy(R"(
registry: {name: main, url: "https://127.0.0.1:5000", username: admin, timeout: 30s}
limits: {max_deletions: 7, max_share: 0.25, max_per_repository: 3, concurrency: 2}
rules:
  - name: ci
    repositories: "ci/**"
    tags: "build-*"
    keep:
      most_recently_pulled: 5
      most_recently_pushed: 3
      pulled_within: 90d
      pushed_within: 2w
      tags: ["v*", {regex: "release-[0-9]+"}]
    untagged_older_than: 14d
)",
                            "p.yml");
  ASSERT_TRUE(policy.ok()) << policy.status().message();
  EXPECT_EQ(policy->registry.name, "main");
  EXPECT_EQ(policy->registry.timeout, std::chrono::seconds(30));
  EXPECT_EQ(policy->limits.max_deletions, 7);
  EXPECT_DOUBLE_EQ(policy->limits.max_share, 0.25);
  EXPECT_EQ(policy->limits.max_per_repository, 3);
  EXPECT_EQ(policy->limits.concurrency, 2);
  ASSERT_EQ(policy->rules.size(), 1u);
  const Rule& rule = policy->rules[0];
  EXPECT_TRUE(rule.governs_tags);
  EXPECT_TRUE(rule.repositories.Matches("ci/app/web"));
  EXPECT_FALSE(rule.repositories.Matches("prod/app"));
  EXPECT_TRUE(rule.tags.Matches("build-12"));
  EXPECT_FALSE(rule.tags.Matches("v1"));
  EXPECT_EQ(rule.keep.most_recently_pulled, 5);
  EXPECT_EQ(rule.keep.most_recently_pushed, 3);
  EXPECT_EQ(rule.keep.pulled_within, 90 * kDayMillis);
  EXPECT_EQ(rule.keep.pushed_within, 14 * kDayMillis);
  ASSERT_EQ(rule.keep.tags.size(), 2u);
  EXPECT_TRUE(rule.keep.tags[1].Matches("release-12"));
  EXPECT_FALSE(rule.keep.tags[1].Matches("release-12a"));
  EXPECT_EQ(rule.untagged_older_than, 14 * kDayMillis);
}

TEST(PolicyTest, TheExamplePolicyFileParsesAsItsCommentsSay) {
  const std::string path = DREC_TEST_DATA_DIR "/../../retention-policy.example.yml";
  auto text = ReadFile(path);
  ASSERT_TRUE(text.ok()) << text.status().message();
  const std::string password = ::testing::TempDir() + "/registry-password";
  std::ofstream(password) << "secret\n";
  std::string yaml = *text;
  const std::string original = "/etc/drec/registry-password";
  ASSERT_NE(yaml.find(original), std::string::npos);
  yaml.replace(yaml.find(original), original.size(), password);
  auto policy = ParsePolicy(yaml, path);
  ASSERT_TRUE(policy.ok()) << policy.status().message();
  EXPECT_EQ(policy->registry.password, "secret");
  EXPECT_EQ(policy->limits.max_deletions, 100);
  ASSERT_EQ(policy->rules.size(), 2u);
  EXPECT_TRUE(policy->rules[0].governs_tags);
  EXPECT_EQ(policy->rules[0].keep.pulled_within, 90 * kDayMillis);
  EXPECT_FALSE(policy->rules[1].governs_tags);
  EXPECT_EQ(policy->rules[1].untagged_older_than, 90 * kDayMillis);
}

TEST(PolicyTest, MistakesNameTheFileAndTheKey) {
  const std::pair<const char*, const char*> cases[] = {
      {"rules: []", "p.yml: rules: must be a list"},
      {"rules: [{repositories: a, keep: {pulled_within: 90}}]", "rules[0].keep.pulled_within"},
      {"rules: [{repositories: a, keep: {kept: 1}}]", "rules[0].keep.kept: unknown key"},
      {"rules: [{repositories: a, tags: b}]", "rules[0].keep: is required with tags"},
      {"rules: [{repositories: a}]", "rules[0]: has neither keep nor untagged_older_than"},
      {"rules: [{keep: {}}]", "rules[0].repositories: is required"},
      {"rules: [{repositories: {regex: '('}, keep: {}}]", "rules[0].repositories.regex"},
      {"limits: {max_share: 2}\nrules: [{repositories: a, keep: {}}]", "limits.max_share"},
      {"registry: {url: ftp://x}\nrules: [{repositories: a, keep: {}}]", "registry.url"},
      {"rules: [{name: x, repositories: a, keep: {}}, {name: x, repositories: b, keep: {}}]",
       "rules[1].name"},
  };
  for (const auto& [yaml, expected] : cases) {
    auto policy = ParsePolicy(yaml, "p.yml");
    ASSERT_FALSE(policy.ok()) << yaml;
    EXPECT_NE(policy.status().message().find(expected), std::string::npos)
        << yaml << " -> " << policy.status().message();
  }
}

TEST(PolicyTest, AgesReadAndPrintInTheirUnits) {
  EXPECT_EQ(ParseAge("90d"), 90 * kDayMillis);
  EXPECT_EQ(ParseAge("2w"), 14 * kDayMillis);
  EXPECT_EQ(ParseAge("12h"), 12 * 3'600'000);
  EXPECT_EQ(ParseAge("90"), std::nullopt);
  EXPECT_EQ(ParseAge("d"), std::nullopt);
  EXPECT_EQ(ParseAge("-1d"), std::nullopt);
  EXPECT_EQ(FormatAge(90 * kDayMillis), "90d");
  EXPECT_EQ(FormatAge(14 * kDayMillis), "2w");
  EXPECT_EQ(FormatAge(36 * 3'600'000), "36h");
}

TEST(NamePatternTest, GlobStarsStopAtSlashesAndDoubleStarsDoNot) {
  auto one = NamePattern::Glob("team/*");
  auto any = NamePattern::Glob("team/**");
  ASSERT_TRUE(one.ok() && any.ok());
  EXPECT_TRUE(one->Matches("team/app"));
  EXPECT_FALSE(one->Matches("team/app/web"));
  EXPECT_TRUE(any->Matches("team/app/web"));
  EXPECT_FALSE(any->Matches("teams/app"));
  auto dots = NamePattern::Glob("v1.?");
  ASSERT_TRUE(dots.ok());
  EXPECT_TRUE(dots->Matches("v1.2"));
  EXPECT_FALSE(dots->Matches("v1x2"));
}

}  // namespace
}  // namespace drec::retention
