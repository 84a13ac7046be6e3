// The one immutable settings value, built once at start-up from defaults, the
// YAML file, DREC_* environment variables and flags (in rising precedence).
// Nothing else in drec reads the environment or the config file.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace drec {

struct BasicUser {
  std::string user;
  std::string password;
};

enum class OnDelete { kKeep, kRemove };

// One entry of classes.rules as configured (README, "Traffic classes"); app/ turns it into the
// classifier's rule. Every field is checked at start-up: `addr` holds CIDR texts that parse.
struct ClassRuleSetting {
  std::string cls;
  std::vector<std::string> user_agent;
  std::vector<std::string> actor;
  std::vector<std::string> addr;
  std::vector<std::string> source;
  bool operator==(const ClassRuleSetting&) const = default;
};
enum class Backend { kSqlite, kMongodb, kPostgresql };
enum class LogFormat { kText, kJson };

struct Settings {
  // server.*  (the original DREC's keys)
  std::string address = "127.0.0.1";
  std::uint16_t port = 8443;
  std::string route = "/events";
  std::string tls_cert;  // server.ssl.cert; empty: generate a self-signed one for localhost
  std::string tls_key;   // server.ssl.cert_key
  std::string
      tls_client_ca;        // server.ssl.client_ca: require client certificates signed by it (mTLS)
  bool plain_http = false;  // server.plain_http: only behind a TLS-terminating proxy
  std::string generated_cert_dir = "drec-data/tls";             // server.ssl.generated_dir
  std::int64_t max_body_bytes = std::int64_t{4} * 1024 * 1024;  // server.max_body_bytes
  std::chrono::milliseconds read_timeout{30'000};               // server.read_timeout_ms
  std::chrono::milliseconds idle_timeout{60'000};               // server.idle_timeout_ms
  int threads = 0;                                              // server.threads; 0: one per core
  // server.max_connections: more are accepted and closed at once (clamped to the descriptors
  // the process may open)
  std::int64_t max_connections = 1024;
  // server.max_buffered_bytes: request body bytes held at once across connections; beyond: 503
  std::int64_t max_buffered_bytes = std::int64_t{64} * 1024 * 1024;

  // auth.*
  std::vector<std::string> tokens;
  std::vector<BasicUser> basic_users;
  std::string tokens_file;  // auth.tokens_file: more tokens, one a line; its tokens are in `tokens`
  bool allow_anonymous = false;

  // storage.*
  Backend backend = Backend::kSqlite;
  std::string sqlite_path = "drec-data/drec.db";
  std::string mongodb_uri;
  std::string mongodb_database = "drec";
  std::string mongodb_collection = "repositories";
  std::string postgresql_uri;
  std::string postgresql_schema = "drec";  // each registry but the default: <schema>@<registry>

  // retention.policy_file: the policy whose plan GET /api/v1/retention/plan serves (read at
  // each request, so edits apply at once); empty: no plan is served (docs/retention.md)
  std::string retention_policy_file;

  // registries: served besides "default" (model/registry.h), each with a store of its own
  std::vector<std::string> registries;

  // pipeline.*
  std::int64_t queue_capacity = 1024;    // pipeline.queue_capacity: envelopes waiting to commit
  std::int64_t max_batch_events = 4096;  // pipeline.max_batch_events: events per group commit
  std::int64_t retention_days = 7;       // pipeline.retention_days: how long event ids are kept
  // pipeline.commit_timeout_ms: an envelope not committed within it is answered 503 (the commit
  // may still land; the registry's retry is then a duplicate by event id)
  std::chrono::milliseconds commit_timeout{5'000};
  // storage.query_timeout_ms: a query not answered within it (waiting for a worker and running)
  // is answered 503
  std::chrono::milliseconds query_timeout{10'000};
  // storage.check_timeout_ms: /readyz answers 503 when the store check takes longer
  std::chrono::milliseconds check_timeout{500};

  // counting.*
  OnDelete on_delete = OnDelete::kKeep;

  // classes.*  (docs/counting.md#traffic-classes); the bool beside the enum above, unpadded
  bool builtin_class_rules = true;            // classes.builtin_rules: after the operator's rules
  std::string default_class = "other";        // classes.default: when no rule matches
  std::vector<ClassRuleSetting> class_rules;  // classes.rules, first match wins

  // reload.*: how often the files a reload reads are checked for changes (a Kubernetes Secret
  // update, a renewed certificate); SIGHUP reloads at once
  std::chrono::milliseconds reload_watch_interval{10'000};

  // log.*
  std::string log_level = "info";
  LogFormat log_format = LogFormat::kText;

  // The config file the settings were read from ("" when none): a reload reads it again.
  std::string config_file;

  // True when nobody has to authenticate (no credentials configured).
  bool anonymous() const { return tokens.empty() && basic_users.empty(); }
};

}  // namespace drec
