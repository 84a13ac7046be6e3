#include "config/setting_codecs.h"

#include "model/registry.h"

namespace drec::config {

Problem NonEmpty(std::string_view text) {
  if (text.empty()) return "must not be empty";
  return std::nullopt;
}

Problem Route(std::string_view text) {
  if (text.empty() || text.front() != '/' || text.find_first_of("?# \t") != std::string::npos) {
    return Quote(text) + " is not a path starting with /";
  }
  return std::nullopt;
}

Problem MongoUri(std::string_view text) {
  if (!text.empty() && !text.starts_with("mongodb://") && !text.starts_with("mongodb+srv://")) {
    return "does not start with mongodb:// or mongodb+srv://";
  }
  return std::nullopt;
}

Problem MongoDatabase(std::string_view text) {
  if (text.empty() || text.size() > 63 ||
      text.find_first_of("/\\. \"$*<>:|?") != std::string::npos) {
    return Quote(text) + " is not a MongoDB database name";
  }
  return std::nullopt;
}

Problem MongoCollection(std::string_view text) {
  if (text.empty() || text.find('$') != std::string::npos || text.starts_with("system.")) {
    return Quote(text) + " is not a MongoDB collection name";
  }
  return std::nullopt;
}

Problem PostgresUri(std::string_view text) {
  if (!text.empty() && !text.starts_with("postgresql://") && !text.starts_with("postgres://")) {
    return "does not start with postgresql:// or postgres://";
  }
  return std::nullopt;
}

Problem PostgresSchema(std::string_view text) {
  if (text.empty() || text.size() > kMaxPostgresSchemaBytes || text.starts_with("pg_") ||
      text.find('\0') != std::string_view::npos) {
    return Quote(text) + " is not a PostgreSQL schema name drec can use (1 to " +
           std::to_string(kMaxPostgresSchemaBytes) + " bytes, not starting with pg_)";
  }
  return std::nullopt;
}

Problem RegistryName(std::string_view text) {
  if (IsRegistryName(text)) return std::nullopt;
  return Quote(text) +
         " is not a registry name (lowercase letters, digits, '.', '_' and '-', starting with a "
         "letter or digit, at most 63 characters)";
}

Codec Text(std::string Draft::*field, Check check) {
  return {Shape::kScalar, "TEXT",
          [=](const Values& v, Draft& d) -> Problem {
            if (check != nullptr) {
              if (Problem problem = check(v[0])) return problem;
            }
            d.*field = v[0];
            return std::nullopt;
          },
          [=](const Draft& d) { return d.*field; }};
}

Codec Port(std::uint16_t Draft::*field) {
  return {Shape::kScalar, "PORT",
          [=](const Values& v, Draft& d) -> Problem {
            const auto number = ParseInt(Trim(v[0]));
            if (!number) return Quote(v[0]) + " is not a port number";
            if (*number < 1 || *number > 65535) {
              return Quote(v[0]) + " is not a port number: ports are 1 to 65535";
            }
            d.*field = static_cast<std::uint16_t>(*number);
            return std::nullopt;
          },
          [=](const Draft& d) { return std::to_string(d.*field); }};
}

Codec Positive(std::int64_t Draft::*field) {
  return {Shape::kScalar, "N",
          [=](const Values& v, Draft& d) -> Problem {
            const auto number = ParseIntInRange(Trim(v[0]), 1, INT64_MAX);
            if (!number) return Quote(v[0]) + " is not a positive whole number";
            d.*field = *number;
            return std::nullopt;
          },
          [=](const Draft& d) { return std::to_string(d.*field); }};
}

Codec Millis(std::chrono::milliseconds Draft::*field) {
  return {Shape::kScalar, "MS",
          [=](const Values& v, Draft& d) -> Problem {
            const auto number = ParseIntInRange(Trim(v[0]), 1, INT64_MAX);
            if (!number) return Quote(v[0]) + " is not a positive number of milliseconds";
            d.*field = std::chrono::milliseconds(*number);
            return std::nullopt;
          },
          [=](const Draft& d) { return std::to_string((d.*field).count()); }};
}

Codec Threads(int Draft::*field) {
  constexpr int kMax = 1024;
  return {Shape::kScalar, "N",
          [=](const Values& v, Draft& d) -> Problem {
            const auto number = ParseIntInRange(Trim(v[0]), 0, kMax);
            if (!number) {
              return Quote(v[0]) + " is not a whole number from 0 to " + std::to_string(kMax);
            }
            d.*field = static_cast<int>(*number);
            return std::nullopt;
          },
          [=](const Draft& d) { return std::to_string(d.*field); }};
}

Codec Bool(bool Draft::*field) {
  return {Shape::kBool, "BOOL",
          [=](const Values& v, Draft& d) -> Problem {
            const auto value = ParseBool(Trim(v[0]));
            if (!value) return Quote(v[0]) + " is not a boolean (true/false, yes/no, 1/0)";
            d.*field = *value;
            return std::nullopt;
          },
          [=](const Draft& d) { return d.*field ? "true" : "false"; }};
}

Codec List(std::vector<std::string> Draft::*field, Check item_check) {
  return {Shape::kList, "LIST",
          [=](const Values& v, Draft& d) -> Problem {
            for (std::size_t i = 0; i < v.size(); ++i) {
              if (v[i].empty()) return "entry " + std::to_string(i + 1) + " is empty";
              if (item_check != nullptr) {
                if (Problem problem = item_check(v[i])) return problem;
              }
            }
            d.*field = v;
            return std::nullopt;
          },
          [=](const Draft& d) { return Join(d.*field, ","); }};
}

Codec Users(std::vector<BasicUser> Draft::*field) {
  return {Shape::kUsers, "USER:PASSWORD,...",
          [=](const Values& v, Draft& d) -> Problem {
            std::vector<BasicUser> users;
            for (std::size_t i = 0; i < v.size(); ++i) {
              const std::string entry = "entry " + std::to_string(i + 1);
              const std::size_t colon = v[i].find(':');
              if (colon == std::string::npos) return entry + " is not user:password";
              BasicUser user{v[i].substr(0, colon), v[i].substr(colon + 1)};
              if (user.user.empty()) return entry + " has an empty user name";
              if (user.password.empty()) {
                return entry + " (" + Quote(user.user) + ") has no password";
              }
              for (const BasicUser& earlier : users) {
                if (earlier.user == user.user) {
                  return "user " + Quote(user.user) + " is listed twice";
                }
              }
              users.push_back(std::move(user));
            }
            d.*field = std::move(users);
            return std::nullopt;
          },
          [=](const Draft& d) {
            std::vector<std::string> names;
            for (const BasicUser& user : d.*field) names.push_back(user.user);
            return Join(names, ",");
          }};
}

}  // namespace drec::config
