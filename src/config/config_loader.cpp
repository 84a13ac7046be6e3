#include "config/config_loader.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <exception>
#include <string_view>
#include <utility>

#include "config/draft.h"
#include "config/effective_settings.h"
#include "config/env_source.h"
#include "config/flag_source.h"
#include "config/legacy_dial_info.h"
#include "config/setting_codecs.h"
#include "config/setting_table.h"
#include "config/yaml_source.h"
#include "util/read_file.h"
#include "util/text_parse.h"

namespace drec {
namespace {

using config::Draft;
using config::Invalid;
using config::Layer;
using config::Quote;

// 127.0.0.0/8, ::1 (also v4-mapped) and "localhost": only this host can connect.
bool IsLoopback(std::string_view address) {
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  if (AsciiLower(address) == "localhost") return true;
  const std::string text(address);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) != 1) return false;
  return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
}

// Parses the values of one source over draft, so a later source overrides an earlier one.
Status Apply(const Layer& layer, Draft& draft) {
  for (const auto& [legacy, current] : config::SameSettings()) {
    const auto a = layer.find(legacy);
    const auto b = layer.find(current);
    if (a != layer.end() && b != layer.end()) {
      return Status::InvalidArgument(std::string(legacy) + " (" + a->second.source + ") and " +
                                     std::string(current) + " (" + b->second.source +
                                     ") are the same setting: give one of them");
    }
  }
  for (const config::SettingDef& def : config::Table()) {
    const auto it = layer.find(def.key);
    if (it == layer.end()) continue;
    if (config::Problem problem = def.codec.parse(it->second.values, draft)) {
      return Invalid(def.key, *problem, it->second.source);
    }
    draft.origin[std::string(def.key)] = it->second.source;
  }
  return Status::Ok();
}

// A file setting drec reads later (a TLS file): fail now, naming the setting, not at first use.
Status CheckReadable(const Draft& d, std::string_view key, const std::string& path) {
  if (path.empty()) return Status::Ok();
  auto text = ReadFile(path);
  if (!text.ok()) {
    return Invalid(key, "cannot read " + Quote(path) + ": " + text.status().message(),
                   d.SourceOf(key));
  }
  return Status::Ok();
}

// The TLS settings fit together: a certificate with its key, no client CA over plain HTTP.
Status CheckTls(const Draft& d) {
  if (d.plain_http) {
    if (!d.tls_client_ca.empty()) {
      return Status::InvalidArgument(
          "server.ssl.client_ca: cannot be used with server.plain_http: true (from " +
          d.SourceOf("server.ssl.client_ca") + " and " + d.SourceOf("server.plain_http") + ")");
    }
    return Status::Ok();
  }
  if (d.tls_cert.empty() != d.tls_key.empty()) {
    const bool has_cert = !d.tls_cert.empty();
    const std::string_view given = has_cert ? "server.ssl.cert" : "server.ssl.cert_key";
    const std::string_view missing = has_cert ? "server.ssl.cert_key" : "server.ssl.cert";
    return Invalid(given, "needs " + std::string(missing) + "; give both or neither",
                   d.SourceOf(given));
  }
  for (const auto& [key, path] :
       {std::pair{"server.ssl.cert", &d.tls_cert}, std::pair{"server.ssl.cert_key", &d.tls_key},
        std::pair{"server.ssl.client_ca", &d.tls_client_ca}}) {
    if (Status status = CheckReadable(d, key, *path); !status.ok()) return status;
  }
  return Status::Ok();
}

// auth.tokens_file: one token a line, so a Kubernetes Secret or a systemd credential can hold
// them; blank lines and # comments are skipped, and what it holds adds to auth.tokens.
Status ReadTokensFile(Draft& d) {
  if (d.tokens_file.empty()) return Status::Ok();
  auto text = ReadFile(d.tokens_file);
  if (!text.ok()) {
    return Invalid("auth.tokens_file",
                   "cannot read " + Quote(d.tokens_file) + ": " + text.status().message(),
                   d.SourceOf("auth.tokens_file"));
  }
  std::string_view rest = *text;
  while (!rest.empty()) {
    const std::size_t end = rest.find('\n');
    const std::string_view token = Trim(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (!token.empty() && !token.starts_with('#')) d.tokens.emplace_back(token);
  }
  return Status::Ok();
}

// The PostgreSQL store needs a server, and a schema name per registry that PostgreSQL keeps
// whole (docs/postgresql.md).
Status CheckPostgres(const Draft& d) {
  if (d.backend != Backend::kPostgresql) return Status::Ok();
  if (d.postgresql_uri.empty()) {
    return Invalid("storage.postgresql.uri", "is needed with storage.backend postgresql",
                   d.SourceOf("storage.backend"));
  }
  for (const std::string& registry : d.registries) {
    if (d.postgresql_schema.size() + 1 + registry.size() > config::kMaxPostgresSchemaBytes) {
      return Invalid("registries",
                     Quote(registry) + " makes the schema name " +
                         Quote(d.postgresql_schema + "@" + registry) + " longer than " +
                         std::to_string(config::kMaxPostgresSchemaBytes) +
                         " bytes; shorten it or storage.postgresql.schema",
                     d.SourceOf("registries"));
    }
  }
  return Status::Ok();
}

// A body of server.max_body_bytes must fit the bytes in flight, or the largest accepted bodies
// would always be refused with 503.
Status CheckServerLimits(const Draft& d) {
  if (d.max_buffered_bytes < d.max_body_bytes) {
    return Invalid(
        "server.max_buffered_bytes",
        "must be at least server.max_body_bytes (" + std::to_string(d.max_body_bytes) + ")",
        d.SourceOf("server.max_buffered_bytes"));
  }
  return Status::Ok();
}

// Rules that involve several settings, applied once every source is merged.
Status Finish(Draft& d) {
  if (Status status = CheckServerLimits(d); !status.ok()) return status;
  if (Status status = CheckPostgres(d); !status.ok()) return status;
  if (Status status = config::ApplyDialInfo(d); !status.ok()) return status;
  if (Status status = CheckTls(d); !status.ok()) return status;
  if (Status status = ReadTokensFile(d); !status.ok()) return status;
  if (d.anonymous() && !d.allow_anonymous && !IsLoopback(d.address)) {
    return Status::InvalidArgument(
        "auth.tokens: no credentials are configured (auth.tokens, auth.basic) and server.address " +
        Quote(d.address) + " (from " + d.SourceOf("server.address") +
        ") is not a loopback address; configure credentials, or set auth.allow_anonymous: true "
        "to accept anyone");
  }
  return Status::Ok();
}

Result<LoadOutcome> Load(int argc, const char* const* argv,
                         const std::map<std::string, std::string>& env) {
  auto parsed = config::ParseCommandLine(argc, argv);
  if (!parsed.ok()) return parsed.status();
  if (auto* exit = std::get_if<EarlyExit>(&*parsed)) return LoadOutcome{std::move(*exit)};
  const config::CommandLine& line = std::get<config::CommandLine>(*parsed);

  const std::string config_path =
      line.config_path.empty() ? config::ConfigFileFromEnv(env) : line.config_path;
  Draft draft;
  draft.config_file = config_path;
  if (!config_path.empty()) {
    auto file = config::ReadConfigFile(config_path);
    if (!file.ok()) return file.status();
    if (Status status = Apply(*file, draft); !status.ok()) return status;
  }
  if (Status status = Apply(config::EnvLayer(env), draft); !status.ok()) return status;
  if (Status status = Apply(line.flags, draft); !status.ok()) return status;
  if (Status status = Finish(draft); !status.ok()) return status;
  if (line.check_config) return LoadOutcome{EarlyExit{config::DescribeSettings(draft), 0}};
  return LoadOutcome{Settings(std::move(draft))};
}

}  // namespace

Result<LoadOutcome> LoadSettings(int argc, const char* const* argv,
                                 const std::map<std::string, std::string>& env) {
  try {
    return Load(argc, argv, env);
  } catch (const std::exception& e) {  // a last resort: the sources turn their throws to Status
    return Status::Internal(std::string("loading settings: ") + e.what());
  }
}

}  // namespace drec
