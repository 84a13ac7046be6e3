#include "semantics/operations.h"

#include <algorithm>

namespace drec {
namespace {

std::optional<UnixMillis> Fold(std::optional<UnixMillis> a, std::optional<UnixMillis> b,
                               const UnixMillis& (*pick)(const UnixMillis&, const UnixMillis&)) {
  if (!a) return b;
  if (!b) return a;
  return pick(*a, *b);
}

}  // namespace

Delta& Delta::operator+=(const Delta& other) {
  numpulls += other.numpulls;
  numpushs += other.numpushs;
  numchecks += other.numchecks;
  numindexpulls += other.numindexpulls;
  numdeletes += other.numdeletes;
  firstpushed = Fold(firstpushed, other.firstpushed, std::min<UnixMillis>);
  lastpushed = Fold(lastpushed, other.lastpushed, std::max<UnixMillis>);
  firstpulled = Fold(firstpulled, other.firstpulled, std::min<UnixMillis>);
  lastpulled = Fold(lastpulled, other.lastpulled, std::max<UnixMillis>);
  return *this;
}

}  // namespace drec
