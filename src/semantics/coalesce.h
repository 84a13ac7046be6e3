// Coalescing: the operations of many events, merged into fewer that leave every record as
// applying them one by one would. A store that folds a run of events at once (the SQLite fold)
// writes each record once per run instead of once per event.
#pragma once

#include <vector>

#include "semantics/operations.h"

namespace drec {

// The operations of `effects`, in an order and number that applying them in one transaction
// leaves every record exactly as applying each effect's operations in turn would.
//
// Additive operations (RepositoryUpdate, TagUpdate, DigestUpdate, ActorUpdate, DayUpdate,
// ClassUpdate) on the same record merge into the first of them: counters add, times fold, the
// last known media type and size win. They commute with every other operation, because they
// read nothing the others write and fold times with min/max, except RepositoryRemoved, which
// forgets the records they add to: merging never crosses a removal of the same repository. The
// other operations keep their order and number.
//
// Every effect must be applied unconditionally: one with `requires_manifest` depends on the
// records as of the effects before it, and is not for coalescing.
std::vector<Operation> CoalesceEffects(std::vector<EventEffect> effects);

}  // namespace drec
