// The classifier and delete policy that the server and drec replay / drec backfill build from the
// same settings: the operator's rules first (address ranges included), the built-in ones after
// them unless turned off, the configured default class, and counting.on_delete.
#include "app/settings_semantics.h"

#include <gtest/gtest.h>

namespace drec {
namespace {

Event From(std::string user_agent, std::string client_addr) {
  Event event;
  event.user_agent = std::move(user_agent);
  event.client_addr = std::move(client_addr);
  return event;
}

TEST(SettingsSemanticsTest, OperatorRulesComeBeforeTheBuiltInOnes) {
  Settings settings;
  settings.class_rules = {{"nodes", {}, {}, {"10.0.0.0/8"}, {}}};
  const Classifier classifier = MakeClassifier(settings);
  // containerd is a built-in "production" agent, but the operator's address rule is first.
  EXPECT_EQ(classifier.Classify(From("containerd/1.7", "10.1.2.3:5000")), "nodes");
  EXPECT_NE(classifier.Classify(From("containerd/1.7", "192.0.2.1:5000")), "nodes");
  EXPECT_NE(classifier.Classify(From("containerd/1.7", "192.0.2.1:5000")), "other");
}

TEST(SettingsSemanticsTest, WithoutBuiltInRulesTheDefaultClassAnswers) {
  Settings settings;
  settings.builtin_class_rules = false;
  settings.default_class = "unknown";
  const Classifier classifier = MakeClassifier(settings);
  EXPECT_EQ(classifier.Classify(From("containerd/1.7", "192.0.2.1:5000")), "unknown");
}

TEST(SettingsSemanticsTest, DeletePolicyFollowsOnDelete) {
  Settings settings;
  EXPECT_EQ(DeletePolicyOf(settings), DeletePolicy::kKeep);
  settings.on_delete = OnDelete::kRemove;
  EXPECT_EQ(DeletePolicyOf(settings), DeletePolicy::kRemove);
}

}  // namespace
}  // namespace drec
