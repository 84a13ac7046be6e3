#include "backfill/registry_log.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>

#include "util/time.h"

namespace drec::backfill {
namespace {

constexpr std::string_view kCompleted = "response completed";

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A Go-quoted value (logrus quotes values with %q): the common escapes are decoded, any other is
// kept as written, which no field drec reads contains. `pos` is at the opening quote; returns
// false when the quote never closes.
bool ReadQuoted(std::string_view line, std::size_t& pos, std::string& out) {
  ++pos;
  while (pos < line.size()) {
    const char c = line[pos++];
    if (c == '"') return true;
    if (c != '\\' || pos >= line.size()) {
      out.push_back(c);
      continue;
    }
    const char e = line[pos++];
    switch (e) {
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case '"':
      case '\\':
        out.push_back(e);
        break;
      default:
        out.push_back('\\');
        out.push_back(e);
    }
  }
  return false;
}

std::optional<LogFields> ParseText(std::string_view line) {
  LogFields fields;
  std::size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && IsSpace(line[pos])) ++pos;
    if (pos >= line.size()) break;
    const std::size_t eq = line.find('=', pos);
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view key = line.substr(pos, eq - pos);
    if (key.empty() || key.find_first_of(" \t\"") != std::string_view::npos) return std::nullopt;
    pos = eq + 1;
    std::string value;
    if (pos < line.size() && line[pos] == '"') {
      if (!ReadQuoted(line, pos, value)) return std::nullopt;
    } else {
      const std::size_t end = std::min(line.size(), line.find(' ', pos));
      value = std::string(line.substr(pos, end - pos));
      pos = end;
    }
    fields.insert_or_assign(std::string(key), std::move(value));
  }
  return fields;
}

std::optional<LogFields> ParseJson(std::string_view line) {
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(line, ec);
  if (ec || !value.is_object()) return std::nullopt;
  LogFields fields;
  for (const auto& [key, item] : value.get_object()) {
    if (item.is_string()) {
      fields.emplace(std::string(key), std::string(item.get_string()));
    } else if (item.is_number() || item.is_bool()) {
      fields.emplace(std::string(key), boost::json::serialize(item));
    }
  }
  return fields;
}

std::string_view Field(const LogFields& fields, std::string_view key) {
  const auto it = fields.find(key);
  return it == fields.end() ? std::string_view() : std::string_view(it->second);
}

// %XX decoded; a malformed escape is kept as written.
std::string PercentDecoded(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
        HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// The media type without parameters ("; charset=...").
std::string BareMediaType(std::string_view value) {
  value = value.substr(0, value.find(';'));
  while (!value.empty() && IsSpace(value.back())) value.remove_suffix(1);
  return std::string(value);
}

std::optional<std::int64_t> Integer(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// "<alg>/<hex>" at the start of `rest`, up to "/link", as "<alg>:<hex>".
std::optional<std::string> LinkDigest(std::string_view rest) {
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  const std::size_t end = rest.find("/link", slash);
  if (end == std::string_view::npos || end == slash + 1) return std::nullopt;
  const std::string_view hex = rest.substr(slash + 1, end - slash - 1);
  if (hex.find('/') != std::string_view::npos) return std::nullopt;
  return std::string(rest.substr(0, slash)) + ":" + std::string(hex);
}

std::string TagKey(std::string_view repository, std::string_view tag) {
  std::string key(repository);
  key.push_back('\n');
  key.append(tag);
  return key;
}

}  // namespace

std::optional<LogFields> ParseLogLine(std::string_view line, LogFormat format) {
  while (!line.empty() && IsSpace(line.back())) line.remove_suffix(1);
  while (!line.empty() && IsSpace(line.front())) line.remove_prefix(1);
  if (line.empty()) return std::nullopt;
  const bool json = format == LogFormat::kJson || (format == LogFormat::kAuto && line[0] == '{');
  std::optional<LogFields> fields = json ? ParseJson(line) : ParseText(line);
  if (!fields || !fields->contains("time") || !fields->contains("msg")) return std::nullopt;
  return fields;
}

std::optional<ManifestRequest> CompletedManifestRequest(const LogFields& fields) {
  if (Field(fields, "msg") != kCompleted) return std::nullopt;
  const auto status = Integer(Field(fields, "http.response.status"));
  if (!status || *status < 200 || *status > 299) return std::nullopt;
  const std::string_view method = Field(fields, "http.request.method");
  const char* action = nullptr;
  if (method == "GET" || method == "HEAD") {
    action = "pull";
  } else if (method == "PUT") {
    action = "push";
  } else if (method == "DELETE") {
    action = "delete";
  } else {
    return std::nullopt;
  }
  std::string_view path = Field(fields, "http.request.uri");
  path = path.substr(0, path.find('?'));
  constexpr std::string_view kPrefix = "/v2/";
  constexpr std::string_view kManifests = "/manifests/";
  if (!path.starts_with(kPrefix)) return std::nullopt;
  const std::size_t at = path.rfind(kManifests);
  if (at == std::string_view::npos || at <= kPrefix.size() - 1) return std::nullopt;
  const std::string repository = PercentDecoded(path.substr(kPrefix.size(), at - kPrefix.size()));
  const std::string reference = PercentDecoded(path.substr(at + kManifests.size()));
  if (repository.empty() || reference.empty() || reference.find('/') != std::string::npos) {
    return std::nullopt;
  }

  ManifestRequest request;
  request.request_id = std::string(Field(fields, "http.request.id"));
  request.reference = reference;
  Event& event = request.event;
  if (!request.request_id.empty()) {
    event.id = std::string(kEventIdPrefix) + request.request_id;
  }
  event.timestamp = ParseRfc3339(Field(fields, "time"));
  event.action = action;
  event.method = std::string(method);
  event.repository = repository;
  if (reference.find(':') != std::string::npos) {
    event.digest = reference;
  } else {
    event.tag = reference;
  }
  if (method == "PUT") {
    event.media_type = BareMediaType(Field(fields, "http.request.contenttype"));
  } else if (method != "DELETE") {
    event.media_type = BareMediaType(Field(fields, "http.response.contenttype"));
  }
  event.has_media_type = !event.media_type.empty();
  if (method == "GET") event.size = Integer(Field(fields, "http.response.written")).value_or(0);
  event.user_agent = std::string(Field(fields, "http.request.useragent"));
  event.client_addr = std::string(Field(fields, "http.request.remoteaddr"));
  event.actor = std::string(Field(fields, "auth.user.name"));
  return request;
}

std::optional<DigestHint> DigestHintOf(const LogFields& fields) {
  const std::string_view id = Field(fields, "http.request.id");
  const std::string_view msg = Field(fields, "msg");
  if (id.empty() || msg.find("/_manifests/") == std::string_view::npos) return std::nullopt;
  // The storage driver's trace: `<driver>.<Operation>("<path>")`.
  const std::size_t open = msg.find("(\"");
  if (open == std::string_view::npos) return std::nullopt;
  const std::string_view operation = msg.substr(0, open);
  const std::string_view path = msg.substr(open + 2);
  if (operation.ends_with(".PutContent")) {
    constexpr std::string_view kTags = "/_manifests/tags/";
    const std::size_t tags = path.find(kTags);
    if (tags == std::string_view::npos) return std::nullopt;
    const std::size_t index = path.find("/index/", tags + kTags.size());
    if (index == std::string_view::npos) return std::nullopt;
    if (auto digest = LinkDigest(path.substr(index + 7))) {
      return DigestHint{std::string(id), std::move(*digest), true};
    }
    return std::nullopt;
  }
  if (operation.ends_with(".GetContent")) {
    constexpr std::string_view kRevisions = "/_manifests/revisions/";
    const std::size_t revisions = path.find(kRevisions);
    if (revisions == std::string_view::npos) return std::nullopt;
    if (auto digest = LinkDigest(path.substr(revisions + kRevisions.size()))) {
      return DigestHint{std::string(id), std::move(*digest), false};
    }
  }
  return std::nullopt;
}

std::optional<Event> LogReader::Feed(std::string_view line) {
  std::optional<LogFields> fields = ParseLogLine(line, format_);
  last_structured_ = fields.has_value();
  if (!fields) return std::nullopt;
  if (auto time = ParseRfc3339(Field(*fields, "time"))) first_time_ = Earliest(first_time_, time);

  std::optional<ManifestRequest> request = CompletedManifestRequest(*fields);
  if (!request) {
    // A line of a request in progress: what it tells is kept until the request completes.
    std::optional<DigestHint> hint = DigestHintOf(*fields);
    const std::string_view actor = Field(*fields, "auth.user.name");
    const std::string_view id = Field(*fields, "http.request.id");
    if (id.empty() || (!hint && actor.empty())) return std::nullopt;
    auto it = hints_.find(id);
    if (it == hints_.end()) {
      if (hints_.size() >= kMaxPendingRequests) hints_.erase(hints_.begin());
      it = hints_.emplace(std::string(id), Pending{}).first;
    }
    Pending& pending = it->second;
    if (hint && (pending.digest.empty() || (hint->definite && !pending.definite))) {
      pending.digest = std::move(hint->digest);
      pending.definite = hint->definite;
    }
    if (!actor.empty()) pending.actor = std::string(actor);
    return std::nullopt;
  }
  Event& event = request->event;
  std::optional<std::string> hinted;
  if (auto it = hints_.find(request->request_id); it != hints_.end()) {
    if (!it->second.digest.empty()) hinted = std::move(it->second.digest);
    // Registry 2.x names the user on the request's later lines, not on "response completed".
    if (event.actor.empty()) event.actor = std::move(it->second.actor);
    hints_.erase(it);
  }
  if (!event.tag.empty() && event.digest.empty()) {
    if (hinted) {
      event.digest = std::move(*hinted);
    } else if (event.action == "pull") {
      if (auto known = tags_.find(TagKey(event.repository, event.tag)); known != tags_.end()) {
        event.digest = known->second;
      }
    }
  }
  Remember(event);
  return std::move(event);
}

void LogReader::Remember(const Event& event) {
  if (event.action == "delete") {
    if (!event.tag.empty()) tags_.erase(TagKey(event.repository, event.tag));
    if (event.digest.empty()) return;
    // Deleting a manifest untags every tag that pointed at it.
    const std::string prefix = TagKey(event.repository, "");
    for (auto it = tags_.lower_bound(prefix); it != tags_.end() && it->first.starts_with(prefix);) {
      it = it->second == event.digest ? tags_.erase(it) : std::next(it);
    }
    return;
  }
  if (event.tag.empty()) return;
  if (event.digest.empty()) {
    // A push whose digest the log does not tell: what the tag pointed at before is stale.
    if (event.action == "push") tags_.erase(TagKey(event.repository, event.tag));
    return;
  }
  tags_.insert_or_assign(TagKey(event.repository, event.tag), event.digest);
}

}  // namespace drec::backfill
