// Time points as milliseconds since the Unix epoch, UTC. Milliseconds because
// BSON dates (MongoDB, the integration point) hold milliseconds: both stores
// keep the same precision, so the API answers the same from either.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace drec {

using UnixMillis = std::int64_t;

// Milliseconds in a UTC day (UTC has no daylight saving; leap seconds are not counted).
inline constexpr UnixMillis kDayMillis = 86'400'000;

// Parses RFC 3339 ("2026-11-27T02:24:26.171909475Z", "...+02:00"); fractional
// digits beyond milliseconds are truncated. nullopt when the text is not RFC 3339.
std::optional<UnixMillis> ParseRfc3339(std::string_view text);

// Formats as RFC 3339 UTC with milliseconds: "2026-11-27T02:24:26.171Z".
std::string FormatRfc3339(UnixMillis t);

// The UTC calendar day of t as "YYYY-MM-DD", the key of per-day statistics.
std::string UtcDay(UnixMillis t);

// Parses "YYYY-MM-DD" to the millisecond at that day's UTC midnight.
std::optional<UnixMillis> ParseDay(std::string_view day);

// The earlier / later of two optional times; an absent time loses to a present one. This is
// how first* and last* times fold, so arrival order never matters.
std::optional<UnixMillis> Earliest(std::optional<UnixMillis> a, std::optional<UnixMillis> b);
std::optional<UnixMillis> Latest(std::optional<UnixMillis> a, std::optional<UnixMillis> b);

// Midnight UTC of the day holding t.
UnixMillis StartOfUtcDay(UnixMillis t);

// Wall clock; the only clock read in drec, so pure code can take time as an argument.
UnixMillis NowMillis();

}  // namespace drec
