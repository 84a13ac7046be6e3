#include "semantics/semantics.h"

#include <gtest/gtest.h>

#include <string>

#include "../example_files.h"
#include "ingest/envelope_parser.h"

namespace drec {
namespace {

constexpr const char* kImage = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kIndex = "application/vnd.oci.image.index.v1+json";

Event ExampleEvent(const std::string& file) {
  auto envelope = ParseEnvelope(testing::ReadExample(file));
  EXPECT_TRUE(envelope.ok());
  return envelope->events.at(0);
}

// A digest the registry's grammar accepts, of 64 `c`s.
std::string Digest(char c) { return "sha256:" + std::string(64, c); }

Event MakeEvent(const std::string& action, const std::string& media_type, const std::string& tag,
                const std::string& method = "GET") {
  Event e;
  e.id = "id-" + action + tag + method;
  e.timestamp = ParseRfc3339("2026-11-27T10:00:00.123Z");
  e.action = action;
  e.media_type = media_type;
  e.has_media_type = true;
  e.digest = Digest('a');
  e.repository = "team/app";
  e.tag = tag;
  e.method = method;
  e.actor = "alice";
  return e;
}

Interpretation One(const Event& event, DeletePolicy policy = DeletePolicy::kKeep) {
  return Interpret({event}, policy, DefaultClassifier());
}

template <typename Op>
std::vector<Op> OpsOf(const Interpretation& in) {
  std::vector<Op> found;
  for (const auto& effect : in.effects) {
    for (const auto& op : effect.operations) {
      if (auto* typed = std::get_if<Op>(&op)) found.push_back(*typed);
    }
  }
  return found;
}

Delta RepoDelta(const Interpretation& in) {
  auto repos = OpsOf<RepositoryUpdate>(in);
  EXPECT_EQ(repos.size(), 1u);
  return repos.empty() ? Delta{} : repos[0].delta;
}

TEST(SemanticsTest, TaggedImagePushIsAPushOfRepositoryTagDigestActorAndDay) {
  auto in = One(ExampleEvent("manifest-push-tagged.json"));
  ASSERT_EQ(in.effects.size(), 1u);
  EXPECT_EQ(in.effects[0].event_id, testing::ExampleString("manifest-push-tagged.json", "id"));
  const Delta repo = RepoDelta(in);
  EXPECT_EQ(repo.counts[Counter::kPushes], 1);
  EXPECT_EQ(repo.counts[Counter::kPulls], 0);
  EXPECT_EQ(FormatRfc3339(*repo.times[TimeField::kFirstPushed]),
            testing::ExampleMillis("manifest-push-tagged.json"));
  EXPECT_EQ(repo.times[TimeField::kLastPushed], repo.times[TimeField::kFirstPushed]);
  EXPECT_FALSE(repo.times[TimeField::kLastPulled]);
  auto points = OpsOf<TagPointsAt>(in);
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].tag, "v1");
  EXPECT_EQ(points[0].digest, testing::ExampleString("manifest-push-tagged.json", "target/digest"));
  ASSERT_EQ(OpsOf<TagUpdate>(in).size(), 1u);
  EXPECT_EQ(OpsOf<TagUpdate>(in)[0].delta.counts[Counter::kPushes], 1);
  ASSERT_EQ(OpsOf<DigestUpdate>(in).size(), 1u);
  EXPECT_EQ(OpsOf<DigestUpdate>(in)[0].size,
            testing::ExampleInt("manifest-push-tagged.json", "target/size"));
  EXPECT_EQ(OpsOf<DayUpdate>(in).at(0).day,
            testing::ExampleMillis("manifest-push-tagged.json").substr(0, 10));
  // The example's actor is anonymous: it counts, without an actor.
  EXPECT_EQ(OpsOf<RepositoryUpdate>(in)[0].actor, "");
  EXPECT_TRUE(OpsOf<ActorUpdate>(in).empty());
}

TEST(SemanticsTest, NamedActorOfAPushIsRecorded) {
  auto in = One(ExampleEvent("index-push-tagged.json"));
  EXPECT_EQ(OpsOf<RepositoryUpdate>(in).at(0).actor, "alice");
  ASSERT_EQ(OpsOf<ActorUpdate>(in).size(), 1u);
  EXPECT_EQ(OpsOf<ActorUpdate>(in)[0].delta.counts[Counter::kPushes], 1);
  EXPECT_EQ(RepoDelta(in).counts[Counter::kPushes], 1);  // a tagged index push is a push
}

TEST(SemanticsTest, ImageGetIsAPull) {
  auto in = One(ExampleEvent("manifest-pull-get.json"));
  const Delta repo = RepoDelta(in);
  EXPECT_EQ(repo.counts[Counter::kPulls], 1);
  EXPECT_EQ(repo.counts[Counter::kChecks], 0);
  EXPECT_EQ(repo.counts[Counter::kIndexPulls], 0);
  EXPECT_EQ(FormatRfc3339(*repo.times[TimeField::kLastPulled]),
            testing::ExampleMillis("manifest-pull-get.json"));
  // By tag: counted for that tag, and the tag is learned to point at the digest.
  ASSERT_EQ(OpsOf<TagUpdate>(in).size(), 1u);
  EXPECT_EQ(OpsOf<TagUpdate>(in)[0].delta.counts[Counter::kPulls], 1);
  EXPECT_EQ(OpsOf<TagPointsAt>(in).size(), 1u);
  EXPECT_TRUE(OpsOf<TagsByDigestUpdate>(in).empty());
}

TEST(SemanticsTest, HeadIsACheckNeverAPull) {
  auto in = One(ExampleEvent("manifest-pull-head.json"));
  const Delta repo = RepoDelta(in);
  EXPECT_EQ(repo.counts[Counter::kChecks], 1);
  EXPECT_EQ(repo.counts[Counter::kPulls], 0);
  EXPECT_FALSE(repo.times[TimeField::kLastPulled]);
  EXPECT_EQ(OpsOf<TagUpdate>(in).at(0).delta.counts[Counter::kChecks], 1);
  EXPECT_EQ(OpsOf<TagPointsAt>(in).size(), 1u);  // a HEAD by tag still tells where the tag points
}

TEST(SemanticsTest, HeadOfAnIndexIsACheck) {
  auto in = One(MakeEvent("pull", kIndex, "latest", "HEAD"));
  EXPECT_EQ(RepoDelta(in).counts[Counter::kChecks], 1);
  EXPECT_EQ(RepoDelta(in).counts[Counter::kIndexPulls], 0);
}

TEST(SemanticsTest, IndexGetIsAnIndexPullNotAPull) {
  auto in = One(ExampleEvent("index-pull-get.json"));
  const Delta repo = RepoDelta(in);
  EXPECT_EQ(repo.counts[Counter::kIndexPulls], 1);
  EXPECT_EQ(repo.counts[Counter::kPulls], 0);
  // The repository's actor list and the per-actor records agree: an index puller is an actor.
  const std::string actor = OpsOf<ActorUpdate>(in).at(0).actor;
  EXPECT_FALSE(actor.empty());
  EXPECT_EQ(OpsOf<RepositoryUpdate>(in)[0].actor, actor);
  EXPECT_EQ(OpsOf<ActorUpdate>(in).at(0).delta.counts[Counter::kIndexPulls], 1);
}

TEST(SemanticsTest, ChildPullByDigestIsAPullAttributedThroughTheDigest) {
  auto in = One(ExampleEvent("child-manifest-pull-by-digest.json"));
  EXPECT_EQ(RepoDelta(in).counts[Counter::kPulls], 1);
  EXPECT_EQ(OpsOf<RepositoryUpdate>(in)[0].actor, "bob");
  EXPECT_TRUE(OpsOf<TagUpdate>(in).empty());
  EXPECT_TRUE(OpsOf<TagPointsAt>(in).empty());
  auto by_digest = OpsOf<TagsByDigestUpdate>(in);
  ASSERT_EQ(by_digest.size(), 1u);
  EXPECT_EQ(by_digest[0].digest,
            testing::ExampleString("child-manifest-pull-by-digest.json", "target/digest"));
  EXPECT_EQ(by_digest[0].delta.counts[Counter::kPulls], 1);
}

TEST(SemanticsTest, MissingMethodCountsAsGet) {
  auto in = One(MakeEvent("pull", kImage, "v1", ""));
  EXPECT_EQ(RepoDelta(in).counts[Counter::kPulls], 1);
}

TEST(SemanticsTest, UntaggedChildPushIsRecordedPerDigestOnly) {
  auto in = One(MakeEvent("push", kImage, "", "PUT"));
  EXPECT_EQ(RepoDelta(in), Delta{});  // the repository exists, nothing counted
  ASSERT_EQ(OpsOf<DigestUpdate>(in).size(), 1u);
  EXPECT_EQ(OpsOf<DigestUpdate>(in)[0].delta.counts[Counter::kPushes], 1);
  EXPECT_TRUE(OpsOf<DigestUpdate>(in)[0].delta.times[TimeField::kLastPushed].has_value());
  EXPECT_TRUE(OpsOf<TagUpdate>(in).empty());
  EXPECT_TRUE(OpsOf<DayUpdate>(in).empty());
  EXPECT_TRUE(OpsOf<ActorUpdate>(in).empty());
}

TEST(SemanticsTest, IndexReferencesMakeParents) {
  Event index = MakeEvent("push", kIndex, "latest", "PUT");
  index.references = {Digest('1'), Digest('2')};
  auto in = One(index);
  auto parents = OpsOf<DigestParent>(in);
  ASSERT_EQ(parents.size(), 2u);
  EXPECT_EQ(parents[1].child, Digest('2'));
  EXPECT_EQ(parents[1].parent, Digest('a'));
  // Image manifests list layers as references in registry 3.x: they are no children.
  Event image = MakeEvent("push", kImage, "v1", "PUT");
  image.references = {Digest('b')};
  EXPECT_TRUE(OpsOf<DigestParent>(One(image)).empty());
}

TEST(SemanticsTest, DigestDeleteOfRegistry2) {
  auto in = One(ExampleEvent("delete-digest.json"));
  EXPECT_EQ(RepoDelta(in).counts[Counter::kDeletes], 1);
  // The actor of a delete is seen then, though nothing was pushed or pulled.
  const auto actor = OpsOf<ActorUpdate>(in).at(0);
  EXPECT_EQ(actor.actor, "alice");
  EXPECT_EQ(FormatRfc3339(*actor.lastseen), testing::ExampleMillis("delete-digest.json"));
  EXPECT_EQ(actor.firstseen, actor.lastseen);
  auto deleted = OpsOf<DigestDeleted>(in);
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].repository, "team/app");
  EXPECT_TRUE(OpsOf<TagDeleted>(in).empty());
  EXPECT_TRUE(OpsOf<RepositoryRemoved>(in).empty());
  // A blob delete looks the same: it counts only if the store knows the digest as a manifest.
  const Event event = ExampleEvent("delete-digest.json");
  EXPECT_EQ(in.effects.at(0).requires_manifest, (KnownManifest{event.repository, event.digest}));
}

TEST(SemanticsTest, TagDeleteIsNoDeleteCount) {
  auto in = One(ExampleEvent("delete-tag.json"));
  EXPECT_TRUE(OpsOf<RepositoryUpdate>(in).empty());
  auto deleted = OpsOf<TagDeleted>(in);
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].tag, "arm");
  EXPECT_FALSE(in.effects.at(0).requires_manifest.has_value());
}

TEST(SemanticsTest, Registry3DeleteShapes) {
  Event digest_delete = MakeEvent("delete", "", "", "DELETE");
  digest_delete.size = 0;
  EXPECT_EQ(RepoDelta(One(digest_delete)).counts[Counter::kDeletes], 1);

  Event repository_delete = MakeEvent("delete", "", "", "DELETE");
  repository_delete.digest.clear();
  auto in = One(repository_delete);
  ASSERT_EQ(OpsOf<RepositoryDeleted>(in).size(), 1u);
  EXPECT_TRUE(OpsOf<RepositoryUpdate>(in).empty());
}

TEST(SemanticsTest, RemovePolicyForgetsTheRepositoryOnAnyDelete) {
  for (const char* file : {"delete-digest.json", "delete-tag.json"}) {
    auto in = One(ExampleEvent(file), DeletePolicy::kRemove);
    ASSERT_EQ(in.effects.size(), 1u) << file;
    ASSERT_EQ(in.effects[0].operations.size(), 1u) << file;
    EXPECT_EQ(OpsOf<RepositoryRemoved>(in).at(0).repository, "team/app");
  }
  // A blob delete must not forget a repository: a digest delete needs a known manifest here too.
  EXPECT_TRUE(
      One(ExampleEvent("delete-digest.json"), DeletePolicy::kRemove).effects[0].requires_manifest);
}

TEST(SemanticsTest, IgnoredEventsHaveReasonsAndNoEffects) {
  struct Case {
    Event event;
    IgnoreReason reason;
  };
  Event no_id = MakeEvent("pull", kImage, "v1");
  no_id.id.clear();
  Event bad_time = MakeEvent("pull", kImage, "v1");
  bad_time.timestamp.reset();
  Event no_repo = MakeEvent("pull", kImage, "v1");
  no_repo.repository.clear();
  Event no_digest = MakeEvent("pull", kImage, "v1");
  no_digest.digest.clear();
  const Case cases[] = {
      {ExampleEvent("blob-pull-get.json"), IgnoreReason::kBlob},
      {ExampleEvent("blob-mount.json"), IgnoreReason::kMount},
      {MakeEvent("tickle", kImage, "v1"), IgnoreReason::kUnknownAction},
      {MakeEvent("pull", "application/vnd.example.thing", "v1"), IgnoreReason::kUnknownMediaType},
      {MakeEvent("pull", "", "v1"), IgnoreReason::kUnknownMediaType},
      {no_id, IgnoreReason::kMissingId},
      {bad_time, IgnoreReason::kBadTimestamp},
      {no_repo, IgnoreReason::kNoRepository},
      {no_digest, IgnoreReason::kMissingDigest},
  };
  for (const Case& c : cases) {
    auto in = One(c.event);
    EXPECT_TRUE(in.effects.empty()) << IgnoreReasonName(c.reason);
    ASSERT_EQ(in.ignored.size(), 1u);
    EXPECT_EQ(in.ignored[0], c.reason) << IgnoreReasonName(c.reason);
  }
}

TEST(SemanticsTest, EveryEventOfAnEnvelopeInOrderIgnoredOnesSkipped) {
  auto in = Interpret({ExampleEvent("manifest-push-tagged.json"),
                       ExampleEvent("blob-pull-get.json"), ExampleEvent("manifest-pull-get.json")},
                      DeletePolicy::kKeep, DefaultClassifier());
  ASSERT_EQ(in.effects.size(), 2u);
  EXPECT_EQ(in.effects[0].event_id, testing::ExampleString("manifest-push-tagged.json", "id"));
  EXPECT_EQ(in.effects[1].event_id, testing::ExampleString("manifest-pull-get.json", "id"));
  EXPECT_EQ(in.ignored.size(), 1u);
}

TEST(SemanticsTest, TimesAreTheEventsOwnInAnyOffset) {
  Event e = MakeEvent("pull", kImage, "v1");
  e.timestamp = ParseRfc3339("2026-11-28T01:30:00.999999+02:00");
  auto in = One(e);
  EXPECT_EQ(FormatRfc3339(*RepoDelta(in).times[TimeField::kLastPulled]),
            "2026-11-27T23:30:00.999Z");
  EXPECT_EQ(OpsOf<DayUpdate>(in).at(0).day, "2026-11-27");
}

// The retention planner trusts "not pulled within D" only from the repository's observation
// start on: every repository update of every kind of event carries the event's own time, counted
// or not (an untagged push, a check, a delete, an attachment), whatever the offset it came in.
TEST(SemanticsTest, EveryRepositoryUpdateCarriesTheEventTimeAsObservedSince) {
  std::vector<Event> events = {
      MakeEvent("push", kImage, "v1", "PUT"),
      MakeEvent("push", kImage, "", "PUT"),
      MakeEvent("pull", kImage, "v1"),
      MakeEvent("pull", kImage, "v1", "HEAD"),
      MakeEvent("pull", kIndex, "latest"),
      MakeEvent("delete", "", "", "DELETE"),
      MakeEvent("push", kIndex, "multi", "PUT"),
      MakeEvent("push", kImage, "sha256-" + std::string(64, 'a') + ".sig", "PUT"),
      ExampleEvent("manifest-push-tagged.json"),
      ExampleEvent("delete-digest.json"),
  };
  events.back().timestamp = ParseRfc3339("2026-11-28T01:30:00.999999+02:00");
  for (const Event& event : events) {
    SCOPED_TRACE(event.action + " " + event.media_type + " " + event.tag + " " + event.method);
    const auto updates = OpsOf<RepositoryUpdate>(One(event));
    ASSERT_FALSE(updates.empty());
    for (const RepositoryUpdate& update : updates) {
      ASSERT_TRUE(update.observed_since.has_value());
      EXPECT_EQ(*update.observed_since, event.timestamp);
    }
  }
  EXPECT_EQ(FormatRfc3339(*OpsOf<RepositoryUpdate>(One(events.back())).at(0).observed_since),
            "2026-11-27T23:30:00.999Z");
}

TEST(SemanticsTest, DeltaMergeSumsAndWidens) {
  Delta a;
  a.counts[Counter::kPulls] = 2;
  a.Pulled(100);
  Delta b;
  b.counts[Counter::kPulls] = 3;
  b.Pulled(50);
  b.Pushed(70);
  a += b;
  EXPECT_EQ(a.counts[Counter::kPulls], 5);
  EXPECT_EQ(a.times[TimeField::kFirstPulled], 50);
  EXPECT_EQ(a.times[TimeField::kLastPulled], 100);
  EXPECT_EQ(a.times[TimeField::kFirstPushed], 70);
}

}  // namespace
}  // namespace drec

namespace drec {
namespace {

std::vector<ClassUpdate> ClassesOf(const Event& event, DeletePolicy policy = DeletePolicy::kKeep) {
  return OpsOf<ClassUpdate>(Interpret({event}, policy, DefaultClassifier()));
}

TEST(SemanticsClassesTest, ATaggedPullCountsForItsClassAllTimeByDayAndByTag) {
  Event event = ExampleEvent("manifest-pull-get.json");
  event.user_agent = "containerd/v1.7.2";
  const auto in = Interpret({event}, DeletePolicy::kKeep, DefaultClassifier());
  const auto classes = OpsOf<ClassUpdate>(in);
  ASSERT_EQ(classes.size(), 3u);
  const Delta delta = RepoDelta(in);
  const std::string day = UtcDay(*event.timestamp);
  EXPECT_EQ(classes[0], (ClassUpdate{event.repository, "production", "", "", delta}));
  EXPECT_EQ(classes[1], (ClassUpdate{event.repository, "production", "", day, delta}));
  EXPECT_EQ(classes[2], (ClassUpdate{event.repository, "production", event.tag, "", delta}));
  EXPECT_EQ(in.classes, (std::vector<std::string_view>{"production"}));
}

TEST(SemanticsClassesTest, TheClassComesFromTheCapturedUserAgent) {
  // skopeo, which drove the capture, is in no built-in class.
  const auto classes = ClassesOf(ExampleEvent("manifest-push-tagged.json"));
  ASSERT_FALSE(classes.empty());
  for (const ClassUpdate& op : classes) EXPECT_EQ(op.cls, kDefaultClass);
}

TEST(SemanticsClassesTest, ByDigestAndDeletesCountWithoutATagRecord) {
  Event pull = MakeEvent("pull", kImage, "");
  pull.user_agent = "curl/8.1";
  auto classes = ClassesOf(pull);
  ASSERT_EQ(classes.size(), 2u);
  EXPECT_EQ(classes[0].cls, "ci");
  EXPECT_EQ(classes[0].delta.counts[Counter::kPulls], 1);

  const auto deleted = ClassesOf(ExampleEvent("delete-digest.json"));
  ASSERT_EQ(deleted.size(), 2u);
  EXPECT_EQ(deleted[0].delta.counts[Counter::kDeletes], 1);
  for (const ClassUpdate& op : deleted) EXPECT_EQ(op.tag, "");
}

TEST(SemanticsClassesTest, WhatCountsNothingOnTheRepositoryHasNoClass) {
  EXPECT_TRUE(ClassesOf(MakeEvent("push", kImage, "")).empty());  // a child pushed by digest
  EXPECT_TRUE(ClassesOf(ExampleEvent("delete-tag.json")).empty());
  EXPECT_TRUE(ClassesOf(ExampleEvent("delete-digest.json"), DeletePolicy::kRemove).empty());
  EXPECT_TRUE(
      Interpret({ExampleEvent("blob-pull-get.json")}, DeletePolicy::kKeep, DefaultClassifier())
          .classes.empty());
}

// A name the registry could not have sent is never stored, cut or whole: the event is ignored
// with the reason that names it, and the events around it still count.
TEST(SemanticsTest, NamesTheRegistryCouldNotSendAreIgnoredByReason) {
  struct Case {
    void (*spoil)(Event&);
    IgnoreReason reason;
  };
  const Case cases[] = {
      {[](Event& e) { e.id = std::string(256, 'i'); }, IgnoreReason::kInvalidId},
      {[](Event& e) { e.id = "a\nb"; }, IgnoreReason::kInvalidId},
      {[](Event& e) { e.repository = std::string(256, 'r'); }, IgnoreReason::kInvalidRepository},
      {[](Event& e) { e.repository = "Team/App"; }, IgnoreReason::kInvalidRepository},
      {[](Event& e) { e.repository = "=cmd|' /C calc'!A0"; }, IgnoreReason::kInvalidRepository},
      {[](Event& e) { e.tag = std::string(129, 't'); }, IgnoreReason::kInvalidTag},
      {[](Event& e) { e.tag = "-rm"; }, IgnoreReason::kInvalidTag},
      {[](Event& e) { e.digest = "sha256:short"; }, IgnoreReason::kInvalidDigest},
      {[](Event& e) { e.digest = "sha256:" + std::string(2000, 'a'); },
       IgnoreReason::kInvalidDigest},
      {[](Event& e) {
         e.references = {Digest('1'), "sha256:x"};
       },
       IgnoreReason::kInvalidDigest},
      {[](Event& e) { e.actor = std::string(1025, 'x'); }, IgnoreReason::kInvalidActor},
      {[](Event& e) { e.actor = std::string("a\0b", 3); }, IgnoreReason::kInvalidActor},
  };
  for (const Case& c : cases) {
    for (const std::string action : {"push", "pull", "delete"}) {
      Event spoilt = MakeEvent(action, kIndex, "v1");
      c.spoil(spoilt);
      if (action == "delete" && c.reason == IgnoreReason::kInvalidDigest &&
          !spoilt.references.empty()) {
        continue;  // deletes carry no references
      }
      const Event good = MakeEvent("pull", kImage, "v2");
      auto in = Interpret({spoilt, good}, DeletePolicy::kKeep, DefaultClassifier());
      ASSERT_EQ(in.ignored.size(), 1u) << IgnoreReasonName(c.reason) << " " << action;
      EXPECT_EQ(in.ignored[0], c.reason) << action;
      ASSERT_EQ(in.effects.size(), 1u);
      EXPECT_EQ(in.effects[0].event_id, good.id);
    }
  }
}

TEST(SemanticsTest, NamesAtTheLimitsCount) {
  Event e = MakeEvent("push", kImage, std::string(128, 't'), "PUT");
  e.repository = "registry.example.com:5000/" + std::string(229, 'r');
  e.actor = std::string(1024, 'x');
  e.id = std::string(255, 'i');
  auto in = One(e);
  EXPECT_TRUE(in.ignored.empty());
  ASSERT_EQ(OpsOf<TagUpdate>(in).size(), 1u);
  EXPECT_EQ(OpsOf<TagUpdate>(in)[0].tag, std::string(128, 't'));
  EXPECT_EQ(OpsOf<ActorUpdate>(in).at(0).actor, std::string(1024, 'x'));
}

}  // namespace
}  // namespace drec
