// A plan as people and tools read it: JSON (the API, `--format json`, the dashboard) and a
// table for the terminal. One rendering each, so the CLI, the API and the dashboard show the
// same plan.
#pragma once

#include <boost/json/value.hpp>
#include <string>

#include "retention/planner.h"

namespace drec::retention {

// The plan in the shape docs/retention.md documents.
boost::json::object PlanJson(const Plan& plan);

// One line per tag and untagged manifest that is not simply kept, then the deletions and the
// summary; `verbose` adds the kept tags with their reasons.
std::string PlanTable(const Plan& plan, bool verbose);

}  // namespace drec::retention
