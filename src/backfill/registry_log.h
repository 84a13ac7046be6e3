// Turns a CNCF Distribution registry's own log (2.x and 3.x, logrus text or JSON) into the events
// its notifications would have carried (docs/backfill.md). Pure code: lines in, events out; the
// caller reads the files and applies the events.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "ingest/event.h"

namespace drec::backfill {

// The log formats of the registry's `log.formatter`: logrus's text (key=value) or JSON. kAuto
// decides per line (a line that starts with `{` is JSON).
enum class LogFormat { kAuto, kText, kJson };

// Prefix of every event id made from a log line: "backfill:" + http.request.id. The registry logs
// that id with every line of the request, so the same line always gives the same id.
inline constexpr std::string_view kEventIdPrefix = "backfill:";

// The fields of one structured log line: key to value, numbers as their text. nullopt for a line
// that is not a structured log line of the given format (access log lines, stack traces), and
// for a line without `time` and `msg`.
using LogFields = std::map<std::string, std::string, std::less<>>;
std::optional<LogFields> ParseLogLine(std::string_view line, LogFormat format);

// What a "response completed" line says of a manifest request.
struct ManifestRequest {
  std::string request_id;  // http.request.id
  std::string reference;   // tag or digest, from the URI
  Event event;             // digest empty when the request named a tag and nothing told it
};

// The manifest request a "response completed" line completes, when it is a GET, HEAD, PUT or
// DELETE of /v2/<name>/manifests/<reference> that succeeded (2xx), with its time, id and client.
// nullopt for every other line.
std::optional<ManifestRequest> CompletedManifestRequest(const LogFields& fields);

// The manifest digest that one of a request's debug lines shows, when it shows one: registry 2.x
// at `log.level: debug` traces every storage access, and the path of a tag's index link
// (written by a PUT by tag) or of the first revision link a GET or HEAD reads names the digest.
struct DigestHint {
  std::string request_id;
  std::string digest;
  bool definite = false;  // the tag's own index link: overrides any earlier hint
};
std::optional<DigestHint> DigestHintOf(const LogFields& fields);

// Reads a log line by line and gives the events of its completed manifest requests, with the
// digest of requests by tag filled in where the log tells it: from the request's own debug lines,
// else from what the log said the tag pointed at before (a PUT or a resolved GET of the tag). The
// user comes from the request's other lines when "response completed" does not name it (2.x).
// Holds no more than kMaxPendingRequests requests' hints, so a log of requests that never
// complete cannot grow it without bound.
class LogReader {
 public:
  explicit LogReader(LogFormat format) : format_(format) {}

  // What one line gives: the event of a completed manifest request, or nullopt.
  std::optional<Event> Feed(std::string_view line);

  // True when the last Feed parsed a structured log line (of any message).
  bool last_line_structured() const { return last_structured_; }
  // The time of the earliest structured line with a valid time so far.
  std::optional<UnixMillis> first_time() const { return first_time_; }

  static constexpr std::size_t kMaxPendingRequests = 4096;

 private:
  void Remember(const Event& event);

  LogFormat format_;
  bool last_structured_ = false;
  std::optional<UnixMillis> first_time_;
  // What the lines of a request in progress told: its manifest digest, its user.
  struct Pending {
    std::string digest;
    bool definite = false;
    std::string actor;
  };
  std::map<std::string, Pending, std::less<>> hints_;  // by request id
  // repository + '\n' + tag -> the digest the log last said it pointed at ("" = unknown since a
  // PUT or delete the log could not resolve).
  std::map<std::string, std::string, std::less<>> tags_;
};

}  // namespace drec::backfill
