// The semantics' inputs that the settings decide (traffic classes, the delete policy): built the
// same way by the server's ingest endpoint and by drec replay / drec backfill, so history fed
// from files counts exactly as notifications do.
#pragma once

#include "config/settings.h"
#include "semantics/semantics.h"
#include "semantics/traffic_class.h"

namespace drec {

// The traffic classifier of the settings: the operator's rules, then the built-in ones.
Classifier MakeClassifier(const Settings& settings);

// counting.on_delete as the semantics takes it.
DeletePolicy DeletePolicyOf(const Settings& settings);

}  // namespace drec
