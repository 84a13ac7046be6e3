#include "config/config_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "app/version.h"

namespace drec {
namespace {

namespace fs = std::filesystem;
using Env = std::map<std::string, std::string>;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

Result<LoadOutcome> Invoke(const std::vector<std::string>& args, const Env& env = {}) {
  std::vector<const char*> argv{"drec"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return LoadSettings(static_cast<int>(argv.size()), argv.data(), env);
}

Settings MustLoad(const std::vector<std::string>& args, const Env& env = {}) {
  auto result = Invoke(args, env);
  if (!result.ok()) {
    ADD_FAILURE() << "unexpected error: " << result.status().message();
    return {};
  }
  if (!std::holds_alternative<Settings>(*result)) {
    ADD_FAILURE() << "unexpected early exit";
    return {};
  }
  return std::get<Settings>(*result);
}

std::string ErrorOf(const std::vector<std::string>& args, const Env& env = {}) {
  auto result = Invoke(args, env);
  if (result.ok()) {
    ADD_FAILURE() << "loaded although an error was expected";
    return {};
  }
  EXPECT_EQ(result.status().code(), Status::Code::kInvalidArgument);
  return result.status().message();
}

void ExpectDefaults(const Settings& s) {
  EXPECT_EQ(s.address, "127.0.0.1");
  EXPECT_EQ(s.port, 8443);
  EXPECT_EQ(s.route, "/events");
  EXPECT_EQ(s.tls_cert, "");
  EXPECT_EQ(s.tls_key, "");
  EXPECT_EQ(s.tls_client_ca, "");
  EXPECT_FALSE(s.plain_http);
  EXPECT_EQ(s.generated_cert_dir, "drec-data/tls");
  EXPECT_EQ(s.max_body_bytes, 4 * 1024 * 1024);
  EXPECT_EQ(s.read_timeout, std::chrono::milliseconds(30'000));
  EXPECT_EQ(s.idle_timeout, std::chrono::milliseconds(60'000));
  EXPECT_EQ(s.threads, 0);
  EXPECT_EQ(s.max_connections, 1024);
  EXPECT_EQ(s.max_buffered_bytes, 64 * 1024 * 1024);
  EXPECT_TRUE(s.tokens.empty());
  EXPECT_TRUE(s.basic_users.empty());
  EXPECT_FALSE(s.allow_anonymous);
  EXPECT_EQ(s.backend, Backend::kSqlite);
  EXPECT_EQ(s.sqlite_path, "drec-data/drec.db");
  EXPECT_EQ(s.mongodb_uri, "");
  EXPECT_EQ(s.mongodb_database, "drec");
  EXPECT_EQ(s.mongodb_collection, "repositories");
  EXPECT_EQ(s.queue_capacity, 1024);
  EXPECT_EQ(s.max_batch_events, 4096);
  EXPECT_EQ(s.retention_days, 7);
  EXPECT_EQ(s.commit_timeout, std::chrono::milliseconds(5'000));
  EXPECT_EQ(s.query_timeout, std::chrono::milliseconds(10'000));
  EXPECT_EQ(s.check_timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(s.on_delete, OnDelete::kKeep);
  EXPECT_EQ(s.default_class, "other");
  EXPECT_TRUE(s.builtin_class_rules);
  EXPECT_TRUE(s.class_rules.empty());
  EXPECT_EQ(s.log_level, "info");
  EXPECT_EQ(s.log_format, LogFormat::kText);
}

class ConfigLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("drec-config-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes a file into the test's own directory and returns its path.
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  fs::path dir_;
};

// ---- Defaults and the example file.

TEST_F(ConfigLoaderTest, DefaultsWithoutFileEnvironmentOrFlags) { ExpectDefaults(MustLoad({})); }

TEST_F(ConfigLoaderTest, ExampleConfigParsesToTheDefaults) {
  const fs::path example = fs::path(__FILE__).parent_path() / "../../../config.example.yml";
  ASSERT_TRUE(fs::exists(example)) << example;
  ExpectDefaults(MustLoad({example.string()}));
}

TEST_F(ConfigLoaderTest, EmptyFileAndEmptyValuesKeepDefaults) {
  ExpectDefaults(MustLoad({Write("empty.yml", "# nothing\n")}));
  ExpectDefaults(MustLoad({Write("nulls.yml", "server:\n  port:\n  ssl:\nauth:\n")}));
}

TEST_F(ConfigLoaderTest, UnrelatedDrecVariablesAreIgnored) {
  // Kubernetes adds these for a service named "drec".
  ExpectDefaults(MustLoad({}, {{"DREC_PORT", "tcp://10.0.0.1:8443"},
                               {"DREC_SERVICE_HOST", "10.0.0.1"},
                               {"HOME", "/root"}}));
}

// ---- The original DREC's config.yml.

TEST_F(ConfigLoaderTest, OriginalLayoutMeansMongodb) {
  const std::string cert = Write("domain.crt", "cert");
  const std::string key = Write("domain.key", "key");
  const std::string password = Write("mongo_password.txt", "  pa$$:w/rd \n");
  const std::string config = Write("config.yml", R"(# Configure your server that accepts the events
server:
  address: "0.0.0.0"
  port: 10443
  route: "/hooks/registry"
  ssl:
    cert: )" + cert + R"(
    cert_key: )" + key + R"(

dial_info:
  addrs: ["mongo1:27017", "mongo2"]
  timeout: "30s"
  database: "docker-registry-db"
  username: "stats user"
  password_file: )" + password + R"(

collection: "registry-stats"
)");
  const Settings s = MustLoad({config}, {{"DREC_AUTH_TOKENS", "t1"}});
  EXPECT_EQ(s.address, "0.0.0.0");
  EXPECT_EQ(s.port, 10443);
  EXPECT_EQ(s.route, "/hooks/registry");
  EXPECT_EQ(s.tls_cert, cert);
  EXPECT_EQ(s.tls_key, key);
  EXPECT_EQ(s.backend, Backend::kMongodb);
  EXPECT_EQ(s.mongodb_uri,
            "mongodb://stats%20user:pa%24%24%3Aw%2Frd@mongo1:27017,mongo2/docker-registry-db"
            "?connectTimeoutMS=30000");
  EXPECT_EQ(s.mongodb_database, "docker-registry-db");
  EXPECT_EQ(s.mongodb_collection, "registry-stats");
  EXPECT_EQ(s.tokens, std::vector<std::string>{"t1"});
}

TEST_F(ConfigLoaderTest, OriginalSampleFileIsAcceptedUnchanged) {
  // The original repository's sample config.yml, with its certificate paths made real.
  const std::string cert = Write("domain.crt", "cert");
  const std::string key = Write("domain.key", "key");
  const std::string config = Write("config.yml", R"(# Configure your server that accepts the events
server:
  address: "0.0.0.0"
  port: 8443
  route: "/events"
  ssl:
    cert: )" + cert + R"(
    cert_key: )" + key + R"(


# Essentially all options are described here: https://godoc.org/gopkg.in/mgo.v2#DialInfo
dial_info:
  # The MongoDB hostnames or IPs to connect to.
  addrs: ["your-mongo-host-address"]
  timeout: "30s"
  # Database name that will be used on the MongoDB server.
  database: "docker-registry-db"
  # The username with which to connect to the MongoDB server.
  user: ""
  # Path to the text file with the password in it.
  password_file: ""

# Where to store all statistics
collection: "registry-stats"
)");
  const Settings s = MustLoad({config}, {{"DREC_AUTH_ALLOW_ANONYMOUS", "true"}});
  EXPECT_EQ(s.backend, Backend::kMongodb);
  EXPECT_EQ(s.mongodb_uri,
            "mongodb://your-mongo-host-address/docker-registry-db?connectTimeoutMS=30000");
  EXPECT_EQ(s.mongodb_collection, "registry-stats");
  EXPECT_TRUE(s.allow_anonymous);
}

TEST_F(ConfigLoaderTest, DialInfoUserIsTheUsername) {
  const std::string config = Write("c.yml", "dial_info:\n  addrs: [db]\n  user: admin\n");
  EXPECT_EQ(MustLoad({config}).mongodb_uri, "mongodb://admin@db/drec?connectTimeoutMS=10000");
}

TEST_F(ConfigLoaderTest, DialInfoFromEnvironmentWithDefaults) {
  const Settings s = MustLoad({}, {{"DREC_DIAL_INFO_ADDRS", "a:1, [::1]:27017,b"}});
  EXPECT_EQ(s.backend, Backend::kMongodb);
  EXPECT_EQ(s.mongodb_uri, "mongodb://a:1,[::1]:27017,b/drec?connectTimeoutMS=10000");
  EXPECT_EQ(s.mongodb_database, "drec");
  EXPECT_EQ(s.mongodb_collection, "repositories");
}

TEST_F(ConfigLoaderTest, DialInfoTimeoutIsSecondsOrGoDuration) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"5", "5000"},    {"30s", "30000"}, {"1m30s", "90000"},
      {"1.5s", "1500"}, {"250ms", "250"}, {"1h", "3600000"},
      {"1500us", "2"},  {"0", "10000"},   {"2m0.5s", "120500"}};
  for (const auto& [timeout, millis] : cases) {
    const Settings s =
        MustLoad({}, {{"DREC_DIAL_INFO_ADDRS", "db"}, {"DREC_DIAL_INFO_TIMEOUT", timeout}});
    EXPECT_EQ(s.mongodb_uri, "mongodb://db/drec?connectTimeoutMS=" + millis) << timeout;
  }
  const std::string config = Write("c.yml", "dial_info:\n  addrs: [db]\n  timeout: 7\n");
  EXPECT_EQ(MustLoad({config}).mongodb_uri, "mongodb://db/drec?connectTimeoutMS=7000");
}

TEST_F(ConfigLoaderTest, PasswordFileIsTrimmedAndEncoded) {
  const std::string password = Write("pw", "\n\t s3cr3t@x \r\n");
  const Settings s = MustLoad({}, {{"DREC_DIAL_INFO_ADDRS", "db:27017"},
                                   {"DREC_DIAL_INFO_USERNAME", "u@corp"},
                                   {"DREC_DIAL_INFO_PASSWORD_FILE", password}});
  EXPECT_EQ(s.mongodb_uri, "mongodb://u%40corp:s3cr3t%40x@db:27017/drec?connectTimeoutMS=10000");
}

TEST_F(ConfigLoaderTest, MongodbUriWinsOverDialInfo) {
  const std::string config = Write("c.yml",
                                   "dial_info:\n  addrs: [db]\n  database: stats\n"
                                   "storage:\n  mongodb:\n    uri: mongodb+srv://cluster/x\n");
  const Settings s = MustLoad({config});
  EXPECT_EQ(s.backend, Backend::kMongodb);
  EXPECT_EQ(s.mongodb_uri, "mongodb+srv://cluster/x");
  EXPECT_EQ(s.mongodb_database, "stats");
}

TEST_F(ConfigLoaderTest, ExplicitSqliteBackendIgnoresDialInfo) {
  const std::string config =
      Write("c.yml", "dial_info:\n  addrs: [db]\nstorage:\n  backend: sqlite\n");
  const Settings s = MustLoad({config});
  EXPECT_EQ(s.backend, Backend::kSqlite);
  EXPECT_EQ(s.mongodb_uri, "");
}

TEST_F(ConfigLoaderTest, LegacyAndNewKeysForTheSameSettingFollowPrecedence) {
  const std::string legacy = Write("legacy.yml", "collection: old\n");
  EXPECT_EQ(MustLoad({legacy}, {{"DREC_STORAGE_MONGODB_COLLECTION", "new"}}).mongodb_collection,
            "new");
  const std::string current = Write("new.yml", "storage:\n  mongodb:\n    collection: new\n");
  EXPECT_EQ(MustLoad({current}, {{"DREC_COLLECTION", "old"}}).mongodb_collection, "old");
}

// ---- Precedence: flag > environment > file > default.

TEST_F(ConfigLoaderTest, FlagBeatsEnvironmentBeatsFileBeatsDefault) {
  const std::string config = Write("c.yml", "server:\n  port: 1000\n");
  const Env env = {{"DREC_SERVER_PORT", "2000"}};
  EXPECT_EQ(MustLoad({"--server-port", "3000", config}, env).port, 3000);
  EXPECT_EQ(MustLoad({"--server-port=3000", config}, env).port, 3000);
  EXPECT_EQ(MustLoad({config}, env).port, 2000);
  EXPECT_EQ(MustLoad({config}).port, 1000);
  EXPECT_EQ(MustLoad({}).port, 8443);
}

TEST_F(ConfigLoaderTest, ListsAreReplacedNotMerged) {
  const std::string config = Write("c.yml", "auth:\n  tokens: [a, b]\n");
  EXPECT_EQ(MustLoad({config}).tokens, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(MustLoad({config}, {{"DREC_AUTH_TOKENS", "c"}}).tokens, std::vector<std::string>{"c"});
  EXPECT_EQ(MustLoad({config, "--auth-tokens", "d"}, {{"DREC_AUTH_TOKENS", "c"}}).tokens,
            std::vector<std::string>{"d"});
  EXPECT_TRUE(MustLoad({config}, {{"DREC_AUTH_TOKENS", ""}}).tokens.empty());
}

TEST_F(ConfigLoaderTest, ConfigPathFromPositionalFlagOrEnvironment) {
  const std::string one = Write("one.yml", "server:\n  port: 1001\n");
  const std::string two = Write("two.yml", "server:\n  port: 1002\n");
  EXPECT_EQ(MustLoad({one}).port, 1001);
  EXPECT_EQ(MustLoad({"--config", one}).port, 1001);
  EXPECT_EQ(MustLoad({}, {{"DREC_CONFIG", two}}).port, 1002);
  EXPECT_EQ(MustLoad({one}, {{"DREC_CONFIG", two}}).port, 1001);
  EXPECT_EQ(MustLoad({one, "--config", one}).port, 1001);
  EXPECT_EQ(ErrorOf({one, "--config", two}),
            "config file given twice: \"" + one + "\" and --config \"" + two + "\"");
}

// ---- Every shape of value.

TEST_F(ConfigLoaderTest, EveryNewKeyFromTheFile) {
  const std::string cert = Write("c.pem", "c");
  const std::string key = Write("k.pem", "k");
  const std::string ca = Write("ca.pem", "ca");
  const std::string config = Write("c.yml", R"(server:
  address: "::"
  port: 9443
  route: /registry/events
  ssl:
    cert: )" + cert + R"(
    cert_key: )" + key + R"(
    client_ca: )" + ca + R"(
    generated_dir: /var/lib/drec/tls
  plain_http: no
  max_body_bytes: 1048576
  read_timeout_ms: 5000
  idle_timeout_ms: 7000
  threads: 3
  max_connections: 100
  max_buffered_bytes: 2097152
auth:
  tokens:
    - token-one
    - token-two
  basic:
    - user: registry
      password: "p:a,ss"
    - user: other
      password: 1234
  allow_anonymous: yes
storage:
  backend: mongodb
  sqlite:
    path: /var/lib/drec/drec.db
  mongodb:
    uri: mongodb://db:27017
    database: stats
    collection: repos
pipeline:
  queue_capacity: 10
  max_batch_events: 20
  retention_days: 30
counting:
  on_delete: remove
log:
  level: debug
  format: json
)");
  const Settings s = MustLoad({config});
  EXPECT_EQ(s.address, "::");
  EXPECT_EQ(s.port, 9443);
  EXPECT_EQ(s.route, "/registry/events");
  EXPECT_EQ(s.tls_cert, cert);
  EXPECT_EQ(s.tls_key, key);
  EXPECT_EQ(s.tls_client_ca, ca);
  EXPECT_EQ(s.generated_cert_dir, "/var/lib/drec/tls");
  EXPECT_FALSE(s.plain_http);
  EXPECT_EQ(s.max_body_bytes, 1048576);
  EXPECT_EQ(s.read_timeout, std::chrono::milliseconds(5000));
  EXPECT_EQ(s.idle_timeout, std::chrono::milliseconds(7000));
  EXPECT_EQ(s.threads, 3);
  EXPECT_EQ(s.max_connections, 100);
  EXPECT_EQ(s.max_buffered_bytes, 2097152);
  EXPECT_EQ(s.tokens, (std::vector<std::string>{"token-one", "token-two"}));
  ASSERT_EQ(s.basic_users.size(), 2u);
  EXPECT_EQ(s.basic_users[0].user, "registry");
  EXPECT_EQ(s.basic_users[0].password, "p:a,ss");
  EXPECT_EQ(s.basic_users[1].user, "other");
  EXPECT_EQ(s.basic_users[1].password, "1234");
  EXPECT_TRUE(s.allow_anonymous);
  EXPECT_EQ(s.backend, Backend::kMongodb);
  EXPECT_EQ(s.sqlite_path, "/var/lib/drec/drec.db");
  EXPECT_EQ(s.mongodb_uri, "mongodb://db:27017");
  EXPECT_EQ(s.mongodb_database, "stats");
  EXPECT_EQ(s.mongodb_collection, "repos");
  EXPECT_EQ(s.queue_capacity, 10);
  EXPECT_EQ(s.max_batch_events, 20);
  EXPECT_EQ(s.retention_days, 30);
  EXPECT_EQ(s.on_delete, OnDelete::kRemove);
  EXPECT_EQ(s.log_level, "debug");
  EXPECT_EQ(s.log_format, LogFormat::kJson);
}

TEST_F(ConfigLoaderTest, ListsFromTheEnvironment) {
  const Settings s = MustLoad(
      {}, {{"DREC_AUTH_TOKENS", " t1, t2 ,t3"}, {"DREC_AUTH_BASIC", "alice:pw1, bob:p:w"}});
  EXPECT_EQ(s.tokens, (std::vector<std::string>{"t1", "t2", "t3"}));
  ASSERT_EQ(s.basic_users.size(), 2u);
  EXPECT_EQ(s.basic_users[0].user, "alice");
  EXPECT_EQ(s.basic_users[0].password, "pw1");
  EXPECT_EQ(s.basic_users[1].user, "bob");
  EXPECT_EQ(s.basic_users[1].password, "p:w");
}

TEST_F(ConfigLoaderTest, ListsFromRepeatedFlags) {
  const Settings s =
      MustLoad({"--auth-tokens", "a,b", "--auth-tokens", "c", "--auth-basic", "u:p"});
  EXPECT_EQ(s.tokens, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(s.basic_users.size(), 1u);
  EXPECT_EQ(s.basic_users[0].user, "u");
  EXPECT_EQ(s.basic_users[0].password, "p");
}

// A list flag's text is split and checked by the setting, as a variable's is: an empty entry
// names the setting and the flag, and the next argument stays what it was.
TEST_F(ConfigLoaderTest, AnEmptyListEntryInAFlagNamesTheSetting) {
  const std::string file = Write("c.yml", "server:\n  port: 9000\n");
  EXPECT_EQ(ErrorOf({"--auth-tokens", ",", file}),
            "auth.tokens: entry 1 is empty (from --auth-tokens)");
  EXPECT_EQ(ErrorOf({"--auth-tokens", "a,,b"}),
            "auth.tokens: entry 2 is empty (from --auth-tokens)");
  EXPECT_EQ(ErrorOf({"--auth-tokens", ","}, {{"DREC_AUTH_TOKENS", "ok"}}),
            "auth.tokens: entry 1 is empty (from --auth-tokens)");
}

TEST_F(ConfigLoaderTest, ListKeysAcceptACommaSeparatedScalarInTheFile) {
  const std::string config = Write("c.yml", "auth:\n  tokens: a, b\n");
  EXPECT_EQ(MustLoad({config}).tokens, (std::vector<std::string>{"a", "b"}));
}

TEST_F(ConfigLoaderTest, BooleanSpellings) {
  for (const std::string yes : {"true", "yes", "1", "TRUE", "Yes"}) {
    EXPECT_TRUE(MustLoad({}, {{"DREC_SERVER_PLAIN_HTTP", yes}}).plain_http) << yes;
  }
  for (const std::string no : {"false", "no", "0", "False"}) {
    EXPECT_FALSE(MustLoad({}, {{"DREC_SERVER_PLAIN_HTTP", no}}).plain_http) << no;
  }
  EXPECT_TRUE(MustLoad({"--server-plain-http"}).plain_http);
  EXPECT_FALSE(
      MustLoad({"--server-plain-http=no"}, {{"DREC_SERVER_PLAIN_HTTP", "yes"}}).plain_http);
}

TEST_F(ConfigLoaderTest, ChoicesIgnoreCase) {
  const Settings s = MustLoad({}, {{"DREC_LOG_LEVEL", "WARN"},
                                   {"DREC_LOG_FORMAT", "Json"},
                                   {"DREC_COUNTING_ON_DELETE", "Remove"},
                                   {"DREC_STORAGE_BACKEND", "MongoDB"},
                                   {"DREC_STORAGE_MONGODB_URI", "mongodb://db"}});
  EXPECT_EQ(s.log_level, "warn");
  EXPECT_EQ(s.log_format, LogFormat::kJson);
  EXPECT_EQ(s.on_delete, OnDelete::kRemove);
  EXPECT_EQ(s.backend, Backend::kMongodb);
}

// ---- --help and --version.

TEST_F(ConfigLoaderTest, HelpListsEverySettingAsFlagAndVariable) {
  auto result = Invoke({"--help"});
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_TRUE(std::holds_alternative<EarlyExit>(*result));
  const EarlyExit& exit = std::get<EarlyExit>(*result);
  EXPECT_EQ(exit.exit_code, 0);
  EXPECT_THAT(exit.text, HasSubstr("Usage: drec [OPTIONS] [config]"));
  EXPECT_THAT(exit.text, HasSubstr("--server-ssl-cert-key"));
  EXPECT_THAT(exit.text, HasSubstr("DREC_SERVER_SSL_CERT_KEY"));
  EXPECT_THAT(exit.text, HasSubstr("--dial-info-password-file"));
  EXPECT_THAT(exit.text, HasSubstr("[DREC_SERVER_PORT, default 8443]"));
}

TEST_F(ConfigLoaderTest, HelpWinsOverAWrongSetting) {
  auto result = Invoke({"--help"}, {{"DREC_SERVER_PORT", "abc"}});
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_TRUE(std::holds_alternative<EarlyExit>(*result));
}

TEST_F(ConfigLoaderTest, VersionPrintsTheVersion) {
  auto result = Invoke({"--version"});
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_TRUE(std::holds_alternative<EarlyExit>(*result));
  EXPECT_EQ(std::get<EarlyExit>(*result).text, std::string("drec ") + DREC_VERSION + "\n");
  EXPECT_EQ(std::get<EarlyExit>(*result).exit_code, 0);
}

// ---- Errors name the setting and where its value came from.

TEST_F(ConfigLoaderTest, BadPortNamesKeyAndSource) {
  EXPECT_EQ(ErrorOf({}, {{"DREC_SERVER_PORT", "abc"}}),
            "server.port: \"abc\" is not a port number (from DREC_SERVER_PORT)");
  EXPECT_EQ(ErrorOf({"--server-port", "0"}),
            "server.port: \"0\" is not a port number: ports are 1 to 65535 (from --server-port)");
  const std::string config = Write("c.yml", "server:\n  address: 127.0.0.1\n  port: 70000\n");
  EXPECT_EQ(
      ErrorOf({config}),
      "server.port: \"70000\" is not a port number: ports are 1 to 65535 (from " + config + ":3)");
  EXPECT_EQ(ErrorOf({}, {{"DREC_SERVER_PORT", ""}}),
            "server.port: \"\" is not a port number (from DREC_SERVER_PORT)");
}

TEST_F(ConfigLoaderTest, UnknownKeysInTheFileAreErrors) {
  const std::string top = Write("top.yml", "sever:\n  port: 1\n");
  EXPECT_EQ(ErrorOf({top}), "sever: unknown setting (from " + top + ":1)");
  const std::string nested =
      Write("nested.yml", "server:\n  ssl:\n    cert: \"\"\n    certkey: x\n");
  EXPECT_EQ(ErrorOf({nested}), "server.ssl.certkey: unknown setting (from " + nested + ":4)");
  const std::string user = Write("user.yml", "auth:\n  basic:\n    - user: a\n      pass: b\n");
  EXPECT_EQ(ErrorOf({user}), "auth.basic[0].pass: unknown setting (from " + user + ":4)");
}

TEST_F(ConfigLoaderTest, MalformedFileStructure) {
  const std::string twice = Write("twice.yml", "server:\n  port: 1\n  port: 2\n");
  EXPECT_EQ(ErrorOf({twice}), "server.port: given twice (from " + twice + ":3)");
  const std::string section = Write("section.yml", "server: 8443\n");
  EXPECT_EQ(ErrorOf({section}), "server: expected a mapping of settings (from " + section + ":1)");
  const std::string list = Write("list.yml", "server:\n  port: [1, 2]\n");
  EXPECT_EQ(ErrorOf({list}), "server.port: expected a single value (from " + list + ":2)");
  const std::string map = Write("map.yml", "auth:\n  tokens: {a: b}\n");
  EXPECT_EQ(ErrorOf({map}), "auth.tokens: expected a list (from " + map + ":2)");
  const std::string users = Write("users.yml", "auth:\n  basic:\n    - user: a\n");
  EXPECT_EQ(ErrorOf({users}), "auth.basic[0]: needs user and password (from " + users + ":3)");
  const std::string colon =
      Write("colon.yml", "auth:\n  basic:\n    - user: \"a:b\"\n      password: c\n");
  EXPECT_EQ(ErrorOf({colon}), "auth.basic[0].user: must not contain ':' (from " + colon + ":3)");
  const std::string top = Write("top.yml", "- a\n- b\n");
  EXPECT_EQ(ErrorOf({top}), "config file \"" + top + "\": expected a mapping of settings");
}

TEST_F(ConfigLoaderTest, MissingConfigFileNamesThePath) {
  const std::string path = (dir_ / "missing.yml").string();
  EXPECT_EQ(ErrorOf({path}), "config file \"" + path + "\": No such file or directory");
  EXPECT_EQ(ErrorOf({dir_.string()}), "config file \"" + dir_.string() + "\": is a directory");
}

TEST_F(ConfigLoaderTest, YamlSyntaxErrorNamesTheLine) {
  const std::string config = Write("c.yml", "server:\n  port: 1\n  route: [/a, /b\n");
  EXPECT_THAT(ErrorOf({config}),
              StartsWith("config file \"" + config + "\": YAML syntax error at line 4"));
}

TEST_F(ConfigLoaderTest, WrongValuesOfEveryKind) {
  const std::vector<std::pair<Env, std::string>> cases = {
      {{{"DREC_SERVER_PLAIN_HTTP", "maybe"}},
       "server.plain_http: \"maybe\" is not a boolean (true/false, yes/no, 1/0) "
       "(from DREC_SERVER_PLAIN_HTTP)"},
      {{{"DREC_COUNTING_ON_DELETE", "purge"}},
       "counting.on_delete: \"purge\" is not one of keep, remove (from DREC_COUNTING_ON_DELETE)"},
      {{{"DREC_LOG_LEVEL", "verbose"}},
       "log.level: \"verbose\" is not one of trace, debug, info, warn, error (from "
       "DREC_LOG_LEVEL)"},
      {{{"DREC_LOG_FORMAT", "xml"}},
       "log.format: \"xml\" is not one of text, json (from DREC_LOG_FORMAT)"},
      {{{"DREC_PIPELINE_COMMIT_TIMEOUT_MS", "0"}},
       "pipeline.commit_timeout_ms: \"0\" is not a positive number of milliseconds (from "
       "DREC_PIPELINE_COMMIT_TIMEOUT_MS)"},
      {{{"DREC_STORAGE_CHECK_TIMEOUT_MS", "fast"}},
       "storage.check_timeout_ms: \"fast\" is not a positive number of milliseconds (from "
       "DREC_STORAGE_CHECK_TIMEOUT_MS)"},
      {{{"DREC_STORAGE_BACKEND", "postgres"}},
       "storage.backend: \"postgres\" is not one of sqlite, mongodb, postgresql (from "
       "DREC_STORAGE_BACKEND)"},
      {{{"DREC_PIPELINE_QUEUE_CAPACITY", "0"}},
       "pipeline.queue_capacity: \"0\" is not a positive whole number (from "
       "DREC_PIPELINE_QUEUE_CAPACITY)"},
      {{{"DREC_PIPELINE_MAX_BATCH_EVENTS", "-5"}},
       "pipeline.max_batch_events: \"-5\" is not a positive whole number (from "
       "DREC_PIPELINE_MAX_BATCH_EVENTS)"},
      {{{"DREC_PIPELINE_RETENTION_DAYS", "7d"}},
       "pipeline.retention_days: \"7d\" is not a positive whole number (from "
       "DREC_PIPELINE_RETENTION_DAYS)"},
      {{{"DREC_SERVER_MAX_BODY_BYTES", "4MiB"}},
       "server.max_body_bytes: \"4MiB\" is not a positive whole number (from "
       "DREC_SERVER_MAX_BODY_BYTES)"},
      {{{"DREC_SERVER_READ_TIMEOUT_MS", "-1"}},
       "server.read_timeout_ms: \"-1\" is not a positive number of milliseconds (from "
       "DREC_SERVER_READ_TIMEOUT_MS)"},
      {{{"DREC_SERVER_IDLE_TIMEOUT_MS", "0"}},
       "server.idle_timeout_ms: \"0\" is not a positive number of milliseconds (from "
       "DREC_SERVER_IDLE_TIMEOUT_MS)"},
      {{{"DREC_SERVER_MAX_CONNECTIONS", "0"}},
       "server.max_connections: \"0\" is not a positive whole number (from "
       "DREC_SERVER_MAX_CONNECTIONS)"},
      {{{"DREC_SERVER_MAX_BUFFERED_BYTES", "1000"}},
       "server.max_buffered_bytes: must be at least server.max_body_bytes (4194304) (from "
       "DREC_SERVER_MAX_BUFFERED_BYTES)"},
      {{{"DREC_SERVER_THREADS", "5000"}},
       "server.threads: \"5000\" is not a whole number from 0 to 1024 (from DREC_SERVER_THREADS)"},
      {{{"DREC_SERVER_ROUTE", "events"}},
       "server.route: \"events\" is not a path starting with / (from DREC_SERVER_ROUTE)"},
      {{{"DREC_SERVER_ADDRESS", ""}},
       "server.address: must not be empty (from DREC_SERVER_ADDRESS)"},
      {{{"DREC_SERVER_SSL_GENERATED_DIR", ""}},
       "server.ssl.generated_dir: must not be empty (from DREC_SERVER_SSL_GENERATED_DIR)"},
      {{{"DREC_STORAGE_SQLITE_PATH", ""}},
       "storage.sqlite.path: must not be empty (from DREC_STORAGE_SQLITE_PATH)"},
      {{{"DREC_STORAGE_MONGODB_URI", "http://db"}},
       "storage.mongodb.uri: does not start with mongodb:// or mongodb+srv:// (from "
       "DREC_STORAGE_MONGODB_URI)"},
      {{{"DREC_STORAGE_MONGODB_DATABASE", "a.b"}},
       "storage.mongodb.database: \"a.b\" is not a MongoDB database name (from "
       "DREC_STORAGE_MONGODB_DATABASE)"},
      {{{"DREC_DIAL_INFO_DATABASE", ""}},
       "dial_info.database: \"\" is not a MongoDB database name (from DREC_DIAL_INFO_DATABASE)"},
      {{{"DREC_COLLECTION", "a$b"}},
       "collection: \"a$b\" is not a MongoDB collection name (from DREC_COLLECTION)"},
      {{{"DREC_DIAL_INFO_TIMEOUT", "soon"}},
       "dial_info.timeout: \"soon\" is not a number of seconds or a duration like \"10s\" (from "
       "DREC_DIAL_INFO_TIMEOUT)"},
      {{{"DREC_DIAL_INFO_TIMEOUT", "-3"}},
       "dial_info.timeout: \"-3\" is not a number of seconds or a duration like \"10s\" (from "
       "DREC_DIAL_INFO_TIMEOUT)"},
      {{{"DREC_DIAL_INFO_TIMEOUT", "5x"}},
       "dial_info.timeout: \"5x\" is not a number of seconds or a duration like \"10s\" (from "
       "DREC_DIAL_INFO_TIMEOUT)"},
      {{{"DREC_DIAL_INFO_ADDRS", "db:99999"}},
       "dial_info.addrs: \"db:99999\" is not host or host:port (from DREC_DIAL_INFO_ADDRS)"},
      {{{"DREC_DIAL_INFO_ADDRS", "::1"}},
       "dial_info.addrs: \"::1\" is not host or host:port (from DREC_DIAL_INFO_ADDRS)"},
      {{{"DREC_DIAL_INFO_ADDRS", "a,,b"}},
       "dial_info.addrs: entry 2 is empty (from DREC_DIAL_INFO_ADDRS)"},
      {{{"DREC_AUTH_TOKENS", "a,,b"}}, "auth.tokens: entry 2 is empty (from DREC_AUTH_TOKENS)"},
      {{{"DREC_AUTH_BASIC", "alice"}},
       "auth.basic: entry 1 is not user:password (from DREC_AUTH_BASIC)"},
      {{{"DREC_AUTH_BASIC", "a:b,:pw"}},
       "auth.basic: entry 2 has an empty user name (from DREC_AUTH_BASIC)"},
      {{{"DREC_AUTH_BASIC", "alice:"}},
       "auth.basic: entry 1 (\"alice\") has no password (from DREC_AUTH_BASIC)"},
      {{{"DREC_AUTH_BASIC", "alice:x,alice:y"}},
       "auth.basic: user \"alice\" is listed twice (from DREC_AUTH_BASIC)"},
  };
  for (const auto& [env, message] : cases) {
    EXPECT_EQ(ErrorOf({}, env), message);
  }
}

TEST_F(ConfigLoaderTest, RegistriesAreNamesFromEverySource) {
  const std::string config = Write("r.yml", "registries: [hub, mirror-2]\n");
  EXPECT_EQ(MustLoad({config}).registries, (std::vector<std::string>{"hub", "mirror-2"}));
  EXPECT_EQ(MustLoad({"--registries", "a.b,c_d"}).registries,
            (std::vector<std::string>{"a.b", "c_d"}));
  EXPECT_EQ(MustLoad({}, {{"DREC_REGISTRIES", "x"}}).registries, std::vector<std::string>{"x"});
  EXPECT_TRUE(MustLoad({}).registries.empty());
  EXPECT_EQ(ErrorOf({"--registries", "hub,Mirror"}),
            "registries: \"Mirror\" is not a registry name (lowercase letters, digits, '.', '_' "
            "and '-', starting with a letter or digit, at most 63 characters) (from --registries)");
  EXPECT_NE(ErrorOf({"--registries", "a/b"}).find("registries: \"a/b\""), std::string::npos);
  EXPECT_NE(ErrorOf({"--registries", "-x"}).find("registries: \"-x\""), std::string::npos);
}

TEST_F(ConfigLoaderTest, CertificateAndKeyGoTogether) {
  const std::string cert = Write("c.pem", "c");
  EXPECT_EQ(ErrorOf({"--server-ssl-cert", cert}),
            "server.ssl.cert: needs server.ssl.cert_key; give both or neither (from "
            "--server-ssl-cert)");
  EXPECT_EQ(ErrorOf({}, {{"DREC_SERVER_SSL_CERT_KEY", cert}}),
            "server.ssl.cert_key: needs server.ssl.cert; give both or neither (from "
            "DREC_SERVER_SSL_CERT_KEY)");
  const std::string missing = (dir_ / "missing.pem").string();
  EXPECT_EQ(ErrorOf({"--server-ssl-cert", cert, "--server-ssl-cert-key", missing}),
            "server.ssl.cert_key: cannot read \"" + missing +
                "\": No such file or directory (from --server-ssl-cert-key)");
  EXPECT_EQ(ErrorOf({"--server-ssl-client-ca", missing}),
            "server.ssl.client_ca: cannot read \"" + missing +
                "\": No such file or directory (from --server-ssl-client-ca)");
}

TEST_F(ConfigLoaderTest, PlainHttpIgnoresCertificatesButRefusesClientCa) {
  const Settings s = MustLoad({"--server-plain-http", "--server-ssl-cert", "/nonexistent"});
  EXPECT_TRUE(s.plain_http);
  EXPECT_EQ(s.tls_cert, "/nonexistent");
  const std::string ca = Write("ca.pem", "ca");
  EXPECT_EQ(ErrorOf({"--server-ssl-client-ca", ca}, {{"DREC_SERVER_PLAIN_HTTP", "true"}}),
            "server.ssl.client_ca: cannot be used with server.plain_http: true (from "
            "--server-ssl-client-ca and DREC_SERVER_PLAIN_HTTP)");
}

TEST_F(ConfigLoaderTest, MongodbNeedsAConnection) {
  EXPECT_EQ(ErrorOf({}, {{"DREC_STORAGE_BACKEND", "mongodb"}}),
            "storage.backend: mongodb needs storage.mongodb.uri or dial_info.addrs (from "
            "DREC_STORAGE_BACKEND)");
  const std::string config = Write("c.yml", "dial_info:\n  database: stats\n");
  EXPECT_EQ(ErrorOf({config}),
            "storage.backend: mongodb needs storage.mongodb.uri or dial_info.addrs (from "
            "dial_info.database at " +
                config + ":2)");
}

TEST_F(ConfigLoaderTest, PostgresqlNeedsAUriAndSchemaNamesPostgresqlKeepsWhole) {
  EXPECT_EQ(ErrorOf({"--storage-backend", "postgresql"}),
            "storage.postgresql.uri: is needed with storage.backend postgresql (from "
            "--storage-backend)");
  EXPECT_EQ(ErrorOf({"--storage-postgresql-uri", "mysql://db/x"}),
            "storage.postgresql.uri: does not start with postgresql:// or postgres:// (from "
            "--storage-postgresql-uri)");
  EXPECT_EQ(ErrorOf({"--storage-postgresql-schema", "pg_drec"}),
            "storage.postgresql.schema: \"pg_drec\" is not a PostgreSQL schema name drec can use "
            "(1 to 63 bytes, not starting with pg_) (from --storage-postgresql-schema)");
  const std::string long_registry(60, 'r');
  EXPECT_EQ(ErrorOf({"--storage-backend", "postgresql", "--storage-postgresql-uri",
                     "postgresql://db/drec", "--registries", "hub," + long_registry}),
            "registries: \"" + long_registry + "\" makes the schema name \"drec@" + long_registry +
                "\" longer than 63 bytes; shorten it or storage.postgresql.schema (from "
                "--registries)");
  const Settings s = MustLoad({"--storage-backend", "postgresql", "--storage-postgresql-uri",
                               "postgresql://a:5432,b:5432/drec?target_session_attrs=read-write",
                               "--storage-postgresql-schema", "stats"});
  EXPECT_EQ(s.backend, Backend::kPostgresql);
  EXPECT_EQ(s.postgresql_uri, "postgresql://a:5432,b:5432/drec?target_session_attrs=read-write");
  EXPECT_EQ(s.postgresql_schema, "stats");
}

TEST_F(ConfigLoaderTest, PasswordFileErrors) {
  const std::string missing = (dir_ / "missing").string();
  EXPECT_EQ(ErrorOf({}, {{"DREC_DIAL_INFO_ADDRS", "db"},
                         {"DREC_DIAL_INFO_USERNAME", "u"},
                         {"DREC_DIAL_INFO_PASSWORD_FILE", missing}}),
            "dial_info.password_file: cannot read \"" + missing +
                "\": No such file or directory (from DREC_DIAL_INFO_PASSWORD_FILE)");
  const std::string blank = Write("blank", " \n");
  EXPECT_EQ(ErrorOf({"--dial-info-password-file", blank},
                    {{"DREC_DIAL_INFO_ADDRS", "db"}, {"DREC_DIAL_INFO_USERNAME", "u"}}),
            "dial_info.password_file: \"" + blank + "\" is empty (from --dial-info-password-file)");
  const std::string password = Write("pw", "secret");
  EXPECT_EQ(ErrorOf({"--dial-info-password-file", password}, {{"DREC_DIAL_INFO_ADDRS", "db"}}),
            "dial_info.password_file: needs dial_info.username (from --dial-info-password-file)");
}

TEST_F(ConfigLoaderTest, SameSettingTwiceInOneSource) {
  const std::string config =
      Write("c.yml", "collection: a\nstorage:\n  mongodb:\n    collection: b\n");
  EXPECT_EQ(ErrorOf({config}), "collection (" + config + ":1) and storage.mongodb.collection (" +
                                   config + ":4) are the same setting: give one of them");
  EXPECT_EQ(ErrorOf({}, {{"DREC_DIAL_INFO_USER", "a"}, {"DREC_DIAL_INFO_USERNAME", "b"}}),
            "dial_info.user (DREC_DIAL_INFO_USER) and dial_info.username "
            "(DREC_DIAL_INFO_USERNAME) are the same setting: give one of them");
}

TEST_F(ConfigLoaderTest, CommandLineMistakes) {
  EXPECT_THAT(ErrorOf({"--bogus"}), HasSubstr("--bogus"));
  EXPECT_THAT(ErrorOf({"--server-port"}), HasSubstr("--server-port"));
  EXPECT_THAT(ErrorOf({"a.yml", "b.yml"}), HasSubstr("b.yml"));
}

// ---- Anonymous access (README, "Pointing a registry at drec").

TEST_F(ConfigLoaderTest, AnonymousOnlyOnLoopbackUnlessAllowed) {
  EXPECT_EQ(ErrorOf({"--server-address", "0.0.0.0"}),
            "auth.tokens: no credentials are configured (auth.tokens, auth.basic) and "
            "server.address \"0.0.0.0\" (from --server-address) is not a loopback address; "
            "configure credentials, or set auth.allow_anonymous: true to accept anyone");
  for (const std::string address : {"::", "10.0.0.1", "128.0.0.1", "drec.example.com"}) {
    EXPECT_THAT(ErrorOf({}, {{"DREC_SERVER_ADDRESS", address}}), HasSubstr("auth.allow_anonymous"))
        << address;
  }
  for (const std::string address :
       {"127.0.0.1", "127.3.4.5", "::1", "[::1]", "localhost", "LocalHost", "::ffff:127.0.0.1"}) {
    EXPECT_EQ(MustLoad({}, {{"DREC_SERVER_ADDRESS", address}}).address, address);
  }
  EXPECT_TRUE(MustLoad({"--server-address", "0.0.0.0", "--auth-allow-anonymous"}).allow_anonymous);
  EXPECT_FALSE(MustLoad({"--server-address", "0.0.0.0", "--auth-tokens", "t"}).anonymous());
  EXPECT_FALSE(MustLoad({"--server-address", "0.0.0.0", "--auth-basic", "u:p"}).anonymous());
}

// ---- Tokens from a file, and --check-config.

TEST_F(ConfigLoaderTest, TokensFileAddsToTheTokensOneALine) {
  const std::string file = Write("tokens", "# rotated monthly\n  first  \n\nsecond\n#third\n");
  const Settings s = MustLoad({"--auth-tokens", "flag-token", "--auth-tokens-file", file});
  EXPECT_EQ(s.tokens, (std::vector<std::string>{"flag-token", "first", "second"}));
  EXPECT_EQ(s.tokens_file, file);
  // A file of tokens is credentials enough to listen on every interface.
  EXPECT_FALSE(
      MustLoad({"--server-address", "0.0.0.0"}, {{"DREC_AUTH_TOKENS_FILE", file}}).anonymous());
  EXPECT_THAT(ErrorOf({"--auth-tokens-file", (dir_ / "missing").string()}),
              StartsWith("auth.tokens_file: cannot read "));
}

TEST_F(ConfigLoaderTest, TheConfigFileIsRememberedForAReload) {
  const std::string file = Write("drec.yml", "reload:\n  watch_interval_ms: 250\n");
  const Settings s = MustLoad({file});
  EXPECT_EQ(s.config_file, file);
  EXPECT_EQ(s.reload_watch_interval, std::chrono::milliseconds(250));
  EXPECT_EQ(MustLoad({}).config_file, "");
}

TEST_F(ConfigLoaderTest, CheckConfigPrintsTheSettingsInForceWithoutSecrets) {
  const std::string file = Write("drec.yml",
                                 "auth:\n  tokens: [tok-secret]\n  basic:\n"
                                 "    - {user: ops, password: pw-secret}\n"
                                 "storage:\n  backend: postgresql\n  postgresql:\n"
                                 "    uri: postgresql://drec:pg-secret@db:5432/drec\n");
  auto result = Invoke({"--check-config", file}, {{"DREC_SERVER_PORT", "9443"}});
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_TRUE(std::holds_alternative<EarlyExit>(*result));
  const EarlyExit& exit = std::get<EarlyExit>(*result);
  EXPECT_EQ(exit.exit_code, 0);
  EXPECT_THAT(exit.text, HasSubstr("the configuration is valid"));
  EXPECT_THAT(exit.text, HasSubstr("\nserver.port: 9443  # DREC_SERVER_PORT\n"));
  EXPECT_THAT(exit.text, HasSubstr("\nauth.tokens: <redacted>  # " + file + ":2\n"));
  EXPECT_THAT(exit.text, HasSubstr("\nauth.basic: ops  # "));
  EXPECT_THAT(exit.text, HasSubstr("\nstorage.postgresql.uri: postgresql://drec:***@db:5432/drec"));
  EXPECT_THAT(exit.text, HasSubstr("\nserver.address: 127.0.0.1  # default\n"));
  for (const char* secret : {"tok-secret", "pw-secret", "pg-secret"}) {
    EXPECT_THAT(exit.text, Not(HasSubstr(secret)));
  }
  // A wrong configuration is the usual error, which main turns into exit code 2.
  EXPECT_THAT(ErrorOf({"--check-config", "--server-port", "0"}), StartsWith("server.port: "));
}

// ---- Traffic classes.

TEST_F(ConfigLoaderTest, ClassRulesFromTheFile) {
  const std::string config = Write("classes.yml", R"(classes:
  default: misc
  builtin_rules: false
  rules:
    - class: production
      useragent: [containerd/, cri-o/]
      addr: [10.1.0.0/16, "fd00::/8"]
    - class: ci
      actor: "robot$*"
      source: registry-ci:*
)");
  const Settings s = MustLoad({config});
  EXPECT_EQ(s.default_class, "misc");
  EXPECT_FALSE(s.builtin_class_rules);
  ASSERT_EQ(s.class_rules.size(), 2u);
  EXPECT_EQ(s.class_rules[0],
            (ClassRuleSetting{
                "production", {"containerd/", "cri-o/"}, {}, {"10.1.0.0/16", "fd00::/8"}, {}}));
  EXPECT_EQ(s.class_rules[1], (ClassRuleSetting{"ci", {}, {"robot$*"}, {}, {"registry-ci:*"}}));
}

TEST_F(ConfigLoaderTest, ClassRulesInTheirCompactFormFromVariablesAndFlags) {
  const std::string rules = "0.class=nodes,0.addr=10.0.0.0/8,1.class=ci,1.useragent=kaniko";
  for (const Settings& s : {MustLoad({}, {{"DREC_CLASSES_RULES", rules}}),
                            MustLoad({"--classes-rules", rules, "--classes-default", "rest"})}) {
    ASSERT_EQ(s.class_rules.size(), 2u);
    EXPECT_EQ(s.class_rules[0], (ClassRuleSetting{"nodes", {}, {}, {"10.0.0.0/8"}, {}}));
    EXPECT_EQ(s.class_rules[1], (ClassRuleSetting{"ci", {"kaniko"}, {}, {}, {}}));
  }
  EXPECT_EQ(ErrorOf({}, {{"DREC_CLASSES_RULES", "ci:kaniko"}}),
            "classes.rules: \"ci:kaniko\" is not <index>.<field>=<value>, e.g. 0.class=ci (from "
            "DREC_CLASSES_RULES)");
}

TEST_F(ConfigLoaderTest, AWrongClassRuleNamesItsField) {
  const auto error = [&](const std::string& rules) {
    return ErrorOf({Write("rules.yml", "classes:\n  rules:\n" + rules)});
  };
  const std::string where = " (from " + (dir_ / "rules.yml").string();
  EXPECT_EQ(error("    - class: ci\n      addr: 10.0.0.0/33\n"),
            "classes.rules[0].addr: \"10.0.0.0/33\" is not an IP address range like 10.0.0.0/8" +
                where + ":2)");
  EXPECT_EQ(error("    - class: ci\n      useragent: x\n    - class: CI!\n      useragent: y\n"),
            "classes.rules[1].class: \"CI!\" is not a class name ([a-z0-9][a-z0-9_-]{0,31})" +
                where + ":2)");
  EXPECT_EQ(error("    - class: ci\n"),
            "classes.rules[0]: the rule sets none of useragent, actor, addr, source; it would "
            "match every event" +
                where + ":2)");
  EXPECT_EQ(error("    - class: ci\n      agent: kaniko\n"),
            "classes.rules[0].agent: unknown setting" + where + ":4)");
  EXPECT_EQ(error("    - useragent: kaniko\n"), "classes.rules[0].class: missing" + where + ":3)");
  EXPECT_EQ(error("    - class: ci\n      useragent: [\"\"]\n"),
            "classes.rules[0].useragent: an entry is empty" + where + ":2)");
  EXPECT_EQ(ErrorOf({"--classes-default", "Other"}),
            "classes.default: \"Other\" is not a class name ([a-z0-9][a-z0-9_-]{0,31}) (from "
            "--classes-default)");
}

}  // namespace
}  // namespace drec
