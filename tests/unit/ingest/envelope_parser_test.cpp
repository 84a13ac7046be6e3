#include "ingest/envelope_parser.h"

#include <gtest/gtest.h>

#include <string>

#include "../example_files.h"

namespace drec {
namespace {

// Every captured registry version (tests/data/registry-*); expected values come from the file.
class RealEnvelopeTest : public ::testing::TestWithParam<const char*> {};

TEST_P(RealEnvelopeTest, ParsesEveryFieldOfARealEvent) {
  const char* file = "index-pull-get.json";
  const std::string registry = GetParam();
  auto envelope = ParseEnvelope(testing::ReadExample(file, registry));
  ASSERT_TRUE(envelope.ok()) << envelope.status().message();
  ASSERT_EQ(envelope->events.size(), 1u);
  const Event& e = envelope->events[0];
  EXPECT_EQ(e.id, testing::ExampleString(file, "id", registry));
  EXPECT_EQ(FormatRfc3339(*e.timestamp), testing::ExampleMillis(file, registry));
  EXPECT_EQ(e.action, "pull");
  EXPECT_EQ(e.media_type, "application/vnd.oci.image.index.v1+json");
  EXPECT_EQ(e.size, testing::ExampleInt(file, "target/size", registry));
  EXPECT_EQ(e.digest, testing::ExampleString(file, "target/digest", registry));
  EXPECT_EQ(e.repository, "team/multi");
  EXPECT_EQ(e.tag, "latest");
  EXPECT_EQ(e.method, "GET");
  EXPECT_EQ(e.user_agent, testing::ExampleString(file, "request/useragent", registry));
  EXPECT_EQ(e.client_addr, testing::ExampleString(file, "request/addr", registry));
  EXPECT_EQ(e.source_addr, testing::ExampleString(file, "source/addr", registry));
  EXPECT_FALSE(e.client_addr.empty());
  EXPECT_FALSE(e.source_addr.empty());
  EXPECT_EQ(e.actor, "bob");
}

TEST_P(RealEnvelopeTest, AnonymousActorAndMissingMediaType) {
  const std::string registry = GetParam();
  auto anonymous = ParseEnvelope(testing::ReadExample("manifest-pull-head.json", registry));
  ASSERT_TRUE(anonymous.ok());
  EXPECT_EQ(anonymous->events[0].actor, "");
  auto deleted = ParseEnvelope(testing::ReadExample("delete-digest.json", registry));
  ASSERT_TRUE(deleted.ok());
  // Registry 2.x sends no mediaType on deletes, 3.x an empty one (tests/data/README.md).
  EXPECT_EQ(deleted->events[0].has_media_type, registry == testing::kRegistry31);
  EXPECT_EQ(deleted->events[0].media_type, "");
  EXPECT_EQ(deleted->events[0].tag, "");
}

INSTANTIATE_TEST_SUITE_P(CapturedRegistries, RealEnvelopeTest,
                         ::testing::ValuesIn(testing::kRegistries), testing::RegistryTestName);

TEST(EnvelopeParserTest, KeepsEveryEventOfAnEnvelopeInOrder) {
  auto envelope = ParseEnvelope(R"({"events":[{"id":"a"},{"id":"b"},{"id":"c"}]})");
  ASSERT_TRUE(envelope.ok());
  ASSERT_EQ(envelope->events.size(), 3u);
  EXPECT_EQ(envelope->events[2].id, "c");
}

TEST(EnvelopeParserTest, ReferencesOfAnIndex) {
  auto envelope = ParseEnvelope(
      R"({"events":[{"id":"a","target":{"references":[{"digest":"sha256:1"},{"digest":"sha256:2"},7]}}]})");
  ASSERT_TRUE(envelope.ok());
  EXPECT_EQ(envelope->events[0].references, (std::vector<std::string>{"sha256:1", "sha256:2"}));
}

TEST(EnvelopeParserTest, RejectsBodiesWithoutEvents) {
  for (const char* bad : {"", "not json", "[]", "{}", R"({"events":{}})", R"({"events":[)",
                          "{\"events\":[]} trailing"}) {
    auto envelope = ParseEnvelope(bad);
    EXPECT_FALSE(envelope.ok()) << bad;
    EXPECT_EQ(envelope.status().code(), Status::Code::kInvalidArgument);
  }
}

TEST(EnvelopeParserTest, WrongTypesInsideAnEventAreAbsentNotErrors) {
  auto envelope = ParseEnvelope(
      R"({"events":[7,{"id":5,"timestamp":"soon","target":"x","actor":[],"request":{"method":9}}]})");
  ASSERT_TRUE(envelope.ok());
  ASSERT_EQ(envelope->events.size(), 2u);
  EXPECT_EQ(envelope->events[1].id, "");
  EXPECT_FALSE(envelope->events[1].timestamp);
  EXPECT_EQ(envelope->events[1].method, "");
}

TEST(EnvelopeParserTest, CutsOverlongFields) {
  const std::string huge(100'000, 'r');
  auto envelope =
      ParseEnvelope(R"({"events":[{"id":"a","target":{"repository":")" + huge + "\"}}]}");
  ASSERT_TRUE(envelope.ok());
  EXPECT_EQ(envelope->events[0].repository.size(), 1024u);
}

TEST(EnvelopeParserTest, CutsOverlongFieldsBetweenCharacters) {
  // 1023 ASCII bytes, then two-byte characters: byte 1024 is the first half of one.
  const std::string name = std::string(1023, 'r') + "\u00e9\u00e9\u00e9";
  auto envelope =
      ParseEnvelope(R"({"events":[{"id":"a","target":{"repository":")" + name + "\"}}]}");
  ASSERT_TRUE(envelope.ok());
  EXPECT_EQ(envelope->events[0].repository, std::string(1023, 'r'));
}

TEST(EnvelopeParserTest, ContentTypes) {
  EXPECT_TRUE(IsAcceptedContentType("application/vnd.docker.distribution.events.v1+json"));
  EXPECT_TRUE(IsAcceptedContentType("application/vnd.docker.distribution.events.v2+json"));
  EXPECT_TRUE(IsAcceptedContentType("application/json; charset=utf-8"));
  EXPECT_TRUE(IsAcceptedContentType("Application/JSON"));
  EXPECT_FALSE(IsAcceptedContentType("text/plain"));
  EXPECT_FALSE(IsAcceptedContentType(""));
  EXPECT_FALSE(IsAcceptedContentType("application/jsonx"));
}

}  // namespace
}  // namespace drec
