#include "semantics/operations.h"

namespace drec {

Delta& Delta::operator+=(const Delta& other) {
  numpulls += other.numpulls;
  numpushs += other.numpushs;
  numchecks += other.numchecks;
  numindexpulls += other.numindexpulls;
  numdeletes += other.numdeletes;
  firstpushed = Earliest(firstpushed, other.firstpushed);
  lastpushed = Latest(lastpushed, other.lastpushed);
  firstpulled = Earliest(firstpulled, other.firstpulled);
  lastpulled = Latest(lastpulled, other.lastpulled);
  return *this;
}

}  // namespace drec
