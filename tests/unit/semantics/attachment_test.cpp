// Attachments (signatures, SBOMs, attestations) counted apart from images, on what cosign and
// oras really sent to registry 2.8 and 3.1 (tests/data/*/cosign-*.events.json, oras-*).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "../example_files.h"
#include "ingest/envelope_parser.h"
#include "semantics/semantics.h"
#include "semantics/traffic_class.h"

namespace drec {
namespace {

class AttachmentTest : public ::testing::TestWithParam<const char*> {
 protected:
  // Every event of a captured scenario, in the order the registry sent them.
  std::vector<Event> Scenario(const std::string& name) {
    std::vector<Event> events;
    for (const std::string& body : testing::ScenarioEnvelopes(name, GetParam())) {
      auto envelope = ParseEnvelope(body);
      EXPECT_TRUE(envelope.ok()) << name;
      if (envelope.ok())
        events.insert(events.end(), envelope->events.begin(), envelope->events.end());
    }
    return events;
  }
};

// The sum of every repository delta of an interpretation.
Delta RepositoryTotal(const Interpretation& in) {
  Delta total;
  for (const auto& effect : in.effects) {
    for (const auto& op : effect.operations) {
      if (const auto* update = std::get_if<RepositoryUpdate>(&op)) total += update->delta;
    }
  }
  return total;
}

template <typename Op>
std::vector<Op> OpsOf(const Interpretation& in) {
  std::vector<Op> found;
  for (const auto& effect : in.effects) {
    for (const auto& op : effect.operations) {
      if (const auto* typed = std::get_if<Op>(&op)) found.push_back(*typed);
    }
  }
  return found;
}

// The event that names a tag (the one attachment event of a scenario).
const Event& Tagged(const std::vector<Event>& events) {
  for (const Event& event : events) {
    if (!event.tag.empty()) return event;
  }
  ADD_FAILURE() << "no event with a tag";
  return events.at(0);
}

TEST(AttachmentSubjectTest, NamesTheDigestOfDigestNamedTagsOnly) {
  const std::string hex(64, 'a');
  EXPECT_EQ(AttachmentSubject("sha256-" + hex), "sha256:" + hex);
  for (const char* suffix : {".sig", ".att", ".sbom"}) {
    EXPECT_EQ(AttachmentSubject("sha256-" + hex + suffix), "sha256:" + hex) << suffix;
  }
  EXPECT_EQ(AttachmentSubject("sha512-" + std::string(128, '0')),
            "sha512:" + std::string(128, '0'));
  for (const std::string& tag :
       {std::string("latest"), "sha256-" + hex.substr(1), "sha256-" + hex + "0",
        "sha256-" + hex + ".txt", "sha256-" + std::string(63, 'a') + "G", "SHA256-" + hex,
        "sha256_" + hex, std::string("sha256-"), "md5-" + hex}) {
    EXPECT_EQ(AttachmentSubject(tag), "") << tag;
  }
}

TEST_P(AttachmentTest, CosignSignatureIsAnAttachmentPushOfItsSubjectNotAnImagePush) {
  const std::vector<Event> events = Scenario("cosign-sign.events.json");
  const Interpretation in = Interpret(events, DeletePolicy::kKeep, DefaultClassifier());
  const Event& signature = Tagged(events);
  ASSERT_TRUE(signature.tag.ends_with(".sig")) << signature.tag;
  const Delta total = RepositoryTotal(in);
  EXPECT_EQ(total.counts[Counter::kAttachmentPushes], 1);
  EXPECT_EQ(total.counts[Counter::kPushes], 0);
  EXPECT_FALSE(total.times[TimeField::kLastPushed].has_value());
  // The subject is the image cosign read before signing it.
  const std::string subject = AttachmentSubject(signature.tag);
  EXPECT_EQ(subject, events.at(0).digest);
  bool subject_counted = false;
  for (const auto& update : OpsOf<DigestUpdate>(in)) {
    if (update.digest == subject) {
      subject_counted = update.delta.counts[Counter::kAttachmentPushes] == 1;
    }
  }
  EXPECT_TRUE(subject_counted);
  const auto points = OpsOf<TagPointsAt>(in);
  ASSERT_EQ(points.size(), 1u);
  EXPECT_TRUE(points[0].attachment);
  EXPECT_EQ(points[0].digest, signature.digest);
  // Signing names no image user.
  for (const auto& update : OpsOf<RepositoryUpdate>(in)) {
    if (update.delta.counts[Counter::kAttachmentPushes] > 0) {
      EXPECT_EQ(update.actor, "");
    }
  }
}

TEST_P(AttachmentTest, CosignVerifyIsAnAttachmentPullNotAnImagePull) {
  const std::vector<Event> events = Scenario("cosign-verify.events.json");
  const Interpretation in = Interpret(events, DeletePolicy::kKeep, DefaultClassifier());
  const Delta total = RepositoryTotal(in);
  EXPECT_EQ(total.counts[Counter::kAttachmentPulls], 1);
  EXPECT_EQ(total.counts[Counter::kPulls], 0);
  EXPECT_FALSE(total.times[TimeField::kLastPulled].has_value());
  EXPECT_TRUE(OpsOf<TagsByDigestUpdate>(in).empty());
}

TEST_P(AttachmentTest, OrasAttachAndDiscoverCountTheFallbackIndexAsAnAttachment) {
  const std::vector<Event> attach = Scenario("oras-attach.events.json");
  const Interpretation pushed = Interpret(attach, DeletePolicy::kKeep, DefaultClassifier());
  const Delta push_total = RepositoryTotal(pushed);
  EXPECT_EQ(push_total.counts[Counter::kAttachmentPushes], 1);  // the tagged fallback index
  EXPECT_EQ(push_total.counts[Counter::kPushes], 0);  // the artifact itself is pushed untagged
  // oras's tag-schema fallback: an index tagged after the subject, which oras HEADed first.
  const auto fallback = std::find_if(attach.begin(), attach.end(), [](const Event& event) {
    return event.action == "push" && !AttachmentSubject(event.tag).empty();
  });
  ASSERT_NE(fallback, attach.end());
  EXPECT_TRUE(IsIndexMediaType(fallback->media_type)) << fallback->media_type;
  EXPECT_EQ(AttachmentSubject(fallback->tag), attach.at(0).digest);

  const std::vector<Event> discover = Scenario("oras-discover.events.json");
  const Delta pull_total =
      RepositoryTotal(Interpret(discover, DeletePolicy::kKeep, DefaultClassifier()));
  EXPECT_EQ(pull_total.counts[Counter::kAttachmentPulls], 1);
  EXPECT_EQ(pull_total.counts[Counter::kIndexPulls], 0);
  EXPECT_EQ(pull_total.counts[Counter::kChecks], 1);  // oras HEADs the subject's tag first
}

TEST(AttachmentHeadTest, AHeadOfAnAttachmentCountsNothingButStillPointsItsTag) {
  Event head;
  head.id = "id";
  head.timestamp = 1000;
  head.action = "pull";
  head.method = "HEAD";
  head.media_type = "application/vnd.oci.image.manifest.v1+json";
  head.digest = "sha256:" + std::string(64, 'b');
  head.repository = "app";
  head.tag = "sha256-" + std::string(64, 'a') + ".sig";
  const Interpretation in = Interpret({head}, DeletePolicy::kKeep, DefaultClassifier());
  EXPECT_EQ(RepositoryTotal(in), Delta{});
  ASSERT_EQ(OpsOf<TagPointsAt>(in).size(), 1u);
  EXPECT_TRUE(OpsOf<DayUpdate>(in).empty());
}

INSTANTIATE_TEST_SUITE_P(CapturedRegistries, AttachmentTest,
                         ::testing::ValuesIn(testing::kRegistries), testing::RegistryTestName);

}  // namespace
}  // namespace drec
