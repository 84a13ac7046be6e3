// Codecs: how the text of one setting becomes a field of the Draft, and how the field's default
// reads in --help. Every setting of the table (setting_table.h) is one of these kinds.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/draft.h"
#include "util/text_parse.h"

namespace drec::config {

// How a setting's value is written. Lists are YAML sequences, comma-separated in env and flags.
// kBool is a scalar that may also be a bare flag (--server-plain-http means true). kRules is a
// YAML list of maps; as values, and comma-separated in env and flags, "<i>.<field>=<value>".
enum class Shape { kScalar, kBool, kList, kUsers, kRules };

// What is wrong with a value, phrased to follow "key: ", e.g. "\"abc\" is not a port number".
using Problem = std::optional<std::string>;
using Values = std::vector<std::string>;  // exactly one for kScalar and kBool

// How one setting is read into a Draft and shown as a default in --help.
struct Codec {
  Shape shape;
  std::string type;  // placeholder in --help
  std::function<Problem(const Values&, Draft&)> parse;
  std::function<std::string(const Draft&)> show;
};

// A check of a text setting: nullopt when the text is acceptable.
using Check = Problem (*)(std::string_view);

// ---- Checks, for Text and List.

// Refuses "": for settings that name something (an address, a file).
Problem NonEmpty(std::string_view text);
// server.route: a URL path the registry can POST to.
Problem Route(std::string_view text);
// Empty (built from dial_info) or mongodb:// or mongodb+srv://. Never repeats the URI: it may
// hold a password.
Problem MongoUri(std::string_view text);
// A name MongoDB accepts for a database, so a typo fails at start-up, not at the first write.
Problem MongoDatabase(std::string_view text);
// A name MongoDB accepts for a collection.
Problem MongoCollection(std::string_view text);
// Longest PostgreSQL identifier (NAMEDATALEN - 1): a longer one is cut, and two could merge.
inline constexpr std::size_t kMaxPostgresSchemaBytes = 63;
// Empty (checked with storage.backend) or postgresql:// or postgres://. Never repeats the URI:
// it may hold a password.
Problem PostgresUri(std::string_view text);
// A schema name PostgreSQL keeps whole and lets drec create.
Problem PostgresSchema(std::string_view text);
// A registry name (model/registry.h).
Problem RegistryName(std::string_view text);
// A traffic class name: [a-z0-9][a-z0-9_-]{0,31}.
Problem ClassName(std::string_view text);
// A client address range: "10.0.0.0/8", "fd00::/8" or one address.
Problem AddressRange(std::string_view text);

// The fields of a classes.rules entry, in the order messages list them.
inline constexpr std::string_view kClassRuleFields[] = {"class", "useragent", "actor", "addr",
                                                        "source"};

// ---- Codecs, one a kind of setting.

// Any text, or what check accepts.
Codec Text(std::string Draft::*field, Check check = nullptr);
// A TCP port, 1 to 65535.
Codec Port(std::uint16_t Draft::*field);
// A size, count or number of days: zero would make drec useless, so at least 1.
Codec Positive(std::int64_t Draft::*field);
// A positive number of milliseconds.
Codec Millis(std::chrono::milliseconds Draft::*field);
// A thread count, 0 (one per core) to 1024.
Codec Threads(int Draft::*field);
// true/false, yes/no, 1/0.
Codec Bool(bool Draft::*field);
// A list of non-empty texts, each accepted by item_check. Items are not repeated in messages:
// they may be secrets.
Codec List(std::vector<std::string> Draft::*field, Check item_check = nullptr);
// classes.rules: entries "<i>.<field>=<value>" (a YAML list of maps becomes these, see
// yaml_source.cpp), grouped into one rule per index in index order. A problem names the rule's
// field: "[1].addr: ...".
Codec ClassRules(std::vector<ClassRuleSetting> Draft::*field);
// auth.basic: "user:password" items (the password may contain ':'); never repeats a password.
Codec Users(std::vector<BasicUser> Draft::*field);

// One of a few names (case-insensitive), each standing for a value of the field.
template <typename T>
Codec Choice(T Draft::*field, std::vector<std::pair<std::string_view, T>> names) {
  std::vector<std::string> list;
  list.reserve(names.size());
  for (const auto& [name, value] : names) list.emplace_back(name);
  return {Shape::kScalar, Join(list, "|"),
          [=](const Values& v, Draft& d) -> Problem {
            const std::string word = AsciiLower(Trim(v[0]));
            for (const auto& [name, value] : names) {
              if (word == name) {
                d.*field = value;
                return std::nullopt;
              }
            }
            return Quote(v[0]) + " is not one of " + Join(list, ", ");
          },
          [=](const Draft& d) {
            for (const auto& [name, value] : names) {
              if (d.*field == value) return std::string(name);
            }
            return std::string();
          }};
}

}  // namespace drec::config
