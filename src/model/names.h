// The names an event carries, checked against CNCF Distribution's own grammar and limits
// (github.com/distribution/reference, regexp.go) before any of them is stored. A value the
// registry itself could not have produced is refused whole, never cut: a cut name could merge
// with another one, or end inside a UTF-8 character and make every page that shows it invalid.
#pragma once

#include <cstddef>
#include <string_view>

namespace drec {

// Longest repository name the registry accepts (reference.NameTotalLengthMax).
inline constexpr std::size_t kMaxRepositoryNameBytes = 255;
// Longest tag: one word character, then up to 127 of [A-Za-z0-9_.-] (reference.TagRegexp).
inline constexpr std::size_t kMaxTagBytes = 128;
// Longest digest drec keeps: sha512 in hex is 135 bytes; this leaves room for other algorithms.
inline constexpr std::size_t kMaxDigestBytes = 255;
// Longest actor name. The registry sets no limit of its own (the name comes from its
// authentication: an htpasswd user, a token's subject); this one is generous for both.
inline constexpr std::size_t kMaxActorBytes = 1024;
// Longest event id. Registries send UUIDs (36 bytes).
inline constexpr std::size_t kMaxEventIdBytes = 255;

// [domain/]component(/component)*: components of lowercase letters and digits joined by '.',
// '_', "__" or dashes; an optional leading domain ("host", "host:5000", "[::1]:5000"); at most
// 255 bytes in all.
bool IsRepositoryName(std::string_view name);

// A word character, then up to 127 word characters, '.' or '-'.
bool IsTag(std::string_view tag);

// algorithm:hex, the algorithm being letters and digits joined by '-', '_', '+' or '.', the
// hex part at least 32 digits; at most kMaxDigestBytes.
bool IsDigest(std::string_view digest);

// Non-empty, at most `max_bytes`, and free of control characters (U+0000-U+001F, U+007F),
// which no store, log line or CSV cell should carry. The text is UTF-8 already: the envelope
// parser checked the whole body.
bool IsPlainText(std::string_view text, std::size_t max_bytes);

}  // namespace drec
