// The typed form of one registry notification event (docs/counting.md#registry-events).
// Strings are owned copies: events outlive the request body they came from,
// because they wait in the commit queue.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/time.h"

namespace drec {

struct Event {
  std::string id;                       // UUID; identical on every retry of the same event
  std::optional<UnixMillis> timestamp;  // nullopt when absent or not RFC 3339
  std::string action;                   // push, pull, mount, delete, or anything a registry invents
  std::string media_type;               // target.mediaType; empty on deletes
  bool has_media_type = false;          // registry 3.x sends "" on deletes, 2.x omits the field
  std::int64_t size = 0;                // target.size
  std::string digest;                   // target.digest
  std::string repository;               // target.repository
  std::string from_repository;          // target.fromRepository (mount)
  std::string tag;                      // target.tag
  std::vector<std::string> references;  // target.references[].digest (children of an index)
  std::string method;                   // request.method; empty when not given
  std::string user_agent;               // request.useragent
  std::string client_addr;              // request.addr: the client, "ip:port" (or a forwarded ip)
  std::string source_addr;              // source.addr: the registry instance, "host:port"
  std::string actor;                    // actor.name; empty when anonymous
};

// One POST body: the events in the order the registry sent them.
struct Envelope {
  std::vector<Event> events;
};

}  // namespace drec
