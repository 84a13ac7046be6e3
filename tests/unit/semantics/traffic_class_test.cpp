#include "semantics/traffic_class.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "../example_files.h"
#include "ingest/envelope_parser.h"

namespace drec {
namespace {

// The first event of a captured file: a single envelope (<name>.json) or a scenario's list of
// envelopes (<scenario>.events.json).
Event FirstEvent(const std::string& file, const std::string& registry) {
  std::string text = testing::ReadExample(file, registry);
  if (file.ends_with(".events.json")) {
    const boost::json::value envelopes = boost::json::parse(text);
    text = boost::json::serialize(envelopes.as_array().at(0));
  }
  auto envelope = ParseEnvelope(text);
  EXPECT_TRUE(envelope.ok()) << registry << "/" << file;
  if (!envelope.ok() || envelope->events.empty()) return {};
  return envelope->events.front();
}

Classifier BuiltIn() { return Classifier(DefaultClassRules(), std::string(kDefaultClass)); }

Event WithUserAgent(std::string user_agent) {
  Event event;
  event.user_agent = std::move(user_agent);
  return event;
}

ClassRule Rule(std::string name) {
  ClassRule rule;
  rule.name = std::move(name);
  return rule;
}

Cidr MustCidr(std::string_view text) {
  auto cidr = ParseCidr(text);
  EXPECT_TRUE(cidr.has_value()) << text;
  return cidr.value_or(Cidr{});
}

class CapturedClassTest : public ::testing::TestWithParam<const char*> {};

// The tools' own user agents, as the registries reported them: every CI tool drec's capture
// drove is CI, and skopeo (which also syncs registries, undetectably) is no class of its own.
TEST_P(CapturedClassTest, RealUserAgentsGetTheirBuiltInClass) {
  const std::string registry = GetParam();
  const std::pair<const char*, std::string_view> expected[] = {
      {"conformance.events.json", "ci"},         {"cosign-sign.events.json", "ci"},
      {"crane-pull.events.json", "ci"},          {"crane-push.events.json", "ci"},
      {"curl-get-accept.events.json", "ci"},     {"oras-attach.events.json", "ci"},
      {"manifest-pull-get.json", kDefaultClass}, {"manifest-push-tagged.json", kDefaultClass},
  };
  const Classifier classifier = BuiltIn();
  for (const auto& [file, cls] : expected) {
    const Event event = FirstEvent(file, registry);
    EXPECT_FALSE(event.user_agent.empty()) << file;
    EXPECT_EQ(classifier.Classify(event), cls) << file << ": " << event.user_agent;
  }
}

// Address and source rules read the captured request.addr (ip:port) and source.addr.
TEST_P(CapturedClassTest, AddressAndSourceRulesMatchCapturedEvents) {
  const std::string registry = GetParam();
  const Event event = FirstEvent("manifest-pull-get.json", registry);
  const std::string host = event.source_addr.substr(0, event.source_addr.rfind(':'));
  ASSERT_FALSE(host.empty());

  ClassRule loopback = Rule("local");
  loopback.addr = {MustCidr("10.0.0.0/8"), MustCidr("127.0.0.0/8")};
  ClassRule elsewhere = Rule("remote");
  elsewhere.addr = {MustCidr("192.168.0.0/16")};
  EXPECT_EQ(Classifier({elsewhere, loopback}, "other").Classify(event), "local");

  ClassRule instance = Rule("mirror");
  instance.source = {host + ":*"};
  EXPECT_EQ(Classifier({instance}, "other").Classify(event), "mirror");
  instance.source = {"not-" + host + ":*"};
  EXPECT_EQ(Classifier({instance}, "other").Classify(event), "other");
}

INSTANTIATE_TEST_SUITE_P(CapturedRegistries, CapturedClassTest,
                         ::testing::ValuesIn(testing::kRegistries), testing::RegistryTestName);

TEST(TrafficClassTest, BuiltInRulesByUserAgent) {
  const Classifier classifier = BuiltIn();
  EXPECT_EQ(classifier.Classify(WithUserAgent("containerd/v1.7.2")), "production");
  EXPECT_EQ(classifier.Classify(WithUserAgent("cri-o/1.28.1 go/go1.20")), "production");
  EXPECT_EQ(classifier.Classify(WithUserAgent(
                "docker/24.0.7 go/go1.20.10 git-commit/311b9ff kernel/6.1.0 os/linux arch/amd64")),
            "production");
  EXPECT_EQ(classifier.Classify(WithUserAgent("buildkit/v0.12.5")), "ci");
  EXPECT_EQ(classifier.Classify(WithUserAgent("Trivy/0.48.0 go-containerregistry/v0.17.0")),
            "scanner");
  EXPECT_EQ(classifier.Classify(WithUserAgent("harbor-registry-client")), "replication");
  EXPECT_EQ(classifier.Classify(WithUserAgent("skopeo/1.9.3")), "other");
  EXPECT_EQ(classifier.Classify(WithUserAgent("")), "other");
}

TEST(TrafficClassTest, FirstMatchingRuleWinsAndEveryFieldSetMustMatch) {
  ClassRule nodes = Rule("production");
  nodes.user_agent = {"containerd/"};
  nodes.addr = {MustCidr("10.1.0.0/16")};
  ClassRule runtime = Rule("runtime");
  runtime.user_agent = {"CONTAINERD/"};  // case does not matter
  const Classifier classifier({nodes, runtime}, "misc");

  Event event = WithUserAgent("containerd/v1.7.2");
  event.client_addr = "10.1.2.3:5000";
  EXPECT_EQ(classifier.Classify(event), "production");
  event.client_addr = "10.2.2.3:5000";  // the address does not match: the next rule
  EXPECT_EQ(classifier.Classify(event), "runtime");
  event.user_agent = "curl/8.0";
  EXPECT_EQ(classifier.Classify(event), "misc");
  EXPECT_EQ(classifier.ClassNames(), (std::vector<std::string>{"production", "runtime", "misc"}));
}

TEST(TrafficClassTest, ActorGlobs) {
  ClassRule robots = Rule("ci");
  robots.actor = {"robot$*", "ci-*-bot"};
  const Classifier classifier({robots}, "other");
  Event event;
  for (const char* actor : {"robot$project+push", "ci-team-bot", "ci--bot"}) {
    event.actor = actor;
    EXPECT_EQ(classifier.Classify(event), "ci") << actor;
  }
  for (const char* actor : {"", "alice", "Robot$x", "ci-bot", "ci-team-bots"}) {
    event.actor = actor;
    EXPECT_EQ(classifier.Classify(event), "other") << actor;
  }
}

TEST(TrafficClassTest, GlobsMatchWithoutBacktrackingBlowUp) {
  EXPECT_TRUE(GlobMatches("*", "", false));
  EXPECT_TRUE(GlobMatches("a*b*c", "aXXbYYc", false));
  EXPECT_FALSE(GlobMatches("a*b*c", "aXXbYY", false));
  EXPECT_TRUE(GlobMatches("REG-*:5000", "reg-1:5000", true));
  EXPECT_FALSE(GlobMatches("REG-*:5000", "reg-1:5000", false));
  // A pattern that is exponential for naive recursion stays fast.
  const std::string text(1024, 'a');
  EXPECT_FALSE(GlobMatches("*a*a*a*a*a*a*a*a*a*a*b", text, false));
}

TEST(TrafficClassTest, ClientAddressesV4AndV6) {
  ClassRule v6 = Rule("six");
  v6.addr = {MustCidr("fd00::/8")};
  ClassRule v4 = Rule("four");
  v4.addr = {MustCidr("192.0.2.0/24")};
  const Classifier classifier({v6, v4}, "other");
  Event event;
  for (const char* addr : {"[fd12::1]:443", "fd12::1"}) {
    event.client_addr = addr;
    EXPECT_EQ(classifier.Classify(event), "six") << addr;
  }
  for (const char* addr : {"192.0.2.7:1234", "192.0.2.7", "[::ffff:192.0.2.7]:1234"}) {
    event.client_addr = addr;
    EXPECT_EQ(classifier.Classify(event), "four") << addr;
  }
  for (const char* addr : {"", "registry:5000", "192.0.3.1:1", "[fe80::1]:1", "garbage"}) {
    event.client_addr = addr;
    EXPECT_EQ(classifier.Classify(event), "other") << addr;
  }
}

TEST(TrafficClassTest, ParsesCidrs) {
  EXPECT_TRUE(ParseCidr("0.0.0.0/0"));
  EXPECT_TRUE(ParseCidr("10.0.0.1"));
  EXPECT_TRUE(ParseCidr("::/0"));
  EXPECT_TRUE(ParseCidr("2001:db8::/32"));
  for (const char* bad : {"", "10.0.0.0/33", "10.0.0.0/", "10.0.0/8", "::/129", "x/8",
                          "10.0.0.0/-1", "10.0.0.0/8/8"}) {
    EXPECT_FALSE(ParseCidr(bad)) << bad;
  }
}

TEST(TrafficClassTest, ARuleWithNoFieldNeverMatches) {
  EXPECT_EQ(Classifier({Rule("all")}, "other").Classify(WithUserAgent("x")), "other");
}

TEST(TrafficClassTest, ClassNames) {
  const std::vector<std::string> good = {"ci", "production", "a",
                                         "0",  "team_a-ci",  std::string(32, 'x')};
  for (const std::string& name : good) EXPECT_TRUE(IsClassName(name)) << name;
  const std::vector<std::string> bad = {"", "CI", "-ci", "_ci", "ci!", "c i", std::string(33, 'x')};
  for (const std::string& name : bad) EXPECT_FALSE(IsClassName(name)) << name;
  for (const ClassRule& rule : DefaultClassRules()) EXPECT_TRUE(IsClassName(rule.name));
}

}  // namespace
}  // namespace drec
