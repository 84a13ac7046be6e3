#include "store/effects_codec.h"

#include <gtest/gtest.h>

namespace drec {
namespace {

Delta SomeDelta(std::int64_t seed) {
  Delta delta;
  for (std::size_t i = 0; i < kCounterCount; ++i) delta.counts.at(i) = seed + std::int64_t(i) - 3;
  delta.Pulled(1'700'000'000'000 + seed);
  delta.times[TimeField::kLastPushed] = -5;  // before 1970: negative times survive too
  return delta;
}

// One effect with every operation type, every field set to something other than its default.
EventEffect EveryOperation() {
  EventEffect effect{"id-1", 1'700'000'000'123, {}, KnownManifest{"team/app", "sha256:aa"}, "eu"};
  effect.operations = {
      RepositoryUpdate{"team/app", SomeDelta(1), "alice", 1'600'000'000'000},
      TagUpdate{"team/app", "v1", SomeDelta(2)},
      TagsByDigestUpdate{"team/app", "sha256:aa", SomeDelta(3)},
      TagPointsAt{"team/app", "v1", "sha256:aa", 42, true},
      DigestUpdate{"team/app", "sha256:aa", "application/vnd.oci.image.manifest.v1+json", 345,
                   SomeDelta(4)},
      DigestParent{"team/app", "sha256:aa", "sha256:bb"},
      ActorUpdate{"team/app", "alice", SomeDelta(5), 7, 9},
      DayUpdate{"team/app", "2026-12-01", SomeDelta(6)},
      ClassUpdate{"team/app", "ci", "v1", "2026-12-01", SomeDelta(7)},
      DigestDeleted{"team/app", "sha256:aa", 11},
      TagDeleted{"team/app", "v1", 12},
      RepositoryDeleted{"team/app", 13},
      RepositoryRemoved{"team/app"},
  };
  return effect;
}

std::string Encode(const std::vector<EventEffect>& effects) {
  std::vector<const EventEffect*> pointers;
  for (const EventEffect& e : effects) pointers.push_back(&e);
  std::string bytes;
  EncodeEffects(pointers, &bytes);
  return bytes;
}

void ExpectSame(const EventEffect& a, const EventEffect& b) {
  EXPECT_EQ(a.event_id, b.event_id);
  EXPECT_EQ(a.timestamp, b.timestamp);
  EXPECT_EQ(a.operations, b.operations);
  EXPECT_EQ(a.requires_manifest, b.requires_manifest);
  EXPECT_EQ(a.registry, b.registry);
}

TEST(EffectsCodecTest, EveryOperationRoundTrips) {
  EventEffect plain{"id-2", 5, {RepositoryUpdate{"r", Delta{}, "", std::nullopt}}};
  const std::vector<EventEffect> effects = {EveryOperation(), plain};
  // Every alternative of Operation is in the sample, so a new one cannot be forgotten here.
  ASSERT_EQ(effects[0].operations.size(), std::variant_size_v<Operation>);
  auto decoded = DecodeEffects(Encode(effects));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  ASSERT_EQ(decoded->size(), 2u);
  ExpectSame((*decoded)[0], effects[0]);
  ExpectSame((*decoded)[1], effects[1]);
  EXPECT_FALSE((*decoded)[1].requires_manifest.has_value());
  EXPECT_FALSE(std::get<RepositoryUpdate>((*decoded)[1].operations[0]).observed_since);
}

TEST(EffectsCodecTest, AnEmptyBatchRoundTrips) {
  auto decoded = DecodeEffects(Encode({}));
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->empty());
}

TEST(EffectsCodecTest, EveryTruncationIsAnErrorNotACrash) {
  const std::string bytes = Encode({EveryOperation()});
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    EXPECT_FALSE(DecodeEffects(std::string_view(bytes).substr(0, size)).ok()) << size;
  }
  EXPECT_FALSE(DecodeEffects(bytes + "x").ok());
}

TEST(EffectsCodecTest, ForeignBytesAreRefused) {
  std::string bytes = Encode({EveryOperation()});
  bytes[0] = 9;  // another layout's version
  EXPECT_FALSE(DecodeEffects(bytes).ok());
  // An absurd count is refused before anything is allocated for it.
  EXPECT_FALSE(DecodeEffects(std::string("\x01\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10)).ok());
}

}  // namespace
}  // namespace drec
