#include "semantics/semantics.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string>

#include "model/names.h"

namespace drec {
namespace {

constexpr std::string_view kBlobMediaType = "application/octet-stream";

// The digest algorithms of attachment tags, with the length of their hex digests.
struct DigestAlgorithm {
  std::string_view name;
  std::size_t hex_length;
};
constexpr std::array<DigestAlgorithm, 2> kDigestAlgorithms = {{{"sha256", 64}, {"sha512", 128}}};
constexpr std::array<std::string_view, 3> kAttachmentSuffixes = {".sig", ".att", ".sbom"};

bool IsLowerHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// What a push or pull of an attachment counts as: its own counters and no image times, so
// signing and verifying never look like image traffic; a HEAD counts nothing.
Delta AttachmentDelta(const Event& event) {
  Delta delta;
  if (event.action == "push") {
    delta.counts[Counter::kAttachmentPushes] = 1;
  } else if (event.method != "HEAD") {
    delta.counts[Counter::kAttachmentPulls] = 1;
  }
  return delta;
}

// An attachment counts on the repository, on its own tag and digest, and on the digest of its
// subject; its actor is not put into the repository's actor list, which names image users.
void AttachmentOperations(const Event& event, UnixMillis at, const std::string& subject,
                          std::vector<Operation>& ops) {
  const Delta delta = AttachmentDelta(event);
  ops.emplace_back(RepositoryUpdate{event.repository, delta, std::string(), at});
  // The attachment's own manifest was pushed or pulled: its record keeps those times.
  Delta own = delta;
  if (delta.counts[Counter::kAttachmentPushes] > 0) own.Pushed(at);
  if (delta.counts[Counter::kAttachmentPulls] > 0) own.Pulled(at);
  ops.emplace_back(DigestUpdate{event.repository, event.digest, event.media_type, event.size, own});
  ops.emplace_back(DigestUpdate{event.repository, subject, std::string(), 0, delta});
  ops.emplace_back(TagPointsAt{event.repository, event.tag, event.digest, at, true});
  ops.emplace_back(TagUpdate{event.repository, event.tag, delta});
  if (delta == Delta{}) return;
  if (!event.actor.empty())
    ops.emplace_back(ActorUpdate{event.repository, event.actor, delta, at, at});
  ops.emplace_back(DayUpdate{event.repository, UtcDay(at), delta});
}

// What a manifest pull or push counts as, before it is spread over records.
Delta ManifestDelta(const Event& event, UnixMillis at) {
  Delta delta;
  const bool index = IsIndexMediaType(event.media_type);
  if (event.action == "push") {
    if (!event.tag.empty()) delta.counts[Counter::kPushes] = 1;
    delta.Pushed(at);
    return delta;
  }
  if (event.method == "HEAD") {
    delta.counts[Counter::kChecks] = 1;  // a version check: never a pull, and no pull time
    return delta;
  }
  if (index) {
    delta.counts[Counter::kIndexPulls] = 1;
  } else {
    delta.counts[Counter::kPulls] = 1;
  }
  delta.Pulled(at);
  return delta;
}

// A digest's own record counts every push of it, tagged or not: a child
// manifest pushed by digest is still a push of that digest.
Delta DigestDelta(const Event& event, Delta delta) {
  if (event.action == "push") delta.counts[Counter::kPushes] = 1;
  return delta;
}

// The class records of one counted event: all time, its day, and its tag when it names one.
// Tags never count deletes (docs/counting.md#deletes), so a delete has no per-tag class record.
void ClassOperations(const Event& event, std::string_view cls, UnixMillis at, const Delta& delta,
                     std::vector<Operation>& ops) {
  const std::string name(cls);
  ops.emplace_back(ClassUpdate{event.repository, name, "", "", delta});
  ops.emplace_back(ClassUpdate{event.repository, name, "", UtcDay(at), delta});
  if (!event.tag.empty() && event.action != "delete") {
    ops.emplace_back(ClassUpdate{event.repository, name, event.tag, "", delta});
  }
}

// The repository delta of the operations, or nullopt when they count nothing there.
std::optional<Delta> RepositoryDelta(const std::vector<Operation>& ops) {
  for (const Operation& op : ops) {
    if (const auto* update = std::get_if<RepositoryUpdate>(&op);
        update && update->delta != Delta{}) {
      return update->delta;
    }
  }
  return std::nullopt;
}

void ManifestOperations(const Event& event, UnixMillis at, std::vector<Operation>& ops) {
  if (const std::string subject = AttachmentSubject(event.tag); !subject.empty()) {
    return AttachmentOperations(event, at, subject, ops);
  }
  const Delta delta = ManifestDelta(event, at);
  const bool counted_for_actor_list = delta.counts[Counter::kPulls] > 0 ||
                                      delta.counts[Counter::kPushes] > 0 ||
                                      delta.counts[Counter::kIndexPulls] > 0;
  // An untagged push is no push of the repository, but the repository exists from then on.
  const Delta repository_delta = event.action == "push" && event.tag.empty() ? Delta{} : delta;
  ops.emplace_back(RepositoryUpdate{event.repository, repository_delta,
                                    counted_for_actor_list ? event.actor : std::string(), at});
  ops.emplace_back(DigestUpdate{event.repository, event.digest, event.media_type, event.size,
                                DigestDelta(event, delta)});
  if (IsIndexMediaType(event.media_type)) {
    for (const std::string& child : event.references) {
      ops.emplace_back(DigestParent{event.repository, child, event.digest});
    }
  }
  if (!event.tag.empty()) {
    ops.emplace_back(TagPointsAt{event.repository, event.tag, event.digest, at});
    ops.emplace_back(TagUpdate{event.repository, event.tag, repository_delta});
  } else if (event.action == "pull") {
    ops.emplace_back(TagsByDigestUpdate{event.repository, event.digest, delta});
  }
  if (repository_delta == Delta{}) return;
  if (!event.actor.empty())
    ops.emplace_back(ActorUpdate{event.repository, event.actor, repository_delta, at, at});
  ops.emplace_back(DayUpdate{event.repository, UtcDay(at), repository_delta});
}

void DeleteOperations(const Event& event, UnixMillis at, DeletePolicy policy, EventEffect& effect) {
  std::vector<Operation>& ops = effect.operations;
  // A blob delete sends exactly this shape: it counts only for a digest known as a manifest.
  if (!event.digest.empty() && event.tag.empty()) {
    effect.requires_manifest = KnownManifest{event.repository, event.digest};
  }
  if (policy == DeletePolicy::kRemove) {
    ops.emplace_back(RepositoryRemoved{event.repository});
    return;
  }
  if (!event.digest.empty()) {
    Delta delta;
    delta.counts[Counter::kDeletes] = 1;
    ops.emplace_back(RepositoryUpdate{event.repository, delta, std::string(), at});
    ops.emplace_back(DigestUpdate{event.repository, event.digest, std::string(), 0, delta});
    ops.emplace_back(DigestDeleted{event.repository, event.digest, at});
    if (!event.actor.empty()) {
      ops.emplace_back(ActorUpdate{event.repository, event.actor, delta, at, at});
    }
    ops.emplace_back(DayUpdate{event.repository, UtcDay(at), delta});
  }
  if (!event.tag.empty()) ops.emplace_back(TagDeleted{event.repository, event.tag, at});
  if (event.digest.empty() && event.tag.empty()) {
    ops.emplace_back(RepositoryDeleted{event.repository, at});
  }
}

// The reason an event is ignored, or nullopt when it counts.
std::optional<IgnoreReason> Classify(const Event& event) {
  if (event.id.empty()) return IgnoreReason::kMissingId;
  if (!event.timestamp) return IgnoreReason::kBadTimestamp;
  if (event.repository.empty()) return IgnoreReason::kNoRepository;
  if (event.action == "mount") return IgnoreReason::kMount;
  if (event.action == "delete") return std::nullopt;
  if (event.action != "push" && event.action != "pull") return IgnoreReason::kUnknownAction;
  if (event.media_type == kBlobMediaType) return IgnoreReason::kBlob;
  if (!IsManifestMediaType(event.media_type)) return IgnoreReason::kUnknownMediaType;
  if (event.digest.empty()) return IgnoreReason::kMissingDigest;
  return std::nullopt;
}

// The reason an event that would count is ignored because a name in it breaks the registry's
// grammar or limits (model/names.h), or nullopt when every name is one the registry could send.
std::optional<IgnoreReason> CheckNames(const Event& event) {
  if (!IsPlainText(event.id, kMaxEventIdBytes)) return IgnoreReason::kInvalidId;
  if (!IsRepositoryName(event.repository)) return IgnoreReason::kInvalidRepository;
  if (!event.tag.empty() && !IsTag(event.tag)) return IgnoreReason::kInvalidTag;
  if (!event.digest.empty() && !IsDigest(event.digest)) return IgnoreReason::kInvalidDigest;
  if (!std::all_of(event.references.begin(), event.references.end(), IsDigest)) {
    return IgnoreReason::kInvalidDigest;
  }
  if (!event.actor.empty() && !IsPlainText(event.actor, kMaxActorBytes)) {
    return IgnoreReason::kInvalidActor;
  }
  return std::nullopt;
}

}  // namespace

std::string_view IgnoreReasonName(IgnoreReason reason) {
  switch (reason) {
    case IgnoreReason::kMissingId:
      return "missing_id";
    case IgnoreReason::kBadTimestamp:
      return "bad_timestamp";
    case IgnoreReason::kNoRepository:
      return "no_repository";
    case IgnoreReason::kMissingDigest:
      return "missing_digest";
    case IgnoreReason::kBlob:
      return "blob";
    case IgnoreReason::kMount:
      return "mount";
    case IgnoreReason::kUnknownAction:
      return "unknown_action";
    case IgnoreReason::kUnknownMediaType:
      return "unknown_media_type";
    case IgnoreReason::kUnknownDigestDelete:
      return "unknown_digest_delete";
    case IgnoreReason::kInvalidId:
      return "invalid_id";
    case IgnoreReason::kInvalidRepository:
      return "invalid_repository";
    case IgnoreReason::kInvalidTag:
      return "invalid_tag";
    case IgnoreReason::kInvalidDigest:
      return "invalid_digest";
    case IgnoreReason::kInvalidActor:
      return "invalid_actor";
  }
  return "unknown";
}

std::string AttachmentSubject(std::string_view tag) {
  for (const DigestAlgorithm& algorithm : kDigestAlgorithms) {
    if (!tag.starts_with(algorithm.name) || tag.size() <= algorithm.name.size() ||
        tag[algorithm.name.size()] != '-') {
      continue;
    }
    std::string_view rest = tag.substr(algorithm.name.size() + 1);
    const std::string_view hex = rest.substr(0, algorithm.hex_length);
    if (hex.size() != algorithm.hex_length || !IsLowerHex(hex)) return {};
    rest.remove_prefix(hex.size());
    if (!rest.empty() && std::find(kAttachmentSuffixes.begin(), kAttachmentSuffixes.end(), rest) ==
                             kAttachmentSuffixes.end()) {
      return {};
    }
    return fmt::format("{}:{}", algorithm.name, hex);
  }
  return {};
}

bool IsIndexMediaType(std::string_view media_type) {
  return media_type == "application/vnd.docker.distribution.manifest.list.v2+json" ||
         media_type == "application/vnd.oci.image.index.v1+json";
}

bool IsManifestMediaType(std::string_view media_type) {
  return IsIndexMediaType(media_type) ||
         media_type == "application/vnd.docker.distribution.manifest.v1+json" ||
         media_type == "application/vnd.docker.distribution.manifest.v1+prettyjws" ||
         media_type == "application/vnd.docker.distribution.manifest.v2+json" ||
         media_type == "application/vnd.oci.image.manifest.v1+json";
}

Interpretation Interpret(const std::vector<Event>& events, DeletePolicy policy,
                         const Classifier& classifier) {
  Interpretation result;
  for (const Event& event : events) {
    std::optional<IgnoreReason> reason = Classify(event);
    if (!reason) reason = CheckNames(event);
    if (reason) {
      result.ignored.push_back(*reason);
      continue;
    }
    EventEffect effect{event.id, *event.timestamp, {}, std::nullopt};
    if (event.action == "delete") {
      DeleteOperations(event, *event.timestamp, policy, effect);
    } else {
      ManifestOperations(event, *event.timestamp, effect.operations);
    }
    if (const auto delta = RepositoryDelta(effect.operations)) {
      const std::string_view cls = classifier.Classify(event);
      ClassOperations(event, cls, *event.timestamp, *delta, effect.operations);
      result.classes.push_back(cls);
    }
    result.effects.push_back(std::move(effect));
  }
  return result;
}

}  // namespace drec
