#include "config/legacy_dial_info.h"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "config/setting_codecs.h"
#include "util/read_file.h"
#include "util/text_parse.h"

namespace drec::config {
namespace {

constexpr std::pair<std::string_view, std::string_view> kSameSettings[] = {
    {"dial_info.database", "storage.mongodb.database"},
    {"collection", "storage.mongodb.collection"},
    {"dial_info.user", "dial_info.username"},
};

// host, host:port or [ipv6]:port, as in a MongoDB connection string.
Problem HostPort(std::string_view text) {
  const std::string bad = Quote(text) + " is not host or host:port";
  std::string_view host = text;
  std::optional<std::string_view> port;
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return bad;
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad;
      port = rest.substr(1);
    }
  } else if (const std::size_t colon = text.find(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty() || host.find_first_of(",/@?#[]% \t") != std::string::npos) return bad;
  if (port && !ParseIntInRange(*port, 1, 65535)) return bad;
  return std::nullopt;
}

// dial_info.timeout: whole seconds or a Go duration; 0 meant the default (10 s) in the original.
Codec DialTimeout(std::chrono::milliseconds Draft::*field) {
  return {Shape::kScalar, "DURATION",
          [=](const Values& v, Draft& d) -> Problem {
            const std::string bad =
                Quote(v[0]) + " is not a number of seconds or a duration like \"10s\"";
            const std::string_view text = Trim(v[0]);
            double nanos = 0;
            if (const auto seconds = ParseInt(text)) {
              if (*seconds < 0) return bad;
              nanos = static_cast<double>(*seconds) * 1e9;
            } else if (const auto duration = ParseGoDuration(text)) {
              nanos = duration->count();
            } else {
              return bad;
            }
            const double millis = std::ceil(nanos / 1e6);  // never round a timeout down to 0
            if (millis > std::numeric_limits<std::int32_t>::max()) {
              return Quote(v[0]) + " is too long";
            }
            d.*field = millis == 0 ? Draft().dial_timeout
                                   : std::chrono::milliseconds(static_cast<std::int64_t>(millis));
            return std::nullopt;
          },
          [=](const Draft& d) { return std::to_string((d.*field).count() / 1000) + "s"; }};
}

// RFC 3986 percent-encoding of everything but unreserved characters, for URI user info.
std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

// The password in dial_info.password_file, trimmed; "" when no file is given.
Result<std::string> DialPassword(const Draft& d) {
  constexpr std::string_view kKey = "dial_info.password_file";
  if (d.dial_password_file.empty()) return std::string();
  if (d.dial_username.empty()) {
    return Invalid(kKey, "needs dial_info.username", d.SourceOf(kKey));
  }
  auto text = ReadFile(d.dial_password_file);
  if (!text.ok()) {
    return Invalid(kKey,
                   "cannot read " + Quote(d.dial_password_file) + ": " + text.status().message(),
                   d.SourceOf(kKey));
  }
  std::string password(Trim(*text));
  if (password.empty()) {
    return Invalid(kKey, Quote(d.dial_password_file) + " is empty", d.SourceOf(kKey));
  }
  return password;
}

// mongodb://user:password@host1,host2/database?connectTimeoutMS=..., from the original's dial_info.
Result<std::string> DialInfoUri(const Draft& d) {
  auto password = DialPassword(d);
  if (!password.ok()) return password.status();
  std::string uri = "mongodb://";
  if (!d.dial_username.empty()) {
    uri += PercentEncode(d.dial_username);
    if (!password->empty()) {
      uri += ":";
      uri += PercentEncode(*password);
    }
    uri += "@";
  }
  return uri + Join(d.dial_addrs, ",") + "/" + PercentEncode(d.mongodb_database) +
         "?connectTimeoutMS=" + std::to_string(d.dial_timeout.count());
}

}  // namespace

std::vector<SettingDef> LegacySettings() {
  return {
      {"dial_info.addrs", "MongoDB servers, host[:port]; dial_info implies storage.backend mongodb",
       List(&Draft::dial_addrs, HostPort)},
      {"dial_info.database", "Same as storage.mongodb.database",
       Text(&Draft::mongodb_database, MongoDatabase)},
      {"dial_info.timeout", "MongoDB connect timeout: seconds or a Go duration (\"30s\")",
       DialTimeout(&Draft::dial_timeout)},
      {"dial_info.username", "MongoDB user", Text(&Draft::dial_username)},
      {"dial_info.user", "Same as dial_info.username (the original's sample config.yml)",
       Text(&Draft::dial_username)},
      {"dial_info.password_file", "File holding the MongoDB password",
       Text(&Draft::dial_password_file)},
      {"collection", "Same as storage.mongodb.collection",
       Text(&Draft::mongodb_collection, MongoCollection)},
  };
}

bool IsLegacySetting(std::string_view key) {
  return key.starts_with("dial_info.") || key == "collection";
}

std::span<const std::pair<std::string_view, std::string_view>> SameSettings() {
  return kSameSettings;
}

Status ApplyDialInfo(Draft& d) {
  if (!d.origin.contains("storage.backend")) {
    for (const auto& [key, source] : d.origin) {
      if (key.starts_with("dial_info.")) {
        d.backend = Backend::kMongodb;
        d.origin["storage.backend"] = std::string(key).append(" at ").append(source);
        break;
      }
    }
  }
  if (d.backend == Backend::kMongodb && d.mongodb_uri.empty()) {
    if (d.dial_addrs.empty()) {
      return Invalid("storage.backend", "mongodb needs storage.mongodb.uri or dial_info.addrs",
                     d.SourceOf("storage.backend"));
    }
    auto uri = DialInfoUri(d);
    if (!uri.ok()) return uri.status();
    d.mongodb_uri = std::move(uri).value();
  }
  return Status::Ok();
}

}  // namespace drec::config
