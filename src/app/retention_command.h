// drec retention plan|apply (docs/retention.md): a policy file's plan from drec's statistics,
// checked against the registry, printed, and on request applied through the registry's API.
#pragma once

#include <map>
#include <string>

namespace drec {

// Runs `drec retention plan|apply [config.yml] [flags] --policy FILE ...` (argv[0] is
// "retention"). Exit status: 0 done (apply: every deletion made or skipped as changed), 1 the
// store or the registry failed (apply: a deletion failed; the report says which), 2 bad usage,
// configuration or policy.
int RunRetention(int argc, const char* const* argv, const std::map<std::string, std::string>& env);

}  // namespace drec
