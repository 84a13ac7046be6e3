// Event semantics: what each registry event counts as (docs/counting.md).
// Pure code: no I/O, no clock, no globals. Every counting rule of drec lives
// here and only here; stores only carry out the operations produced.
#pragma once

#include <string_view>
#include <vector>

#include "ingest/event.h"
#include "semantics/operations.h"
#include "semantics/traffic_class.h"

namespace drec {

// Why an event changed no statistics; exported as a metrics label.
enum class IgnoreReason {
  kMissingId,
  kBadTimestamp,
  kNoRepository,
  kMissingDigest,
  kBlob,
  kMount,
  kUnknownAction,
  kUnknownMediaType,
  // A delete by digest of a digest the store does not know as a manifest: a blob delete, most
  // likely. Decided by the store (EventEffect::requires_manifest), not here.
  kUnknownDigestDelete,
  // A name the registry's grammar or limits refuse (model/names.h): stored, it could merge with
  // another name or break the pages that show it, so the event is dropped whole.
  kInvalidId,
  kInvalidRepository,
  kInvalidTag,
  kInvalidDigest,
  kInvalidActor,
};
inline constexpr int kIgnoreReasonCount = 14;

// Stable, label-safe name of a reason ("blob", "unknown_media_type", ...).
std::string_view IgnoreReasonName(IgnoreReason reason);

// How deletes are counted (`counting.on_delete`).
enum class DeletePolicy { kKeep, kRemove };

struct Interpretation {
  std::vector<EventEffect> effects;   // one per counted event, in input order
  std::vector<IgnoreReason> ignored;  // one per ignored event
  // The traffic class of every effect that counts something, in order: for metrics. Views of
  // names the classifier owns.
  std::vector<std::string_view> classes;
};

// Turns events into store operations. Ignored events produce no effect, so
// they cost nothing to store and can never block the events behind them. Every event that
// counts something is counted for its traffic class too, as `classifier` decides.
Interpretation Interpret(const std::vector<Event>& events, DeletePolicy policy,
                         const Classifier& classifier);
// The interpretation views the classifier's class names: a temporary one would leave them
// dangling.
Interpretation Interpret(const std::vector<Event>& events, DeletePolicy policy,
                         const Classifier&& classifier) = delete;

// The digest of the image that an attachment tag is about ("sha256-<hex>", optionally with a
// ".sig", ".att" or ".sbom" suffix: "sha256:<hex>"), or empty when `tag` names no attachment
// (docs/counting.md#attachments).
std::string AttachmentSubject(std::string_view tag);

// True for the manifest media types of docs/counting.md#registry-events.
bool IsManifestMediaType(std::string_view media_type);
// True for the index / manifest list media types.
bool IsIndexMediaType(std::string_view media_type);

}  // namespace drec
