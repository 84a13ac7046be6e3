#include "ingest/envelope_parser.h"

#include <simdjson.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <cmath>
#include <string>

namespace drec {
namespace {

namespace dom = simdjson::dom;

// Most references an index may list; real indexes list a few dozen platforms.
constexpr size_t kMaxReferences = 1024;
// How deep the fallback parser below nests, as deep as simdjson's DOM parser does.
constexpr std::size_t kMaxDepth = simdjson::DEFAULT_MAX_DEPTH;

std::string StringField(dom::object object, std::string_view key) {
  std::string_view value;
  if (object[key].get_string().get(value) != simdjson::SUCCESS) return {};
  return std::string(value);
}

dom::object ObjectField(dom::object object, std::string_view key) {
  dom::object value;
  if (object[key].get_object().get(value) != simdjson::SUCCESS) return {};
  return value;
}

bool HasObject(dom::object object, std::string_view key) {
  dom::object value;
  return object[key].get_object().get(value) == simdjson::SUCCESS;
}

Event ParseEvent(dom::element element) {
  Event event;
  dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS) return event;
  event.id = StringField(object, "id");
  event.action = StringField(object, "action");
  if (std::string_view ts; object["timestamp"].get_string().get(ts) == simdjson::SUCCESS) {
    event.timestamp = ParseRfc3339(ts);
  }
  if (HasObject(object, "target")) {
    dom::object target = ObjectField(object, "target");
    std::string_view media_type;
    event.has_media_type = target["mediaType"].get_string().get(media_type) == simdjson::SUCCESS;
    event.media_type = std::string(media_type);
    std::int64_t size = 0;
    if (target["size"].get_int64().get(size) == simdjson::SUCCESS) event.size = size;
    event.digest = StringField(target, "digest");
    event.repository = StringField(target, "repository");
    event.from_repository = StringField(target, "fromRepository");
    event.tag = StringField(target, "tag");
    dom::array references;
    if (target["references"].get_array().get(references) == simdjson::SUCCESS) {
      for (dom::element reference : references) {
        if (event.references.size() >= kMaxReferences) break;
        dom::object ref_object;
        if (reference.get_object().get(ref_object) != simdjson::SUCCESS) continue;
        std::string digest = StringField(ref_object, "digest");
        if (!digest.empty()) event.references.push_back(std::move(digest));
      }
    }
  }
  if (HasObject(object, "request")) {
    dom::object request = ObjectField(object, "request");
    event.method = StringField(request, "method");
    event.user_agent = StringField(request, "useragent");
    event.client_addr = StringField(request, "addr");
  }
  if (HasObject(object, "source")) {
    event.source_addr = StringField(ObjectField(object, "source"), "addr");
  }
  if (HasObject(object, "actor")) event.actor = StringField(ObjectField(object, "actor"), "name");
  return event;
}

// Replaces every number outside the 64-bit range (and any infinity it overflows to) with null.
void NullOutOfRangeNumbers(boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::double_: {
      // 2^63: the magnitude from which no int64 holds the value.
      constexpr double kLimit = 9223372036854775808.0;
      if (!std::isfinite(value.get_double()) || std::fabs(value.get_double()) >= kLimit) {
        value = nullptr;
      }
      break;
    }
    case boost::json::kind::array:
      for (boost::json::value& element : value.get_array()) NullOutOfRangeNumbers(element);
      break;
    case boost::json::kind::object:
      for (auto& member : value.get_object()) NullOutOfRangeNumbers(member.value());
      break;
    default:
      break;
  }
}

// The body again, with the numbers simdjson refuses as out of range made null, or an error when
// the body is not JSON for a reason other than such numbers. JSON sets no limit on a number's
// magnitude, and drec reads none that large (a size beyond 2^63 bytes is no size), so such a
// number must not cost the envelope; registries retry a refused one forever.
Result<std::string> WithoutOutOfRangeNumbers(std::string_view body) {
  boost::json::parse_options options;
  options.max_depth = kMaxDepth;
  boost::json::error_code error;
  boost::json::value value = boost::json::parse(body, error, {}, options);
  if (error) return Status::InvalidArgument("body is not JSON: " + error.message());
  NullOutOfRangeNumbers(value);
  return boost::json::serialize(value);
}

}  // namespace

bool IsAcceptedContentType(std::string_view content_type) {
  const auto semicolon = content_type.find(';');
  std::string_view media = content_type.substr(0, semicolon);
  while (!media.empty() && std::isspace(static_cast<unsigned char>(media.back()))) {
    media.remove_suffix(1);
  }
  while (!media.empty() && std::isspace(static_cast<unsigned char>(media.front()))) {
    media.remove_prefix(1);
  }
  std::string lower(media);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower == "application/vnd.docker.distribution.events.v1+json" ||
         lower == "application/vnd.docker.distribution.events.v2+json" ||
         lower == "application/json";
}

Result<Envelope> ParseEnvelope(std::string_view body) {
  // One parser per thread: it reuses its buffers, and the body limit bounds their size.
  thread_local dom::parser parser;
  dom::element root;
  auto error = parser.parse(body.data(), body.size()).get(root);
  // simdjson reports a number it cannot hold and a malformed one alike; the slower parser
  // tells them apart, on this rare path only.
  std::string normalised;
  if (error == simdjson::NUMBER_ERROR) {
    Result<std::string> rewritten = WithoutOutOfRangeNumbers(body);
    if (!rewritten.ok()) return rewritten.status();
    normalised = std::move(*rewritten);
    error = parser.parse(normalised.data(), normalised.size()).get(root);
  }
  if (error) {
    return Status::InvalidArgument(std::string("body is not JSON: ") +
                                   simdjson::error_message(error));
  }
  dom::object object;
  dom::array events;
  if (root.get_object().get(object) != simdjson::SUCCESS ||
      object["events"].get_array().get(events) != simdjson::SUCCESS) {
    return Status::InvalidArgument("body has no \"events\" array");
  }
  Envelope envelope;
  for (dom::element element : events) envelope.events.push_back(ParseEvent(element));
  return envelope;
}

}  // namespace drec
