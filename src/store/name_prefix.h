// Prefix filters as index ranges, shared by the SQL stores: a range instead of LIKE, whose
// wildcards would need escaping in user input.
#pragma once

#include <optional>
#include <string>

namespace drec {

// The least string greater than every string that starts with `prefix`, comparing bytewise
// (as the stores' names do), or nullopt when there is none.
std::optional<std::string> PrefixEnd(std::string prefix);

}  // namespace drec
