#include "config/config_loader.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "app/version.h"

namespace drec {
namespace {

// Settings under construction, plus the original DREC's dial_info, which only feeds
// storage.mongodb.uri (built in Finish).
struct Draft : Settings {
  std::vector<std::string> dial_addrs;
  std::chrono::milliseconds dial_timeout{10'000};  // the original DREC's default
  std::string dial_username;
  std::string dial_password_file;
  // Where each key's current value came from: "DREC_SERVER_PORT", "--server-port", "x.yml:3".
  std::map<std::string, std::string, std::less<>> origin;
};

// How a setting's value is written. Lists are YAML sequences, comma-separated in env and flags.
// kBool is a scalar that may also be a bare flag (--server-plain-http means true).
enum class Shape { kScalar, kBool, kList, kUsers };

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

// One row of the settings table: the key names the YAML path, the flag and the variable.
struct SettingDef {
  std::string_view key;
  std::string_view help;
  Codec codec;
};

// Values given for one key in one layer (file, environment or flags), and where.
struct Input {
  Values values;
  std::string source;
};
using Layer = std::map<std::string, Input, std::less<>>;

constexpr std::string_view kWhitespace = " \t\r\n\v\f";
constexpr std::string_view kConfigEnv = "DREC_CONFIG";

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string_view Trim(std::string_view text) {
  const auto first = text.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kWhitespace) - first + 1);
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::optional<std::int64_t> ParseInt(std::string_view text) {
  text = Trim(text);
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<bool> ParseBool(std::string_view text) {
  const std::string word = Lower(Trim(text));
  if (word == "true" || word == "yes" || word == "1") return true;
  if (word == "false" || word == "no" || word == "0") return false;
  return std::nullopt;
}

// Go's time.ParseDuration syntax ("30s", "1m30s", "1.5h", "300ms"), how the original DREC read
// dial_info.timeout. Nanoseconds; a double is precise enough for a timeout.
std::optional<double> ParseGoDuration(std::string_view text) {
  static constexpr std::pair<std::string_view, double> kUnits[] = {
      {"ns", 1},   {"us", 1e3}, {"\u00b5s", 1e3}, {"\u03bcs", 1e3},
      {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},      {"h", 3600e9}};
  if (text.empty()) return std::nullopt;
  double total = 0;
  while (!text.empty()) {
    std::size_t i = 0;
    double number = 0;
    bool digits = false;
    for (; i < text.size() && IsDigit(text[i]); ++i, digits = true) {
      number = number * 10 + (text[i] - '0');
    }
    if (i < text.size() && text[i] == '.') {
      double scale = 0.1;
      for (++i; i < text.size() && IsDigit(text[i]); ++i, scale /= 10, digits = true) {
        number += (text[i] - '0') * scale;
      }
    }
    const std::size_t unit_start = i;
    while (i < text.size() && !IsDigit(text[i]) && text[i] != '.') ++i;
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    const auto* found = std::find_if(std::begin(kUnits), std::end(kUnits),
                                     [&](const auto& u) { return u.first == unit; });
    if (!digits || found == std::end(kUnits)) return std::nullopt;
    total += number * found->second;
    text.remove_prefix(i);
  }
  return total;
}

// Splits the env and flag form of a list: "a, b,c" -> {"a", "b", "c"}; "" -> {}.
Values SplitList(std::string_view text) {
  Values items;
  if (Trim(text).empty()) return items;
  for (std::size_t start = 0;;) {
    const std::size_t comma = text.find(',', start);
    items.emplace_back(Trim(text.substr(start, comma - start)));
    if (comma == std::string_view::npos) return items;
    start = comma + 1;
  }
}

std::string Join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
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

// The whole file, or why it cannot be read ("No such file or directory").
Result<std::string> ReadFile(const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) return Status::InvalidArgument("is a directory");
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(errno != 0 ? std::strerror(errno) : "cannot be opened");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::InvalidArgument("read error");
  return text.str();
}

// 127.0.0.0/8, ::1 (also v4-mapped) and "localhost": only this host can connect.
bool IsLoopback(std::string_view address) {
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  if (Lower(address) == "localhost") return true;
  const std::string text(address);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) != 1) return false;
  return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
}

// ---- Checks for text settings: nullopt when the text is acceptable.

using Check = Problem (*)(std::string_view);

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

// Empty: built from dial_info. The URI is not repeated in messages: it may hold a password.
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
  if (port) {
    const auto number = ParseInt(*port);
    if (!number || *number < 1 || *number > 65535 || Trim(*port) != *port) return bad;
  }
  return std::nullopt;
}

// ---- Codecs: how a value is parsed into a Draft field.

Codec Text(std::string Draft::*field, Check check = nullptr) {
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
            const auto number = ParseInt(v[0]);
            if (!number) return Quote(v[0]) + " is not a port number";
            if (*number < 1 || *number > 65535) {
              return Quote(v[0]) + " is not a port number: ports are 1 to 65535";
            }
            d.*field = static_cast<std::uint16_t>(*number);
            return std::nullopt;
          },
          [=](const Draft& d) { return std::to_string(d.*field); }};
}

// A size, count or number of days: zero would make drec useless, so at least 1.
Codec Positive(std::int64_t Draft::*field) {
  return {Shape::kScalar, "N",
          [=](const Values& v, Draft& d) -> Problem {
            const auto number = ParseInt(v[0]);
            if (!number || *number < 1) return Quote(v[0]) + " is not a positive whole number";
            d.*field = *number;
            return std::nullopt;
          },
          [=](const Draft& d) { return std::to_string(d.*field); }};
}

Codec Millis(std::chrono::milliseconds Draft::*field) {
  return {Shape::kScalar, "MS",
          [=](const Values& v, Draft& d) -> Problem {
            const auto number = ParseInt(v[0]);
            if (!number || *number < 1) {
              return Quote(v[0]) + " is not a positive number of milliseconds";
            }
            d.*field = std::chrono::milliseconds(*number);
            return std::nullopt;
          },
          [=](const Draft& d) { return std::to_string((d.*field).count()); }};
}

Codec Threads(int Draft::*field) {
  constexpr int kMax = 1024;
  return {Shape::kScalar, "N",
          [=](const Values& v, Draft& d) -> Problem {
            const auto number = ParseInt(v[0]);
            if (!number || *number < 0 || *number > kMax) {
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
            const auto value = ParseBool(v[0]);
            if (!value) return Quote(v[0]) + " is not a boolean (true/false, yes/no, 1/0)";
            d.*field = *value;
            return std::nullopt;
          },
          [=](const Draft& d) { return d.*field ? "true" : "false"; }};
}

// One of a few names (case-insensitive), each standing for a value of the field.
template <typename T>
Codec Choice(T Draft::*field, std::vector<std::pair<std::string_view, T>> names) {
  std::vector<std::string> list;
  list.reserve(names.size());
  for (const auto& [name, value] : names) list.emplace_back(name);
  return {Shape::kScalar, Join(list, "|"),
          [=](const Values& v, Draft& d) -> Problem {
            const std::string word = Lower(Trim(v[0]));
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

// dial_info.timeout: whole seconds or a Go duration; 0 meant the default (10 s) in the original.
Codec DialTimeout(std::chrono::milliseconds Draft::*field) {
  return {Shape::kScalar, "DURATION",
          [=](const Values& v, Draft& d) -> Problem {
            const std::string bad =
                Quote(v[0]) + " is not a number of seconds or a duration like \"10s\"";
            double nanos = 0;
            if (const auto seconds = ParseInt(v[0])) {
              if (*seconds < 0) return bad;
              nanos = static_cast<double>(*seconds) * 1e9;
            } else if (const auto duration = ParseGoDuration(Trim(v[0]))) {
              nanos = *duration;
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

// A list of non-empty texts. Items are not repeated in messages: they may be secrets.
Codec List(std::vector<std::string> Draft::*field, Check item_check = nullptr) {
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

// auth.basic: "user:password" items (the password may contain ':'); never repeats a password.
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

// ---- The table: every setting, once. Adding a setting is one row here.

const std::vector<SettingDef>& Table() {
  static const std::vector<SettingDef> table = {
      {"server.address", "Address to listen on (0.0.0.0 or :: for every interface)",
       Text(&Draft::address, NonEmpty)},
      {"server.port", "TCP port to listen on", Port(&Draft::port)},
      {"server.route", "Path the registry POSTs its notifications to", Text(&Draft::route, Route)},
      {"server.ssl.cert", "PEM certificate (chain) for HTTPS; empty: generate a self-signed one",
       Text(&Draft::tls_cert)},
      {"server.ssl.cert_key", "PEM private key of server.ssl.cert", Text(&Draft::tls_key)},
      {"server.ssl.client_ca",
       "PEM CA certificates; when set, clients need a certificate they signed",
       Text(&Draft::tls_client_ca)},
      {"server.ssl.generated_dir", "Directory for the generated self-signed certificate",
       Text(&Draft::generated_cert_dir, NonEmpty)},
      {"server.plain_http", "Serve plain HTTP, only behind a TLS-terminating proxy",
       Bool(&Draft::plain_http)},
      {"server.max_body_bytes", "Largest request body; larger ones are refused with 413",
       Positive(&Draft::max_body_bytes)},
      {"server.read_timeout_ms", "Time a client has to send a whole request",
       Millis(&Draft::read_timeout)},
      {"server.idle_timeout_ms", "Idle connections are closed after this",
       Millis(&Draft::idle_timeout)},
      {"server.threads", "Threads serving HTTP; 0: one per core", Threads(&Draft::threads)},
      {"auth.tokens", "Accepted bearer tokens (several during a rotation)", List(&Draft::tokens)},
      {"auth.basic", "Accepted basic-auth users", Users(&Draft::basic_users)},
      {"auth.allow_anonymous", "Accept requests without credentials on a non-loopback address",
       Bool(&Draft::allow_anonymous)},
      {"storage.backend", "Where statistics are stored",
       Choice<Backend>(&Draft::backend,
                       {{"sqlite", Backend::kSqlite}, {"mongodb", Backend::kMongodb}})},
      {"storage.sqlite.path", "SQLite database file", Text(&Draft::sqlite_path, NonEmpty)},
      {"storage.mongodb.uri", "MongoDB connection string (mongodb://...)",
       Text(&Draft::mongodb_uri, MongoUri)},
      {"storage.mongodb.database", "MongoDB database",
       Text(&Draft::mongodb_database, MongoDatabase)},
      {"storage.mongodb.collection", "MongoDB collection of repository documents",
       Text(&Draft::mongodb_collection, MongoCollection)},
      {"pipeline.queue_capacity", "Envelopes waiting to be committed; when full: 503",
       Positive(&Draft::queue_capacity)},
      {"pipeline.max_batch_events", "Most events committed together",
       Positive(&Draft::max_batch_events)},
      {"pipeline.retention_days", "Days event ids are remembered to drop registry retries",
       Positive(&Draft::retention_days)},
      {"counting.on_delete", "On delete events: keep statistics, or remove the repository's",
       Choice<OnDelete>(&Draft::on_delete,
                        {{"keep", OnDelete::kKeep}, {"remove", OnDelete::kRemove}})},
      {"log.level", "Least severe log level written",
       Choice<std::string>(&Draft::log_level, {{"trace", "trace"},
                                               {"debug", "debug"},
                                               {"info", "info"},
                                               {"warn", "warn"},
                                               {"error", "error"}})},
      {"log.format", "Log line format",
       Choice<LogFormat>(&Draft::log_format,
                         {{"text", LogFormat::kText}, {"json", LogFormat::kJson}})},
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
  return table;
}

// Pairs of keys that set the same value: giving both in one layer is ambiguous.
constexpr std::pair<std::string_view, std::string_view> kSameSetting[] = {
    {"dial_info.database", "storage.mongodb.database"},
    {"collection", "storage.mongodb.collection"},
    {"dial_info.user", "dial_info.username"},
};

const SettingDef* Find(std::string_view key) {
  for (const SettingDef& def : Table()) {
    if (def.key == key) return &def;
  }
  return nullptr;
}

// True when key is a YAML section holding settings ("server", "server.ssl").
bool IsSection(std::string_view key) {
  for (const SettingDef& def : Table()) {
    if (def.key.size() > key.size() && def.key.starts_with(key) && def.key[key.size()] == '.') {
      return true;
    }
  }
  return false;
}

std::string FlagName(std::string_view key) {
  std::string name = "--";
  for (const char c : key) name += (c == '.' || c == '_') ? '-' : c;
  return name;
}

std::string EnvName(std::string_view key) {
  std::string name = "DREC_";
  for (const char c : key) {
    name += c == '.' ? '_' : (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return name;
}

std::string HelpGroup(std::string_view key) {
  if (key.starts_with("dial_info.") || key == "collection") return "original DREC (MongoDB)";
  return std::string(key.substr(0, key.find('.')));
}

Status Invalid(std::string_view key, std::string_view problem, std::string_view source) {
  return Status::InvalidArgument(std::string(key) + ": " + std::string(problem) + " (from " +
                                 std::string(source) + ")");
}

// ---- The YAML file.

std::string Where(const std::string& path, const YAML::Node& node) {
  return path + ":" + std::to_string(node.Mark().line + 1);
}

// The values of one setting as written in the file.
Result<Values> FromYaml(const SettingDef& def, const YAML::Node& node, const std::string& path) {
  const std::string where = Where(path, node);
  const Shape shape = def.codec.shape;
  if (shape == Shape::kScalar || shape == Shape::kBool) {
    if (!node.IsScalar()) return Invalid(def.key, "expected a single value", where);
    return Values{node.Scalar()};
  }
  if (shape == Shape::kList) {
    if (node.IsScalar()) return SplitList(node.Scalar());
    if (!node.IsSequence()) return Invalid(def.key, "expected a list", where);
    Values values;
    for (const YAML::Node& item : node) {
      if (!item.IsScalar()) return Invalid(def.key, "list entries must be text", Where(path, item));
      values.push_back(item.Scalar());
    }
    return values;
  }
  if (!node.IsSequence()) return Invalid(def.key, "expected a list of {user, password}", where);
  Values values;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node& item = node[i];
    const std::string key = std::string(def.key) + "[" + std::to_string(i) + "]";
    if (!item.IsMap()) return Invalid(key, "expected {user, password}", Where(path, item));
    for (const auto& field : item) {
      const std::string& name = field.first.Scalar();
      if (name != "user" && name != "password") {
        return Invalid(std::string(key).append(".").append(name), "unknown setting",
                       Where(path, field.first));
      }
    }
    const YAML::Node user = item["user"];
    const YAML::Node password = item["password"];
    // Absent keys give invalid nodes, which throw on anything but IsDefined().
    if (!user.IsDefined() || !password.IsDefined() || !user.IsScalar() || !password.IsScalar()) {
      return Invalid(key, "needs user and password", Where(path, item));
    }
    if (user.Scalar().find(':') != std::string::npos) {
      return Invalid(key + ".user", "must not contain ':'", Where(path, user));
    }
    values.push_back(user.Scalar() + ":" + password.Scalar());
  }
  return values;
}

Status CollectYaml(const YAML::Node& map, const std::string& prefix, const std::string& path,
                   Layer& layer) {
  for (const auto& entry : map) {
    const std::string where = Where(path, entry.first);
    if (!entry.first.IsScalar()) {
      return Status::InvalidArgument("config file " + where + ": setting names must be text");
    }
    const std::string key =
        prefix.empty() ? entry.first.Scalar() : prefix + "." + entry.first.Scalar();
    const YAML::Node& value = entry.second;
    if (layer.contains(key)) return Invalid(key, "given twice", where);
    if (const SettingDef* def = Find(key)) {
      if (value.IsNull()) continue;  // "key:" without a value keeps the default
      auto values = FromYaml(*def, value, path);
      if (!values.ok()) return values.status();
      layer.emplace(key, Input{std::move(values).value(), where});
    } else if (IsSection(key)) {
      if (value.IsNull()) continue;
      if (!value.IsMap()) return Invalid(key, "expected a mapping of settings", where);
      if (Status status = CollectYaml(value, key, path, layer); !status.ok()) return status;
    } else {
      return Invalid(key, "unknown setting", where);
    }
  }
  return Status::Ok();
}

Result<Layer> ReadConfigFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) {
    return Status::InvalidArgument("config file " + Quote(path) + ": " + text.status().message());
  }
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::ParserException& e) {
    return Status::InvalidArgument("config file " + Quote(path) + ": YAML syntax error at line " +
                                   std::to_string(e.mark.line + 1) + ", column " +
                                   std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  Layer layer;
  if (root.IsNull()) return layer;
  if (!root.IsMap()) {
    return Status::InvalidArgument("config file " + Quote(path) +
                                   ": expected a mapping of settings");
  }
  if (Status status = CollectYaml(root, "", path, layer); !status.ok()) return status;
  return layer;
}

// ---- Environment and flags.

Values FromText(const SettingDef& def, const std::string& text) {
  if (def.codec.shape == Shape::kList || def.codec.shape == Shape::kUsers) return SplitList(text);
  return Values{text};
}

Layer EnvLayer(const std::map<std::string, std::string>& env) {
  Layer layer;
  for (const SettingDef& def : Table()) {
    const std::string name = EnvName(def.key);
    if (const auto it = env.find(name); it != env.end()) {
      layer.emplace(std::string(def.key), Input{FromText(def, it->second), name});
    }
  }
  return layer;
}

// ---- Merging.

Status Apply(const Layer& layer, Draft& draft) {
  for (const auto& [legacy, current] : kSameSetting) {
    const auto a = layer.find(legacy);
    const auto b = layer.find(current);
    if (a != layer.end() && b != layer.end()) {
      return Status::InvalidArgument(std::string(legacy) + " (" + a->second.source + ") and " +
                                     std::string(current) + " (" + b->second.source +
                                     ") are the same setting: give one of them");
    }
  }
  for (const SettingDef& def : Table()) {
    const auto it = layer.find(def.key);
    if (it == layer.end()) continue;
    if (Problem problem = def.codec.parse(it->second.values, draft)) {
      return Invalid(def.key, *problem, it->second.source);
    }
    draft.origin[std::string(def.key)] = it->second.source;
  }
  return Status::Ok();
}

std::string SourceOf(const Draft& draft, std::string_view key) {
  const auto it = draft.origin.find(key);
  return it == draft.origin.end() ? "default" : it->second;
}

// mongodb://user:password@host1,host2/database?connectTimeoutMS=..., from the original's dial_info.
Result<std::string> DialInfoUri(const Draft& d) {
  std::string password;
  if (!d.dial_password_file.empty()) {
    if (d.dial_username.empty()) {
      return Invalid("dial_info.password_file", "needs dial_info.username",
                     SourceOf(d, "dial_info.password_file"));
    }
    auto text = ReadFile(d.dial_password_file);
    if (!text.ok()) {
      return Invalid("dial_info.password_file",
                     "cannot read " + Quote(d.dial_password_file) + ": " + text.status().message(),
                     SourceOf(d, "dial_info.password_file"));
    }
    password = std::string(Trim(*text));
    if (password.empty()) {
      return Invalid("dial_info.password_file", Quote(d.dial_password_file) + " is empty",
                     SourceOf(d, "dial_info.password_file"));
    }
  }
  std::string uri = "mongodb://";
  if (!d.dial_username.empty()) {
    uri += PercentEncode(d.dial_username);
    if (!password.empty()) uri += ":" + PercentEncode(password);
    uri += "@";
  }
  return uri + Join(d.dial_addrs, ",") + "/" + PercentEncode(d.mongodb_database) +
         "?connectTimeoutMS=" + std::to_string(d.dial_timeout.count());
}

Status CheckReadable(const Draft& d, std::string_view key, const std::string& path) {
  if (path.empty()) return Status::Ok();
  auto text = ReadFile(path);
  if (!text.ok()) {
    return Invalid(key, "cannot read " + Quote(path) + ": " + text.status().message(),
                   SourceOf(d, key));
  }
  return Status::Ok();
}

// Rules that involve several settings, applied once every layer is merged.
Status Finish(Draft& d) {
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
                     SourceOf(d, "storage.backend"));
    }
    auto uri = DialInfoUri(d);
    if (!uri.ok()) return uri.status();
    d.mongodb_uri = std::move(uri).value();
  }

  if (d.plain_http) {
    if (!d.tls_client_ca.empty()) {
      return Status::InvalidArgument(
          "server.ssl.client_ca: cannot be used with server.plain_http: true (from " +
          SourceOf(d, "server.ssl.client_ca") + " and " + SourceOf(d, "server.plain_http") + ")");
    }
  } else {
    if (d.tls_cert.empty() != d.tls_key.empty()) {
      const bool has_cert = !d.tls_cert.empty();
      const std::string_view given = has_cert ? "server.ssl.cert" : "server.ssl.cert_key";
      const std::string_view missing = has_cert ? "server.ssl.cert_key" : "server.ssl.cert";
      return Invalid(given, "needs " + std::string(missing) + "; give both or neither",
                     SourceOf(d, given));
    }
    for (const auto& [key, path] :
         {std::pair{"server.ssl.cert", &d.tls_cert}, std::pair{"server.ssl.cert_key", &d.tls_key},
          std::pair{"server.ssl.client_ca", &d.tls_client_ca}}) {
      if (Status status = CheckReadable(d, key, *path); !status.ok()) return status;
    }
  }

  if (d.anonymous() && !d.allow_anonymous && !IsLoopback(d.address)) {
    return Status::InvalidArgument(
        "auth.tokens: no credentials are configured (auth.tokens, auth.basic) and server.address " +
        Quote(d.address) + " (from " + SourceOf(d, "server.address") +
        ") is not a loopback address; configure credentials, or set auth.allow_anonymous: true "
        "to accept anyone");
  }
  return Status::Ok();
}

// Registers the flag of one setting; its text lands in target.
CLI::Option* AddOption(CLI::App& app, const SettingDef& def, const Draft& defaults,
                       std::string& target) {
  std::string help = std::string(def.help) + " [" + EnvName(def.key);
  if (const std::string shown = def.codec.show(defaults); !shown.empty()) {
    help += ", default " + shown;
  }
  help += "]";
  CLI::Option* option = nullptr;
  switch (def.codec.shape) {
    case Shape::kBool:  // bare --server-plain-http means true; --server-plain-http=no works too
      option = app.add_flag(FlagName(def.key), target, help);
      break;
    case Shape::kScalar:
      option = app.add_option(FlagName(def.key), target, help)
                   ->type_name(def.codec.type)
                   ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
      break;
    case Shape::kList:
    case Shape::kUsers:  // repeating the flag adds entries
      option = app.add_option(FlagName(def.key), target, help)
                   ->type_name(def.codec.type)
                   ->multi_option_policy(CLI::MultiOptionPolicy::Join)
                   ->delimiter(',');
      break;
  }
  return option->group(HelpGroup(def.key));
}

Result<LoadOutcome> Load(int argc, const char* const* argv,
                         const std::map<std::string, std::string>& env) {
  CLI::App app{
      "drec collects CNCF Distribution registry notifications into per-repository "
      "statistics.",
      "drec"};
  app.set_version_flag("--version", "drec " DREC_VERSION);
  app.get_formatter()->column_width(36);
  app.footer(
      "Settings come from, in rising precedence: defaults, the YAML config file, DREC_* "
      "environment variables, flags.\nThe key server.ssl.cert_key is the flag "
      "--server-ssl-cert-key and the variable DREC_SERVER_SSL_CERT_KEY.\nLists are "
      "comma-separated in variables and flags: --auth-tokens a,b --auth-basic "
      "user:password,user2:password2.");

  const Draft defaults;
  std::vector<std::string> flag_values(Table().size());
  std::vector<CLI::Option*> options;
  for (std::size_t i = 0; i < Table().size(); ++i) {
    options.push_back(AddOption(app, Table()[i], defaults, flag_values[i]));
  }
  std::string config_positional;
  std::string config_flag;
  app.add_option("config", config_positional, "YAML config file [or --config, DREC_CONFIG]");
  app.add_option("--config", config_flag, "YAML config file [DREC_CONFIG]");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return LoadOutcome{EarlyExit{app.help(), 0}};
  } catch (const CLI::CallForVersion& e) {
    return LoadOutcome{EarlyExit{std::string(e.what()) + "\n", 0}};
  } catch (const CLI::ParseError& e) {
    return Status::InvalidArgument(std::string(e.what()) + " (see drec --help)");
  }

  if (!config_positional.empty() && !config_flag.empty() && config_positional != config_flag) {
    return Status::InvalidArgument("config file given twice: " + Quote(config_positional) +
                                   " and --config " + Quote(config_flag));
  }
  std::string config_path = !config_flag.empty() ? config_flag : config_positional;
  if (const auto it = env.find(std::string(kConfigEnv)); config_path.empty() && it != env.end()) {
    config_path = it->second;
  }

  Draft draft;
  if (!config_path.empty()) {
    auto file = ReadConfigFile(config_path);
    if (!file.ok()) return file.status();
    if (Status status = Apply(*file, draft); !status.ok()) return status;
  }
  if (Status status = Apply(EnvLayer(env), draft); !status.ok()) return status;
  Layer flags;
  for (std::size_t i = 0; i < Table().size(); ++i) {
    if (options[i]->count() == 0) continue;
    const SettingDef& def = Table()[i];
    flags.emplace(std::string(def.key), Input{FromText(def, flag_values[i]), FlagName(def.key)});
  }
  if (Status status = Apply(flags, draft); !status.ok()) return status;
  if (Status status = Finish(draft); !status.ok()) return status;
  return LoadOutcome{Settings(std::move(draft))};
}

}  // namespace

Result<LoadOutcome> LoadSettings(int argc, const char* const* argv,
                                 const std::map<std::string, std::string>& env) {
  try {
    return Load(argc, argv, env);
  } catch (const std::exception& e) {  // yaml-cpp and CLI11 throw; callers get a Status
    return Status::Internal(std::string("loading settings: ") + e.what());
  }
}

}  // namespace drec
