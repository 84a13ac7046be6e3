// libFuzzer target: a notification body through ParseEnvelope and then the pure event semantics,
// as the ingest endpoint does (src/api/ingest_endpoint.cpp). A crash, a sanitizer report or an
// exception is a finding, and so is a broken invariant of the output: every string an event
// holds is UTF-8 (the parser validated the body, so a cut inside a character is drec's doing,
// and stores such as PostgreSQL refuse it), and every event is either counted or ignored once.
// Build and run: fuzz/README.md.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ingest/envelope_parser.h"
#include "semantics/semantics.h"

namespace {

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
bool IsUtf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
      code = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      code = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      code = c & 0x07u;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0u) != 0x80u) return false;
      code = (code << 6) | (next & 0x3Fu);
    }
    if ((length == 3 && (code < 0x800 || (code >= 0xD800 && code <= 0xDFFF))) ||
        (length == 4 && (code < 0x10000 || code > 0x10FFFF))) {
      return false;
    }
    i += length;
  }
  return true;
}

// Stops the run with a message libFuzzer shows above its crash report.
[[noreturn]] void Finding(const char* what) {
  std::fprintf(stderr, "envelope_fuzzer: %s\n", what);
  std::abort();
}

void CheckUtf8(const drec::Event& event) {
  for (const std::string* text :
       {&event.id, &event.action, &event.media_type, &event.digest, &event.repository,
        &event.from_repository, &event.tag, &event.method, &event.user_agent, &event.client_addr,
        &event.source_addr, &event.actor}) {
    if (!IsUtf8(*text)) Finding("an event field is not UTF-8 (cut inside a character?)");
  }
  for (const std::string& reference : event.references) {
    if (!IsUtf8(reference)) Finding("a reference is not UTF-8");
  }
}

// The length of the JSON number at the start of `text` (RFC 8259 grammar), or 0.
std::size_t NumberLength(std::string_view text) {
  std::size_t i = 0;
  auto digits = [&] {
    const std::size_t from = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    return i - from;
  };
  if (i < text.size() && text[i] == '-') ++i;
  if (i < text.size() && text[i] == '0') {
    ++i;
  } else if (digits() == 0) {
    return 0;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (digits() == 0) return 0;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (digits() == 0) return 0;
  }
  return i;
}

bool IsNumberChar(char c) {
  return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
}

// `body` with every well-formed number outside strings written as 0, or "" when none changed.
// A body that parses only after this was refused for a number's value alone (a malformed number
// stays as it is, so its body stays invalid).
std::string NumbersZeroed(std::string_view body) {
  std::string out;
  bool changed = false;
  bool in_string = false;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < body.size()) {
        out += body[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    const bool starts = (c == '-' || (c >= '0' && c <= '9')) &&
                        (i == 0 || !(IsNumberChar(body[i - 1]) ||
                                     std::isalpha(static_cast<unsigned char>(body[i - 1]))));
    if (!starts) {
      in_string = c == '"';
      out += c;
      continue;
    }
    std::size_t end = i;
    while (end < body.size() && IsNumberChar(body[end])) ++end;
    const std::string_view run = body.substr(i, end - i);
    if (NumberLength(run) == run.size() && run != "0") {
      out += '0';
      changed = true;
    } else {
      out += run;
    }
    i = end - 1;
  }
  return changed ? out : std::string();
}

// DREC_FUZZ_NUMBERS=1: also a finding when a body is refused for the value of a number
// (SPEC section 1, issue 11 item 7: numbers the event model does not need never reject an
// envelope). Off by default until the parser's fix is merged: today's code fails it at once.
const bool kCheckNumbers = [] {
  const char* value = std::getenv("DREC_FUZZ_NUMBERS");
  return value != nullptr && std::string_view(value) == "1";
}();

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  try {
    auto envelope = drec::ParseEnvelope(body);
    if (!envelope.ok()) {
      if (kCheckNumbers) {
        const std::string zeroed = NumbersZeroed(body);
        if (!zeroed.empty() && drec::ParseEnvelope(zeroed).ok()) {
          std::fprintf(stderr, "envelope_fuzzer: ParseEnvelope: %s\n",
                       envelope.status().message().c_str());
          Finding("an envelope refused for the value of a number (DREC_FUZZ_NUMBERS)");
        }
      }
      return 0;
    }
    for (const drec::Event& event : envelope->events) CheckUtf8(event);
    for (const auto policy : {drec::DeletePolicy::kKeep, drec::DeletePolicy::kRemove}) {
      const drec::Interpretation result =
          drec::Interpret(envelope->events, policy, drec::DefaultClassifier());
      if (result.effects.size() + result.ignored.size() != envelope->events.size()) {
        Finding("events are neither counted nor ignored exactly once");
      }
      if (result.classes.size() > result.effects.size()) Finding("more classes than effects");
    }
  } catch (...) {  // drec's layers return Status; an exception escaping them is a finding
    Finding("exception escaped ParseEnvelope or Interpret");
  }
  return 0;
}
