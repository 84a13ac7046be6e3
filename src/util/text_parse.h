// Parsers for the small texts people type into settings and query parameters: whole numbers,
// day counts ("30d"), Go durations ("1m30s"), booleans and comma lists. They are strict (the
// whole text, no surrounding white space) so that every caller decides what it tolerates, and
// they answer nullopt rather than a message so that every caller names its own setting.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace drec {

// White space (space, \t, \r, \n, \v, \f) removed from both ends, for callers that tolerate it.
std::string_view Trim(std::string_view text);

// ASCII upper case letters made lower case; other bytes as they are (no locale involved).
std::string AsciiLower(std::string_view text);

// A decimal integer: optional '-', digits, nothing else. nullopt when empty, malformed or
// outside int64.
std::optional<std::int64_t> ParseInt(std::string_view text);

// ParseInt, further limited to [min, max]: ports, counts, limits.
std::optional<std::int64_t> ParseIntInRange(std::string_view text, std::int64_t min,
                                            std::int64_t max);

// A number of whole days written "30d" (at least 1d): the query API's windows and ages.
std::optional<std::int64_t> ParseDays(std::string_view text);

// Go's time.ParseDuration syntax ("10s", "1m30s", "1.5h", "300ms", "2us"; no sign), how the
// original DREC read its timeouts. Nanoseconds as a double: precise enough for a timeout.
std::optional<std::chrono::duration<double, std::nano>> ParseGoDuration(std::string_view text);

// true/yes/1 or false/no/0, in any letter case: what YAML, flags and variables call a boolean.
std::optional<bool> ParseBool(std::string_view text);

// The comma-separated form of a list, each item trimmed: "a, b,c" -> {"a", "b", "c"}. Blank
// text is the empty list; an empty item stays, for the caller to refuse.
std::vector<std::string> SplitList(std::string_view text);

// The items with separator between them, for messages and --help ("a, b", "a|b").
std::string Join(const std::vector<std::string>& items, std::string_view separator);

}  // namespace drec
