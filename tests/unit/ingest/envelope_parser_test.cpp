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

TEST(EnvelopeParserTest, KeepsLongFieldsWhole) {
  const std::string huge(100'000, 'r');
  // 1023 ASCII bytes, then two-byte characters: a cut at 1024 bytes would split one.
  const std::string accented = std::string(1023, 'a') + "\u00e9\u00e9\u00e9";
  auto envelope = ParseEnvelope(R"({"events":[{"id":"a","target":{"repository":")" + huge +
                                R"("},"actor":{"name":")" + accented + "\"}}]}");
  ASSERT_TRUE(envelope.ok());
  EXPECT_EQ(envelope->events[0].repository, huge);
  EXPECT_EQ(envelope->events[0].actor, accented);
}

// JSON sets no range on numbers; one drec cannot hold is absent, and costs no other field or
// event of the envelope.
TEST(EnvelopeParserTest, NumbersBeyondTheRangeAreAbsentAndCostNothingElse) {
  for (const std::string number :
       {"99999999999999999999", "-99999999999999999999999", "1e999", "-1e400",
        "123456789012345678901234567890123456789012345678901234567890"}) {
    auto envelope = ParseEnvelope(R"({"events":[{"id":"a","target":{"size":)" + number +
                                  R"(,"repository":"r","digest":"sha256:d"},"x":[)" + number +
                                  R"(]},{"id":"b","target":{"size":7}}],"n":)" + number + "}");
    ASSERT_TRUE(envelope.ok()) << number << ": " << envelope.status().message();
    ASSERT_EQ(envelope->events.size(), 2u) << number;
    EXPECT_EQ(envelope->events[0].size, 0) << number;
    EXPECT_EQ(envelope->events[0].repository, "r") << number;
    EXPECT_EQ(envelope->events[0].digest, "sha256:d") << number;
    EXPECT_EQ(envelope->events[1].id, "b") << number;
    EXPECT_EQ(envelope->events[1].size, 7) << number;
  }
  // The largest numbers that fit are read as before.
  auto envelope = ParseEnvelope(R"({"events":[{"target":{"size":9223372036854775807}}]})");
  ASSERT_TRUE(envelope.ok());
  EXPECT_EQ(envelope->events[0].size, 9223372036854775807);
}

TEST(EnvelopeParserTest, MalformedNumbersAreStillNotJson) {
  for (const std::string number : {"01", "1.", "-", "1e", "+1", "0x10", "1.2.3"}) {
    auto envelope = ParseEnvelope(R"({"events":[{"id":"a","target":{"size":)" + number + "}}]}");
    ASSERT_FALSE(envelope.ok()) << number;
    EXPECT_EQ(envelope.status().code(), Status::Code::kInvalidArgument) << number;
  }
  auto envelope = ParseEnvelope(R"({"events":[{"target":{"size":99999999999999999999}}]} x)");
  EXPECT_FALSE(envelope.ok());
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
