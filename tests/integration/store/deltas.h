// Deltas of single events, shared by the store tests.
#pragma once

#include <cstdint>

#include "semantics/operations.h"

namespace drec::testing {

// A fixed instant for test data: 2025-11-27T02:24:26.171Z.
constexpr UnixMillis kT = 1'764'210'266'171;

inline Delta Pull(UnixMillis t, std::int64_t n = 1) {
  Delta d;
  d.counts[Counter::kPulls] = n;
  d.Pulled(t);
  return d;
}

inline Delta Push(UnixMillis t) {
  Delta d;
  d.counts[Counter::kPushes] = 1;
  d.Pushed(t);
  return d;
}

inline Delta Deleted() {
  Delta d;
  d.counts[Counter::kDeletes] = 1;
  return d;
}

}  // namespace drec::testing
