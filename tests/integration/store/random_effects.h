// Random effects for tests that compare two ways of applying the same events.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "semantics/operations.h"
#include "util/time.h"

namespace drec::testing {

// Random effects over a few repositories, tags, digests, actors and days, with times close
// together and out of order, so that merges, ties, deletes and removals meet.
inline std::vector<EventEffect> RandomEffects(unsigned seed, int count, UnixMillis now) {
  std::mt19937 random(seed);
  const auto pick = [&](std::initializer_list<const char*> values) {
    return std::string(values.begin()[random() % values.size()]);
  };
  const auto time = [&] {
    return UnixMillis(now - kDayMillis + std::int64_t(random() % 7) * 1000);
  };
  const auto delta = [&] {
    Delta d;
    d.counts.at(random() % kCounterCount) = 1 + random() % 3;
    if (random() % 2 != 0) d.Pulled(time());
    if (random() % 3 == 0) d.Pushed(time());
    return d;
  };
  const std::string today = UtcDay(now);
  const std::string yesterday = UtcDay(now - kDayMillis);
  std::vector<EventEffect> effects;
  for (int i = 0; i < count; ++i) {
    const std::string repo = pick({"team/app", "team/db"});
    const auto tag = [&] { return pick({"v1", "v2", "latest"}); };
    const auto digest = [&] { return pick({"sha256:aa", "sha256:bb", "sha256:cc"}); };
    const auto actor = [&] { return pick({"", "alice", "bob"}); };
    const auto day = [&] { return random() % 2 != 0 ? today : yesterday; };
    EventEffect effect{"id-" + std::to_string(i), time(), {}};
    // The semantics start every effect with its repository's update (the window needs the row).
    std::optional<UnixMillis> observed;
    if (random() % 4 == 0) observed = time();
    effect.operations.emplace_back(RepositoryUpdate{repo, delta(), actor(), observed});
    for (int n = random() % 5; n > 0; --n) {
      switch (random() % 13) {
        case 0:
          effect.operations.emplace_back(TagUpdate{repo, tag(), delta()});
          break;
        case 1:
          effect.operations.emplace_back(TagsByDigestUpdate{repo, digest(), delta()});
          break;
        case 2:
          effect.operations.emplace_back(
              TagPointsAt{repo, tag(), digest(), time(), random() % 5 == 0});
          break;
        case 3:
          effect.operations.emplace_back(
              DigestUpdate{repo, digest(),
                           pick({"", "application/vnd.oci.image.manifest.v1+json",
                                 "application/vnd.oci.image.index.v1+json"}),
                           std::int64_t(random() % 3) * 100, delta()});
          break;
        case 4:
          effect.operations.emplace_back(DigestParent{repo, digest(), digest()});
          break;
        case 5: {
          const UnixMillis seen = time();
          effect.operations.emplace_back(
              ActorUpdate{repo, pick({"alice", "bob"}), delta(), seen, seen});
          break;
        }
        case 6:
          effect.operations.emplace_back(DayUpdate{repo, day(), delta()});
          break;
        case 7:
          effect.operations.emplace_back(ClassUpdate{repo, pick({"ci", "production"}),
                                                     random() % 2 != 0 ? tag() : "", "", delta()});
          break;
        case 8:
          effect.operations.emplace_back(
              ClassUpdate{repo, pick({"ci", "production"}), "", day(), delta()});
          break;
        case 9:
          effect.operations.emplace_back(DigestDeleted{repo, digest(), time()});
          break;
        case 10:
          effect.operations.emplace_back(TagDeleted{repo, tag(), time()});
          break;
        case 11:
          effect.operations.emplace_back(RepositoryDeleted{repo, time()});
          break;
        default:
          // Rarer than the rest: a removal forgets a repository's history.
          if (random() % 4 == 0) effect.operations.emplace_back(RepositoryRemoved{repo});
          break;
      }
    }
    effects.push_back(std::move(effect));
  }
  return effects;
}

// The same operations, each in an effect of its own (ids "1", "2", ...), in order: the reference
// a coalesced application is compared with.
inline std::vector<EventEffect> OneOperationEach(const std::vector<EventEffect>& effects) {
  std::vector<EventEffect> alone;
  for (const EventEffect& effect : effects) {
    for (const Operation& operation : effect.operations) {
      alone.push_back(EventEffect{std::to_string(alone.size() + 1), effect.timestamp, {operation}});
    }
  }
  return alone;
}

}  // namespace drec::testing
