// A compact binary form of the effects of a batch, so a store can make them durable in one small
// write before it folds them into its tables (src/store/sqlite/sqlite_writer.cpp: claimed
// effects wait as one row each until they are settled). Decoding rejects anything it did not
// write: a torn or foreign blob is an error, never a crash or a partial batch.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "semantics/operations.h"
#include "util/status.h"

namespace drec {

// Appends the encoding of `effects` to `out`.
void EncodeEffects(std::span<const EventEffect* const> effects, std::string* out);

// The effects EncodeEffects wrote into `bytes`, in order; Internal when `bytes` is not exactly
// one such encoding.
[[nodiscard]] Result<std::vector<EventEffect>> DecodeEffects(std::string_view bytes);

}  // namespace drec
