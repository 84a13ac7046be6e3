#include "config/setting_table.h"

#include "config/legacy_dial_info.h"

namespace drec::config {

// Adding a setting is one row here (and a field in settings.h).
const std::vector<SettingDef>& Table() {
  static const std::vector<SettingDef> table = [] {
    std::vector<SettingDef> rows = {
        {"server.address", "Address to listen on (0.0.0.0 or :: for every interface)",
         Text(&Draft::address, NonEmpty)},
        {"server.port", "TCP port to listen on", Port(&Draft::port)},
        {"server.route", "Path the registry POSTs its notifications to",
         Text(&Draft::route, Route)},
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
        {"server.max_connections",
         "Most connections open at once; more are closed at once (at most the open-files limit "
         "less a reserve)",
         Positive(&Draft::max_connections)},
        {"server.max_buffered_bytes",
         "Most request body bytes held at once over all connections; beyond: 503 before the body "
         "is read",
         Positive(&Draft::max_buffered_bytes)},
        {"auth.tokens", "Accepted bearer tokens (several during a rotation)", List(&Draft::tokens),
         Secrecy::kWhole},
        {"auth.tokens_file",
         "File of more accepted bearer tokens, one a line (# starts a comment); reloaded when it "
         "changes",
         Text(&Draft::tokens_file)},
        {"auth.basic", "Accepted basic-auth users", Users(&Draft::basic_users)},
        {"auth.allow_anonymous", "Accept requests without credentials on a non-loopback address",
         Bool(&Draft::allow_anonymous)},
        {"storage.backend", "Where statistics are stored",
         Choice<Backend>(&Draft::backend, {{"sqlite", Backend::kSqlite},
                                           {"mongodb", Backend::kMongodb},
                                           {"postgresql", Backend::kPostgresql}})},
        {"storage.sqlite.path", "SQLite database file", Text(&Draft::sqlite_path, NonEmpty)},
        {"storage.mongodb.uri", "MongoDB connection string (mongodb://...)",
         Text(&Draft::mongodb_uri, MongoUri), Secrecy::kUriPassword},
        {"storage.mongodb.database", "MongoDB database",
         Text(&Draft::mongodb_database, MongoDatabase)},
        {"storage.mongodb.collection", "MongoDB collection of repository documents",
         Text(&Draft::mongodb_collection, MongoCollection)},
        {"storage.postgresql.uri",
         "PostgreSQL connection URI (postgresql://...; several hosts with "
         "target_session_attrs=read-write for failover)",
         Text(&Draft::postgresql_uri, PostgresUri), Secrecy::kUriPassword},
        {"storage.postgresql.schema",
         "PostgreSQL schema of drec's tables; other registries use <schema>@<registry>",
         Text(&Draft::postgresql_schema, PostgresSchema)},
        {"retention.policy_file",
         "Retention policy served at /api/v1/retention/plan and in the dashboard (read at each "
         "request); empty: none",
         Text(&Draft::retention_policy_file)},
        {"storage.query_timeout_ms",
         "An API query not answered within this (waiting and running) gets 503",
         Millis(&Draft::query_timeout)},
        {"storage.check_timeout_ms",
         "/readyz answers 503 when the store check does not return within this",
         Millis(&Draft::check_timeout)},
        {"registries",
         "Registries served besides \"default\": each notifies {server.route}/<name> and has "
         "statistics of its own",
         List(&Draft::registries, RegistryName)},
        {"pipeline.queue_capacity", "Envelopes waiting to be committed; when full: 503",
         Positive(&Draft::queue_capacity)},
        {"pipeline.max_batch_events", "Most events committed together",
         Positive(&Draft::max_batch_events)},
        {"pipeline.retention_days", "Days event ids are remembered to drop registry retries",
         Positive(&Draft::retention_days)},
        {"pipeline.commit_timeout_ms",
         "An envelope not committed within this gets 503 (the registry retries; no double count)",
         Millis(&Draft::commit_timeout)},
        {"counting.on_delete", "On delete events: keep statistics, or remove the repository's",
         Choice<OnDelete>(&Draft::on_delete,
                          {{"keep", OnDelete::kKeep}, {"remove", OnDelete::kRemove}})},
        {"classes.default", "Traffic class of events no rule matches",
         Text(&Draft::default_class, ClassName)},
        {"classes.builtin_rules",
         "Apply the built-in traffic class rules (scanners, replication, CI, runtimes) after "
         "classes.rules",
         Bool(&Draft::builtin_class_rules)},
        {"classes.rules",
         "Traffic class rules, first match wins (YAML list; in variables and flags "
         "0.class=ci,0.useragent=kaniko,...)",
         ClassRules(&Draft::class_rules)},
        {"reload.watch_interval_ms",
         "How often the config file, auth.tokens_file and the TLS files are checked for changes "
         "to reload (SIGHUP reloads at once)",
         Millis(&Draft::reload_watch_interval)},
        {"log.level", "Least severe log level written",
         Choice<std::string>(&Draft::log_level, {{"trace", "trace"},
                                                 {"debug", "debug"},
                                                 {"info", "info"},
                                                 {"warn", "warn"},
                                                 {"error", "error"}})},
        {"log.format", "Log line format",
         Choice<LogFormat>(&Draft::log_format,
                           {{"text", LogFormat::kText}, {"json", LogFormat::kJson}})},
    };
    for (SettingDef& legacy : LegacySettings()) rows.push_back(std::move(legacy));
    return rows;
  }();
  return table;
}

const SettingDef* Find(std::string_view key) {
  for (const SettingDef& def : Table()) {
    if (def.key == key) return &def;
  }
  return nullptr;
}

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

Values ValuesFromText(const SettingDef& def, const std::string& text) {
  if (def.codec.shape == Shape::kList || def.codec.shape == Shape::kUsers ||
      def.codec.shape == Shape::kRules) {
    return SplitList(text);
  }
  return Values{text};
}

}  // namespace drec::config
